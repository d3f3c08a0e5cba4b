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

--- Raises `message` unless `ok`.
function argcheck.check(ok, message, where, level)
  if not ok then argcheck.fail(level, where, message) end
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

--- Options of the polling calls (`wait`, `download`): `timeout` and
-- `interval` positive numbers, `on_progress` a function; `extra` names other
-- allowed keys.
function argcheck.poll_options(opts, where, level, extra)
  for k, v in pairs(opts) do
    if k == "timeout" or k == "interval" then
      if type(v) ~= "number" or v ~= v or v <= 0 then
        argcheck.fail(level, where, ("'%s' must be a positive number of seconds (got %s)"):format(k, describe(v)))
      end
    elseif k == "on_progress" then
      if type(v) ~= "function" then
        argcheck.fail(level, where, ("'on_progress' must be a function (got %s)"):format(describe(v)))
      end
    elseif not (extra and extra[k]) then
      argcheck.fail(level, where, ("unknown option '%s'"):format(tostring(k)))
    end
  end
end

--- `path` must be a file path that opens in `mode` ("rb": readable, "wb":
-- writable, which creates or empties it).
function argcheck.file(path, mode, name, where, level)
  if type(path) ~= "string" or path == "" then
    argcheck.fail(level, where, ("'%s' must be a file path (got %s)"):format(name, describe(path)))
  end
  local f, why = io.open(path, mode)
  if not f then
    argcheck.fail(level, where, ("cannot %s '%s': %s"):format(mode == "rb" and "read" or "write", path, why))
  end
  f:close()
end

return argcheck
