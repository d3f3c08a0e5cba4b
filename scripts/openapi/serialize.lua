--- Writes a Lua value as Lua source, keys sorted, so a generated file only
-- changes when its data does.
-- @module scripts.openapi.serialize

local serialize = {}

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return n > 0
end

local function key(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not ({ ["and"] = 1, ["break"] = 1, ["do"] = 1,
      ["else"] = 1, ["elseif"] = 1, ["end"] = 1, ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1,
      ["if"] = 1, ["in"] = 1, ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1,
      ["return"] = 1, ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1 })[k] then
    return k
  end
  return ("[%q]"):format(k)
end

local function scalar(v, null)
  if type(v) == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
  if v == null then return "null" end
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return ("%.17g"):format(v) end
  return tostring(v)
end

--- Lua source for `value`; `null` (the decoder's JSON null) is written as the
-- identifier `null`.  Tables that fit on one line of `width` stay on one.
function serialize.value(value, indent, null, width)
  indent = indent or ""
  width = width or 110
  if type(value) ~= "table" then return scalar(value, null) end
  local parts = {}
  local inner = indent .. "  "
  if is_list(value) then
    for _, v in ipairs(value) do parts[#parts + 1] = serialize.value(v, inner, null, width) end
  else
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      parts[#parts + 1] = key(k) .. " = " .. serialize.value(value[k], inner, null, width)
    end
  end
  if #parts == 0 then return "{}" end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #one + #indent <= width and not one:find("\n") then return one end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

return serialize
