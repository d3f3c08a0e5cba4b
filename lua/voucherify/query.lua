--- Query parameters.  Each call declares its parameters once, as an ordered
-- list of specs; this module says what is wrong with what a caller passes
-- (voucherify.argcheck raises it) and encodes it, in that order, as
-- { name, value } pairs for voucherify.url.
--
-- A spec: `{ "created_at_before", "date", wire = "created_at[before]" }`.
-- Kinds: "integer"; "string" (a string, number or boolean); "date" (an ISO
-- 8601 string, or seconds since the epoch sent as ISO 8601 UTC); "deep" (a
-- nested table sent as a deepObject: `filters[a][b][0]=v`); "function" (a
-- local option such as on_page, never sent).
-- @module voucherify.query

local compat = require "voucherify.compat"
local datetime = require "voucherify.datetime"
local url = require "voucherify.url"

local query = {}

--- Makes a parameter set from specs; `extra` specs are appended (for iterators).
function query.spec(list, extra)
  local set = { list = {}, by_name = {} }
  for _, group in ipairs({ list, extra or {} }) do
    for _, p in ipairs(group) do
      set.list[#set.list + 1] = p
      set.by_name[p[1]] = p
    end
  end
  return set
end

--- A copy of `set` without the named parameters.
function query.without(set, ...)
  local drop = {}
  for _, name in ipairs({ ... }) do drop[name] = true end
  local list = {}
  for _, p in ipairs(set.list) do
    if not drop[p[1]] then list[#list + 1] = p end
  end
  return query.spec(list)
end

local function describe(v)
  return type(v) == "string" and ("%q"):format(v) or type(v)
end

local WANT = {
  integer = "an integer", date = "an ISO 8601 date-time string or seconds since the epoch",
  deep = "a table", ["function"] = "a function", string = "a string, number or boolean",
}

--- What is wrong with `params` for the set `set`: an unknown name or a value
-- of the wrong kind (nil when nothing is).  Pure: voucherify.argcheck raises
-- the message at the caller's line.
-- @treturn string|nil
function query.problem(set, params)
  for name, value in pairs(params) do
    local p = set.by_name[name]
    if not p then
      local names = {}
      for _, q in ipairs(set.list) do names[#names + 1] = q[1] end
      table.sort(names)
      return ("unknown parameter '%s' (expected one of: %s)"):format(tostring(name), table.concat(names, ", "))
    end
    local kind, t = p[2], type(value)
    local ok
    if kind == "integer" then
      ok = compat.tointeger(value) ~= nil or (t == "string" and value:match("^%-?%d+$") ~= nil)
    elseif kind == "date" then
      ok = datetime.param(value) ~= nil
    elseif kind == "deep" then
      ok = t == "table"
    elseif kind == "function" then
      ok = t == "function"
    else
      ok = t == "string" or t == "number" or t == "boolean"
    end
    if not ok then
      return ("parameter '%s' must be %s (got %s)"):format(name, WANT[kind], describe(value))
    end
  end
  return nil
end

local function deep(prefix, value, out)
  if type(value) ~= "table" then
    out[#out + 1] = { prefix, value }
    return
  end
  local n = #value
  local is_list = n > 0
  if is_list then
    for k in pairs(value) do
      if not compat.is_integer(k) or k < 1 or k > n then is_list = false break end
    end
  end
  if is_list then
    for i = 1, n do deep(("%s[%d]"):format(prefix, i - 1), value[i], out) end
    return
  end
  local keys = {}
  for k in pairs(value) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = value[k]
    if v == nil then v = value[tonumber(k)] end
    deep(prefix .. "[" .. k .. "]", v, out)
  end
end

--- Encodes `params` as an ordered list of { wire_name, value } pairs.
function query.encode(set, params)
  local out = {}
  for _, p in ipairs(set.list) do
    local name, kind = p[1], p[2]
    local value = params[name]
    if value ~= nil and kind ~= "function" then
      local wire = p.wire or name
      if kind == "date" then
        out[#out + 1] = { wire, datetime.param(value) }
      elseif kind == "deep" then
        deep(wire, value, out)
      elseif kind == "integer" then
        out[#out + 1] = { wire, compat.tointeger(value) or value }
      else
        out[#out + 1] = { wire, url.format_value(value) }
      end
    end
  end
  return out
end

return query
