--- The Lua layer's version differences, in one place: it runs on Lua 5.4
-- and, inside OpenResty, on LuaJIT (the 5.1 language: no integer subtype, no
-- `//` operator, no math.tointeger).
-- @module voucherify.compat

local compat = {}

local floor = math.floor

--- `v` as an integer when it is a number without a fraction (in range), else nil.
compat.tointeger = math.tointeger and function(v)
  if type(v) ~= "number" then return nil end
  return math.tointeger(v)
end or function(v)
  if type(v) == "number" and v == floor(v) and v >= -2 ^ 63 and v < 2 ^ 63 then return v end
  return nil
end

--- True for an integer: Lua 5.4's subtype, or on LuaJIT a number without a fraction.
compat.is_integer = math.type and function(v)
  return math.type(v) == "integer"
end or function(v)
  return compat.tointeger(v) ~= nil
end

--- Floor division of integers (`a // b`).
function compat.idiv(a, b)
  return floor(a / b)
end

compat.unpack = table.unpack or rawget(_G, "unpack")

return compat
