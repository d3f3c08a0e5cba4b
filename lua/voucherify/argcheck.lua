--- Checks of the caller's arguments.  A failed check is a programmer
-- mistake: it raises a string error at the caller's line, before any request.
--
-- Every check takes `level`, meaning "blame this level, counted from the
-- public function": 2 is the public function's caller.  Checks are called as
-- statements (never tail-called), so the count holds.
-- @module voucherify.argcheck

local files = require "voucherify.files"
local json = require "voucherify.json"

local argcheck = {}

-- locals: the method wrappers below run on every call
local getmetatable, select, type = getmetatable, select, type

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

local WHAT = { directory = "a directory", fifo = "a FIFO", socket = "a socket", device = "a device",
  other = "not a regular file" }

--- `path` must name a file the call can use.  Checked with stat(2), never by
-- opening it, so a FIFO cannot block the check.
--   mode "rb" (an upload): a readable regular file that is not empty.  Its
--     size is what gets sent, and /proc files report 0 bytes, so an empty
--     file is refused too: there would be nothing to send.
--   mode "wb" (a download's destination): nothing yet, or a regular file
--     (a symlink there is replaced, its target is never written), in a
--     directory that exists.
function argcheck.file(path, mode, name, where, level)
  if type(path) ~= "string" or path == "" or path:find("\0", 1, true) then
    argcheck.fail(level, where, ("'%s' must be a file path (got %s)"):format(name, describe(path)))
  end
  local kind, size, readable = files.kind(path)
  local why
  if mode == "rb" then
    if not kind then
      why = ("'%s' cannot be read: '%s': %s"):format(name, path, size)
    elseif kind ~= "file" then
      why = ("'%s' must be a regular file: '%s' is %s"):format(name, path, WHAT[kind])
    elseif not readable then
      why = ("'%s' cannot be read: '%s': permission denied"):format(name, path)
    elseif size == 0 then
      why = ("'%s' is empty: '%s' has 0 bytes (/proc files report 0 bytes and cannot be uploaded)")
        :format(name, path)
    end
  elseif path:sub(-1) == "/" or kind == "directory" then
    why = ("'%s' must name a file, not a directory (got '%s')"):format(name, path)
  elseif kind and kind ~= "file" then
    why = ("'%s' must name a regular file: '%s' is %s"):format(name, path, WHAT[kind])
  else
    local dir = files.dirname(path)
    local dir_kind, err = files.kind(dir)
    if dir_kind ~= "directory" then
      why = ("'%s' cannot be written: directory '%s' %s"):format(name, dir,
        dir_kind and "is not a directory" or ("does not exist (" .. err .. ")"))
    end
  end
  if why then argcheck.fail(level, where, why) end
end

-- true when an argument after the first `arity` is not nil
local function has_extra(arity, ...)
  for i = arity + 1, select("#", ...) do
    if select(i, ...) ~= nil then return true end
  end
  return false
end

--- Wraps `method` of resource `class` (e.g. `Orders.get`, `where` "orders:get")
-- so that calling it with `.` instead of `:` (self is not a resource object)
-- and passing more arguments than it declares raise at the caller's line.
-- Trailing nils are not counted: `f(a, nil)` is `f(a)` to every Lua function.
-- The wrapper tail-calls the method, so the method's own checks (level 2)
-- still blame the caller.
function argcheck.method(class, method, where)
  local info = debug.getinfo(method, "u")
  -- `self` is a parameter too; no nparams (LuaJIT 2.0) or a vararg method: no count
  local arity = info.nparams and not info.isvararg and info.nparams - 1 or math.huge
  local resource, name = where:match("^(.-):(.*)$")
  local dot_message = ("called with '.' instead of ':' (use client.%s:%s(...))"):format(resource, name)
  local plural = arity == 1 and "" or "s"
  local wrapper
  wrapper = function(self, ...)
    -- fast path: a resource object made by the class; else anything whose method is this one
    if getmetatable(self) ~= class and not (type(self) == "table" and self[name] == wrapper) then
      argcheck.fail(1, where, dot_message)
    end
    local n = select("#", ...)
    if n > arity and has_extra(arity, ...) then
      error(("voucherify: %s takes %d argument%s (got %d)"):format(where, arity, plural, n), 2)
    end
    return method(self, ...)
  end
  return wrapper
end

--- Wraps every method of resource class `class` with `argcheck.method`.
-- @tparam table class the methods table (`Orders`)
-- @tparam string resource its field on the client ("orders"), for messages
-- @return class
function argcheck.methods(class, resource)
  local names = {}
  for name, v in pairs(class) do
    if type(v) == "function" and name:sub(1, 2) ~= "__" then names[#names + 1] = name end
  end
  for _, name in ipairs(names) do
    class[name] = argcheck.method(class, class[name], resource .. ":" .. name)
  end
  return class
end

return argcheck
