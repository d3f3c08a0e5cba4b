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
