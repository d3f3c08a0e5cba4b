--- Checks of the caller's arguments.  A failed check is a programmer
-- mistake: it raises a string error at the caller's line, before any request.
--
-- Every check takes `level`, meaning "blame this level, counted from the
-- public function": 2 is the public function's caller.  Checks are called as
-- statements (never tail-called), so the count holds.
-- @module voucherify.argcheck

local json = require "voucherify.json"

local argcheck = {}

local function describe(v)
  if type(v) == "string" then return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  return type(v)
end

--- Raises "voucherify: <where>: <message>".  Called only by the checks
-- below, so `level + 2` skips this function and the check.
function argcheck.fail(level, where, message)
  error(("voucherify: %s: %s"):format(where, message), level + 2)
end

--- `v` must be a non-empty string (an id).
function argcheck.id(v, name, where, level)
  if type(v) ~= "string" or v == "" then
    argcheck.fail(level, where, ("'%s' must be a non-empty string (got %s)"):format(name, describe(v)))
  end
end

--- `v` must be a table.
function argcheck.table(v, name, where, level)
  if type(v) ~= "table" then
    argcheck.fail(level, where, ("'%s' must be a table (got %s)"):format(name, describe(v)))
  end
end

--- `v` must be nil or a table; returns v or {}.
function argcheck.optional_table(v, name, where, level)
  if v == nil then return {} end
  if type(v) ~= "table" then
    argcheck.fail(level, where, ("'%s' must be a table or nil (got %s)"):format(name, describe(v)))
  end
  return v
end

--- `v` (a table) must hold at most `max` items.
function argcheck.max_length(v, max, name, where, level)
  if #v > max then
    argcheck.fail(level, where, ("'%s' holds %d items; at most %d are allowed per call, split it")
      :format(name, #v, max))
  end
end

--- Encodes a request body, raising with the field path when it cannot be.
-- @return the JSON text
function argcheck.body(v, name, where, level)
  local text, err = json.encode(v)
  if not text then
    argcheck.fail(level, where, ("cannot encode '%s' as JSON: %s"):format(name, err))
  end
  return text
end

--- Every key of `params` must be in `allowed` (a set); values must be
-- strings, numbers or booleans unless `allowed[key]` is "table" or "function".
function argcheck.params(params, allowed, where, level)
  for k, v in pairs(params) do
    local want = allowed[k]
    if not want then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      argcheck.fail(level, where, ("unknown parameter '%s' (expected one of: %s)")
        :format(tostring(k), table.concat(names, ", ")))
    end
    local t = type(v)
    if want == "table" or want == "function" then
      if t ~= want then
        argcheck.fail(level, where, ("parameter '%s' must be a %s (got %s)"):format(k, want, describe(v)))
      end
    elseif want == "integer" then
      if math.tointeger(v) == nil and not (t == "string" and v:match("^%-?%d+$")) then
        argcheck.fail(level, where, ("parameter '%s' must be an integer (got %s)"):format(k, describe(v)))
      end
    elseif t ~= "string" and t ~= "number" and t ~= "boolean" then
      argcheck.fail(level, where, ("parameter '%s' must be a string, number or boolean (got %s)")
        :format(k, describe(v)))
    end
  end
end

return argcheck
