--- JSON encode/decode, done by the C core (voucherify.core).
--
-- Mapping: integers stay integers, `null` is `json.null` (the same value as
-- `cjson.null`), decoded arrays carry `json.array_mt` so they re-encode as
-- arrays even when empty, and strings must be valid UTF-8.
-- @module voucherify.json

local core = require("voucherify.runtime").core

local json = {}

if core then
  --- JSON null: a lightuserdata NULL, equal to `cjson.null`.
  json.null = core.null
  --- The metatable of every decoded array; tables carrying it encode as arrays.
  json.array_mt = core.array_mt
  --- Encodes a Lua value.
  -- @param value table, string, number, boolean, `json.null` or nil
  -- @treturn[1] string JSON text
  -- @treturn[2] nil
  -- @treturn[2] string what is wrong and where, e.g. "items[2].name: string is not valid UTF-8"
  json.encode = core.json_encode
  --- Decodes JSON text.
  -- @tparam string text
  -- @return[1] the value
  -- @treturn[2] nil
  -- @treturn[2] string the reason with its byte offset (0-based), e.g. "unexpected character at offset 3 (near ']')"
  json.decode = core.json_decode
  json.codec = "voucherify.core"
else
  -- Inside OpenResty without the LuaJIT build of the core: lua-cjson, which
  -- OpenResty ships (its fork marks decoded arrays with cjson.array_mt).
  -- No UTF-8 check on encode, and integers are doubles there.
  local cjson = require("cjson.safe").new()
  if cjson.decode_array_with_array_mt then cjson.decode_array_with_array_mt(true) end
  -- OpenResty's fork takes 17 digits (round trip); lua-cjson 2.1.0 stops at 14
  if not pcall(cjson.encode_number_precision, 17) then cjson.encode_number_precision(14) end
  json.null = cjson.null
  json.array_mt = cjson.array_mt or cjson.empty_array_mt or {}
  json.encode = cjson.encode
  json.decode = cjson.decode
  json.codec = "cjson"
end

-- A selection applied after a full decode (lua-cjson, or a core without
-- json_select), with the C decoder's rules: a sub-tree selects from an
-- object, is applied to each element of an array, and keeps anything else whole.
local function select_value(v, node)
  if type(v) ~= "table" or next(v) == nil then return v end
  if rawget(v, 1) ~= nil then -- an array: JSON objects have only string keys
    local out = setmetatable({}, getmetatable(v))
    for i = 1, #v do out[i] = select_value(v[i], node) end
    return out
  end
  local out, star = {}, node["*"] == true
  for k, value in pairs(v) do
    local m = node[k]
    if m == true or (m == nil and star) then
      out[k] = value
    elseif type(m) == "table" then
      out[k] = select_value(value, m)
    end
  end
  return out
end

--- Applies a selection tree (see `json.selector`) to a value decoded in
-- full: what `decode_selected` does when the C core is absent (lua-cjson).
-- @param value a decoded value (left unchanged)
-- @tparam table tree
-- @return the selected value (new tables)
function json.select_decoded(value, tree)
  return select_value(value, tree)
end

local LuaSelector = {}
LuaSelector.__index = LuaSelector

--- Compiles a selection tree into a selector for `json.decode_selected`.
-- A tree: member name -> `true` (keep the whole value) or a sub-tree (applied
-- to an object value, or to each element of an array value); `["*"] = true`
-- keeps, whole, the members the node does not name.  Everything else is
-- left out (and skipped without being built by the C decoder).
-- @tparam table tree
-- @return a selector (reusable: compile once per call or iterator)
-- @usage local sel = json.selector { ["*"] = true, orders = { id = true, customer = { id = true } } }
function json.selector(tree)
  if core and core.json_select then return core.json_select(tree) end
  return setmetatable({ tree = tree }, LuaSelector)
end

--- Decodes JSON text keeping only what `selector` (json.selector) selects.
-- @tparam string text
-- @param selector a selector, or nil for a full decode
-- @return as `json.decode`
function json.decode_selected(text, selector)
  if selector == nil then return json.decode(text) end
  if getmetatable(selector) ~= LuaSelector then return core.json_decode(text, selector) end
  local value, why = json.decode(text)
  if value == nil then return nil, why end
  return select_value(value, selector.tree)
end

--- Marks `t` (default: a new table) to encode as a JSON array, even when empty.
-- @tparam[opt] table t
-- @treturn table t
function json.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then
    error("voucherify.array: expected a table or nil, got " .. type(t), 2)
  end
  return setmetatable(t, json.array_mt)
end

return json
