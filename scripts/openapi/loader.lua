--- A small OpenAPI 3.0 loader shared by the generators (`make types`): reads
-- the JSON with the project's own decoder (or lua-cjson when the C core is not
-- built), resolves `$ref`, and lists the operations with their parameters,
-- request body and response schemas.
-- @module scripts.openapi.loader

local loader = {}

local METHODS = { "get", "put", "post", "delete", "patch" }

local function decoder()
  local ok, json = pcall(require, "voucherify.json")
  if ok and json.codec == "voucherify.core" then return json.decode, json.null end
  local cjson = require "cjson"
  return cjson.decode, cjson.null
end

--- Keys of `t` in sorted order (generated files must not depend on hash order).
function loader.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local Spec = {}
Spec.__index = Spec

--- Reads and decodes an OpenAPI JSON file.
-- @tparam string path
-- @return the spec object (`doc`, `schemas`, `null`, methods below)
function loader.load(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local decode, null = decoder()
  local doc = assert(decode(text))
  return setmetatable({ doc = doc, schemas = doc.components.schemas, null = null }, Spec)
end

--- The component name a `$ref` names ("#/components/schemas/Order" -> "Order").
function loader.ref_name(ref)
  return (ref:match("^#/components/schemas/(.+)$"))
end

--- Follows a `$ref` ("#/components/...") to the object it names.
function Spec:resolve(node)
  local seen = 0
  while type(node) == "table" and node["$ref"] do
    local target = self.doc
    for part in node["$ref"]:gsub("^#/", ""):gmatch("[^/]+") do
      target = target[part:gsub("~1", "/"):gsub("~0", "~")]
      assert(target ~= nil, "unresolved $ref " .. node["$ref"])
    end
    node = target
    seen = seen + 1
    assert(seen < 50, "$ref cycle")
  end
  return node
end

-- the JSON schema of a content map, preferring JSON
local function content_schema(content)
  if type(content) ~= "table" then return nil end
  local c = content["application/json"] or content["multipart/form-data"]
  if c then return c.schema, content["application/json"] and "json" or "multipart" end
  local kind, v = next(content)
  if kind then return v.schema, kind end
  return nil
end

--- Every operation, sorted by path then method: `{ method = "POST", path =
-- "/v1/orders", id = "create-order", parameters = {...resolved...}, body =
-- schema | nil, body_kind = "json" | "multipart", body_required = bool,
-- responses = { ["200"] = { schema = ..., kind = ... } } }`.
function Spec:operations()
  local ops = {}
  for _, path in ipairs(loader.sorted_keys(self.doc.paths)) do
    local item = self.doc.paths[path]
    for _, m in ipairs(METHODS) do
      local op = item[m]
      if op then
        local params, by_key = {}, {}
        for _, list in ipairs({ item.parameters or {}, op.parameters or {} }) do
          for _, p in ipairs(list) do
            p = self:resolve(p)
            local key = p["in"] .. ":" .. p.name
            if by_key[key] then params[by_key[key]] = p
            else
              params[#params + 1] = p
              by_key[key] = #params
            end
          end
        end
        local body, body_kind, body_required
        if op.requestBody then
          local rb = self:resolve(op.requestBody)
          body, body_kind = content_schema(rb.content)
          body_required = rb.required == true
        end
        local responses = {}
        for status, r in pairs(op.responses or {}) do
          r = self:resolve(r)
          local schema, kind = content_schema(r.content)
          responses[tostring(status)] = { schema = schema, kind = kind, description = r.description }
        end
        ops[#ops + 1] = { method = m:upper(), path = path, id = op.operationId, summary = op.summary,
          parameters = params, body = body, body_kind = body_kind, body_required = body_required,
          responses = responses }
      end
    end
  end
  return ops
end

--- The names of the component schemas reachable from `roots` (schemas or
-- lists of schemas), sorted.
function Spec:reachable(roots)
  local seen = {}
  local function walk(node)
    if type(node) ~= "table" then return end
    local ref = node["$ref"]
    if type(ref) == "string" then
      local name = loader.ref_name(ref)
      if name and not seen[name] then
        seen[name] = true
        walk(self.schemas[name])
      end
      return
    end
    for k, v in pairs(node) do
      if k ~= "example" and k ~= "examples" and k ~= "default" then walk(v) end
    end
  end
  walk(roots)
  return loader.sorted_keys(seen)
end

return loader
