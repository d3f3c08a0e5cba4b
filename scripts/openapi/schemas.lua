--- Builds the fake server's validation table (fakeserver/voucherify/fake/
-- openapi_schemas.lua) from the OpenAPI spec: each operation's path and query
-- parameters, request body schema and response schemas, and the component
-- schemas they reach, reduced to the keywords voucherify.fake.schema checks.
-- @module scripts.openapi.schemas

local loader = require "loader"
local overrides = require "overrides"
local serialize = require "serialize"

local schemas = {}

-- the keywords the validator reads (descriptions and examples are dropped);
-- `pattern` is left out: it is an ECMA regex, not a Lua pattern
local KEEP = { type = true, enum = true, nullable = true, minimum = true, maximum = true,
  exclusiveMinimum = true, exclusiveMaximum = true, minLength = true, maxLength = true, format = true,
  minItems = true, maxItems = true, required = true }
local SUB = { items = true, additionalProperties = true }
local SUBLIST = { allOf = true, oneOf = true, anyOf = true }

--- The schema node reduced to what the validator checks; `$ref` becomes
-- `{ ref = "Name" }` (a component of the table's `schemas`).
function schemas.compact(node)
  if type(node) ~= "table" then return node end
  if node["$ref"] then
    local out = { ref = assert(loader.ref_name(node["$ref"]), node["$ref"]) }
    if node.nullable then out.nullable = true end
    return out
  end
  local out = {}
  for k, v in pairs(node) do
    if KEEP[k] then
      if type(v) == "table" then
        local copy = {}
        for i, x in ipairs(v) do copy[i] = x end
        v = copy
      end
      out[k] = v
    elseif SUB[k] then
      out[k] = schemas.compact(v)
    elseif SUBLIST[k] then
      local list = {}
      for i, s in ipairs(v) do list[i] = schemas.compact(s) end
      out[k] = list
    elseif k == "properties" then
      local props = {}
      for name, s in pairs(v) do props[name] = schemas.compact(s) end
      out.properties = props
    end
  end
  return out
end

--- The route key the fake server's router uses: method and path with every
-- `{param}` written `{}` ("GET /v1/orders/{}").
function schemas.route_key(method, path)
  return method .. " " .. path:gsub("{[^}]+}", "{}")
end

--- The table, as Lua data.
function schemas.build(spec)
  local ops, roots = {}, {}
  for _, op in ipairs(spec:operations()) do
    local entry = { id = op.id, method = op.method, path = op.path, query = {}, path_params = {},
      responses = {} }
    for _, p in ipairs(op.parameters) do
      local param = { name = p.name, required = p.required == true or nil, schema = schemas.compact(p.schema),
        style = p.style }
      if p["in"] == "query" then entry.query[#entry.query + 1] = param
      elseif p["in"] == "path" then entry.path_params[#entry.path_params + 1] = param end
      roots[#roots + 1] = p.schema
    end
    if op.body then
      entry.body = schemas.compact(op.body)
      entry.body_kind = op.body_kind
      entry.body_required = op.body_required or nil
      roots[#roots + 1] = op.body
    end
    for status, r in pairs(op.responses) do
      entry.responses[status] = { kind = r.kind or "none", schema = r.schema and schemas.compact(r.schema) }
      roots[#roots + 1] = r.schema
    end
    ops[#ops + 1] = entry
  end
  -- errors the spec does not list per operation (401, 429, ...) are still this shape
  roots[#roots + 1] = { ["$ref"] = "#/components/schemas/Error" }
  local comps = {}
  for _, name in ipairs(spec:reachable(roots)) do comps[name] = schemas.compact(spec.schemas[name]) end
  for _, o in ipairs(overrides) do
    local parent, key, node = comps, o.schema, comps[o.schema]
    for _, k in ipairs(o.path) do parent, key, node = node, k, node and node[k] end
    assert(node, ("override of a node the table does not have: %s.%s"):format(o.schema, table.concat(o.path, ".")))
    if o.any_of then parent[key] = { anyOf = { node, o.any_of } } end
    for k, v in pairs(o.set or {}) do node[k] = v end
  end
  -- the router's index: one operation per route key; the export download
  -- (text/plain, on the download host) shares its key with get-export
  local routes = {}
  for i, e in ipairs(ops) do
    local k = schemas.route_key(e.method, e.path)
    local ok200 = e.responses["200"]
    if not routes[k] or (ok200 and ok200.kind == "json") then routes[k] = i end
  end
  return { operations = ops, routes = routes, schemas = comps, error_schema = { ref = "Error" } }
end

-- One operation or component per line: a change to one shows as one line,
-- and the schemas the spec repeats do not make repeated blocks of lines.
local function layout(data, null)
  local function one(v) return serialize.value(v, "", null, math.huge) end
  local out = { "{", "  error_schema = " .. one(data.error_schema) .. ",", "  operations = {" }
  for _, op in ipairs(data.operations) do out[#out + 1] = "    " .. one(op) .. "," end
  out[#out + 1] = "  },"
  out[#out + 1] = "  routes = " .. one(data.routes) .. ","
  out[#out + 1] = "  schemas = {"
  for _, name in ipairs(loader.sorted_keys(data.schemas)) do
    out[#out + 1] = ("    [%q] = %s,"):format(name, one(data.schemas[name]))
  end
  out[#out + 1] = "  },"
  out[#out + 1] = "}"
  return table.concat(out, "\n")
end

--- The generated module's source.
function schemas.source(spec, source_name)
  local data = schemas.build(spec)
  local info = spec.doc.info or {}
  return table.concat({
    "--- The OpenAPI contract as data for voucherify.fake.schema: each operation's",
    "-- parameters, request body and response schemas, and the component schemas",
    "-- they use.  GENERATED by scripts/openapi/generate.lua (`make types`) from",
    ("-- %s (%s %s): do not edit."):format(source_name, tostring(info.title), tostring(info.version)),
    "-- @module voucherify.fake.openapi_schemas",
    "",
    "-- luacheck: no max line length",
    "local null = require(\"voucherify.json\").null -- luacheck: ignore",
    "",
    "return " .. layout(data, spec.null),
    "",
  }, "\n")
end

return schemas
