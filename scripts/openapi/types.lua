--- Generates LuaCATS annotations (lua-language-server) from the OpenAPI spec:
-- a `---@class` per component schema the client's operations take or return
-- (fields typed, enums as string-literal unions, descriptions as comments),
-- and the library's own API from a template whose `{{...}}` placeholders name
-- operations (scripts/openapi/library.lua.in).
-- @module scripts.openapi.types

local loader = require "loader"

local types = {}

local PREFIX = "voucherify."

--- The class name of a component schema ("Order" -> "voucherify.Order").
function types.class_name(component)
  local name = component:gsub("[^%w_]", "_")
  if name:match("^%d") then name = "S" .. name end
  return PREFIX .. name
end

local function one_line(text, limit)
  if type(text) ~= "string" then return nil end
  text = text:gsub("<[^>]+>", " "):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  if text == "" then return nil end
  limit = limit or 240
  if #text > limit then
    -- cut at a UTF-8 character boundary
    local cut = limit
    while cut > 1 and text:byte(cut + 1) and text:byte(cut + 1) >= 0x80 and text:byte(cut + 1) < 0xC0 do
      cut = cut - 1
    end
    text = text:sub(1, cut) .. "..."
  end
  return text
end

local function field_name(name)
  if name:match("^[%a_][%w_]*$") then return name end
  return ("[%q]"):format(name)
end

local function literal(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return nil
end

local Gen = {}
Gen.__index = Gen

local function is_objectish(node)
  return type(node) == "table" and (node.properties ~= nil or node.type == "object" or node.allOf ~= nil)
    and not node.enum
end

-- the members of an allOf tree: parent class names, properties and required names
function Gen:flatten(node, parents, props, required)
  if node["$ref"] then
    parents[#parents + 1] = types.class_name(loader.ref_name(node["$ref"]))
    return
  end
  for _, member in ipairs(node.allOf or {}) do self:flatten(member, parents, props, required) end
  for name, s in pairs(node.properties or {}) do props[name] = s end
  for _, r in ipairs(node.required or {}) do required[r] = true end
end

--- A LuaCATS type expression for `node`; inline objects become classes named
-- `hint` (queued for output).
function Gen:type_of(node, hint)
  if type(node) ~= "table" then return "any" end
  local t
  if node["$ref"] then
    t = types.class_name(loader.ref_name(node["$ref"]))
  elseif node.allOf and #node.allOf == 1 and not node.properties then
    t = self:type_of(node.allOf[1], hint)
  elseif node.oneOf or node.anyOf then
    local seen, parts = {}, {}
    for i, s in ipairs(node.oneOf or node.anyOf) do
      local p = self:type_of(s, hint .. "_" .. i)
      if not seen[p] then
        seen[p] = true
        parts[#parts + 1] = p
      end
    end
    t = table.concat(parts, "|")
  elseif node.enum then
    local parts = {}
    for _, v in ipairs(node.enum) do parts[#parts + 1] = literal(v) end
    t = #parts > 0 and table.concat(parts, "|") or "string"
  elseif node.type == "array" then
    local inner = self:type_of(node.items, hint .. "_item")
    if inner:find("|", 1, true) then inner = "(" .. inner .. ")" end
    t = inner .. "[]"
  elseif node.properties or node.allOf then
    self:queue(hint, node)
    t = hint
  elseif node.type == "object" then
    if type(node.additionalProperties) == "table" then
      t = ("table<string, %s>"):format(self:type_of(node.additionalProperties, hint .. "_value"))
    else
      t = "table<string, any>"
    end
  elseif node.type == "string" then t = "string"
  elseif node.type == "integer" then t = "integer"
  elseif node.type == "number" then t = "number"
  elseif node.type == "boolean" then t = "boolean"
  else t = "any" end
  if node.nullable and t ~= "any" then t = t .. "|voucherify.null" end
  return t
end

function Gen:queue(name, node)
  if self.queued[name] then return end
  self.queued[name] = true
  self.pending[#self.pending + 1] = { name = name, node = node }
end

function Gen:emit_class(name, node)
  local out = self.out
  local parents, props, required = {}, {}, {}
  self:flatten(node, parents, props, required)
  out[#out + 1] = ""
  local desc = one_line(node.description or node.title)
  if desc then out[#out + 1] = "--- " .. desc end
  out[#out + 1] = ("---@class %s%s"):format(name, #parents > 0 and (": " .. table.concat(parents, ", ")) or "")
  for _, pname in ipairs(loader.sorted_keys(props)) do
    local s = props[pname]
    local resolved = s["$ref"] and self.spec:resolve(s) or s
    local t = self:type_of(s, name .. "." .. pname:gsub("[^%w_]", "_"))
    local fdesc = one_line(s.description or resolved.description, 200)
    local fname, optional = field_name(pname), not required[pname]
    -- `["a.b"]?` is not LuaCATS: an optional quoted name takes `|nil` instead
    if optional and fname:sub(1, 1) == "[" then t, optional = t .. "|nil", false end
    out[#out + 1] = ("---@field %s%s %s%s"):format(fname, optional and "?" or "", t, fdesc and (" " .. fdesc) or "")
  end
  self.classes[name] = props
end

--- The shapes file: every component reachable from the operations (and Error).
function types.shapes(spec)
  local self = setmetatable({ spec = spec, out = {}, pending = {}, queued = {}, classes = {} }, Gen)
  local roots = { { ["$ref"] = "#/components/schemas/Error" } }
  for _, op in ipairs(spec:operations()) do
    roots[#roots + 1] = op.body
    for _, r in pairs(op.responses) do roots[#roots + 1] = r.schema end
    for _, p in ipairs(op.parameters) do roots[#roots + 1] = p.schema end
  end
  local out = self.out
  out[#out + 1] = "---@meta"
  out[#out + 1] = "-- LuaCATS annotations (lua-language-server) for the shapes the Voucherify API takes"
  out[#out + 1] = "-- and returns. GENERATED by scripts/openapi/generate.lua (`make types`) from"
  out[#out + 1] = ("-- voucherify-orders-customers.json (%s %s): do not edit."):format(
    tostring(spec.doc.info.title), tostring(spec.doc.info.version))
  out[#out + 1] = "-- Decoding is tolerant: a field or value the spec does not list is kept as it came."
  out[#out + 1] = ""
  out[#out + 1] = "--- JSON null as decoded (`voucherify.null`)."
  out[#out + 1] = "---@alias voucherify.null lightuserdata"
  for _, cname in ipairs(spec:reachable(roots)) do
    local node = spec.schemas[cname]
    local name = types.class_name(cname)
    if is_objectish(node) then
      self:emit_class(name, node)
    else
      out[#out + 1] = ""
      local desc = one_line(node.description or node.title)
      if desc then out[#out + 1] = "--- " .. desc end
      out[#out + 1] = ("---@alias %s %s"):format(name, self:type_of(node, name))
      self.classes[name] = false
    end
    -- inline objects met on the way, right after their parent
    while #self.pending > 0 do
      local p = table.remove(self.pending, 1)
      self:emit_class(p.name, p.node)
    end
  end
  out[#out + 1] = ""
  return table.concat(out, "\n"), self
end

-- the success response of an operation: the first 2xx, its schema or `true` (204)
local function success(op)
  for _, status in ipairs({ "200", "201", "202", "204" }) do
    local r = op.responses[status]
    if r then return r end
  end
  return nil
end

--- Fills the library template's placeholders:
-- `{{result:OPERATION_ID}}` (the success body's type; `true` for 204),
-- `{{body:OPERATION_ID}}` (the request body's type),
-- `{{query:OPERATION_ID:NAME}}` (a query parameter's type),
-- `{{item:OPERATION_ID:FIELD}}` (the element type of the success body's list `FIELD`).
-- @return the text, and the set of operation ids the template used
function types.library(spec, gen, template)
  local by_id = {}
  for _, op in ipairs(spec:operations()) do by_id[op.id] = op end
  local used = {}
  local text = template:gsub("{{(%a+):([^:}]+):?([^}]*)}}", function(what, id, arg)
    local op = assert(by_id[id], "template names an unknown operation " .. id)
    used[id] = true
    if what == "result" then
      local r = assert(success(op), "no success response for " .. id)
      if not r.schema then return "true" end
      return gen:type_of(r.schema, types.class_name(id:gsub("%-", "_") .. "_result"))
    elseif what == "body" then
      return gen:type_of(assert(op.body, "no body for " .. id), types.class_name(id:gsub("%-", "_") .. "_body"))
    elseif what == "item" then
      -- the element type of list property `arg` of the success body (what an iterator yields)
      local r = assert(success(op), "no success response for " .. id)
      local parents, props = {}, {}
      local function collect(node)
        node = spec:resolve(node)
        parents = {}
        gen:flatten(node, parents, props, {})
        for _, p in ipairs(parents) do
          collect({ ["$ref"] = "#/components/schemas/" .. p:sub(#PREFIX + 1) })
        end
      end
      collect(r.schema)
      local list = assert(props[arg], ("%s returns no property %s"):format(id, arg))
      list = spec:resolve(list)
      while list.allOf and #list.allOf == 1 do list = spec:resolve(list.allOf[1]) end
      return gen:type_of(assert(list.items, id .. "." .. arg .. " is not a list"),
        types.class_name(id:gsub("%-", "_") .. "_" .. arg .. "_item"))
    elseif what == "query" then
      for _, p in ipairs(op.parameters) do
        if p["in"] == "query" and p.name == arg then return gen:type_of(p.schema, "any") end
      end
      error(("%s has no query parameter %s"):format(id, arg))
    end
    error("unknown placeholder " .. what)
  end)
  -- inline objects the placeholders met get their classes before the module's `return`
  gen.out = {}
  while #gen.pending > 0 do
    local p = table.remove(gen.pending, 1)
    gen:emit_class(p.name, p.node)
  end
  if #gen.out > 0 then
    local head, tail = text:match("^(.*\n)(return voucherify\n?)$")
    assert(head, "the template must end with `return voucherify`")
    text = head .. table.concat(gen.out, "\n"):gsub("^\n", "") .. "\n\n" .. tail
  end
  return text, used
end

return types
