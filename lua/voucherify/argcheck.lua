--- Checks of the caller's arguments.  A failed check is a programmer
-- mistake: it raises a string error at the caller's line, before any request.
--
-- Each public method has one check site, bound once when its module loads:
--
--     local check = argcheck.site("orders:get")
--     ...
--     check:id(id, "id")
--
-- Every check takes the value first, then the name the message gives it,
-- then what else it needs.  The checks are pure: they look at values (and,
-- for `file`, at what stat(2) says), never encode, open or create anything.
-- A site's checks are called as statements directly by the resource method
-- (which `argcheck.methods` tail-calls, so it sits right above the caller):
-- the level they blame is fixed, and nobody passes one.
-- @module voucherify.argcheck

local compat = require "voucherify.compat"
local files = require "voucherify.files"
local query = require "voucherify.query"

local argcheck = {}

--- The most fields one `select` path may name ("a.b.c" names 3).
argcheck.MAX_SELECT_DEPTH = 32

-- locals: the method wrappers below run on every call
local error, getmetatable, select, type = error, getmetatable, select, type

local function describe(v)
  if type(v) == "string" then return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  return type(v)
end

-- The pure checks: each returns what is wrong with its value, or nil.

local function id_problem(v, name)
  if type(v) ~= "string" or v == "" then
    return ("'%s' must be a non-empty string (got %s)"):format(name, describe(v))
  end
end

local function optional_table_problem(v, name)
  if v ~= nil and type(v) ~= "table" then
    return ("'%s' must be a table or nil (got %s)"):format(name, describe(v))
  end
end

-- what is wrong with `params` (nil or a table of the set `set`), and params as a table
local function params_problem(params, set)
  if params == nil then params = {} end
  return optional_table_problem(params, "params") or query.problem(set, params), params
end

-- what is wrong with a `select` value: a non-empty list of field paths
-- ("id", "customer.id"), each a non-empty string without an empty field name
local function select_problem(v, name)
  local want = ("'%s' must be a non-empty list of field names such as { \"id\", \"customer.id\" }"):format(name)
  if type(v) ~= "table" then return ("%s (got %s)"):format(want, describe(v)) end
  local n = #v
  for k in pairs(v) do
    if not compat.is_integer(k) or k < 1 or k > n then
      return ("%s (got the key %s)"):format(want, type(k) == "number" and tostring(k) or describe(k))
    end
  end
  if n == 0 then return ("%s (got an empty table)"):format(want) end
  for i = 1, n do
    local path = v[i]
    if type(path) ~= "string" or path == "" then
      return ("'%s[%d]' must be a non-empty string (got %s)"):format(name, i, describe(path))
    end
    if path:find("^%.") or path:find("%.%.") or path:find("%.$") then
      return ("'%s[%d]' has an empty field name: %s"):format(name, i, describe(path))
    end
    local _, dots = path:gsub("%.", "")
    if dots >= argcheck.MAX_SELECT_DEPTH then
      return ("'%s[%d]' names more than %d nested fields"):format(name, i, argcheck.MAX_SELECT_DEPTH)
    end
  end
end

local WHAT = { directory = "a directory", fifo = "a FIFO", socket = "a socket", device = "a device",
  other = "not a regular file" }

-- `path` for reading: a readable regular file that is not empty.  Its size is
-- what gets sent, and /proc files report 0 bytes, so an empty file is refused
-- too: there would be nothing to send.
local function readable_problem(path, name)
  local kind, size, readable = files.kind(path)
  if not kind then return ("'%s' cannot be read: '%s': %s"):format(name, path, size) end
  if kind ~= "file" then return ("'%s' must be a regular file: '%s' is %s"):format(name, path, WHAT[kind]) end
  if not readable then return ("'%s' cannot be read: '%s': permission denied"):format(name, path) end
  if size == 0 then
    return ("'%s' is empty: '%s' has 0 bytes (/proc files report 0 bytes and cannot be uploaded)")
      :format(name, path)
  end
end

-- `path` for writing: nothing yet, or a regular file (a symlink there is
-- replaced, its target is never written), in a directory that exists.
local function writable_problem(path, name)
  local kind = files.kind(path)
  if path:sub(-1) == "/" or kind == "directory" then
    return ("'%s' must name a file, not a directory (got '%s')"):format(name, path)
  end
  if kind and kind ~= "file" then
    return ("'%s' must name a regular file: '%s' is %s"):format(name, path, WHAT[kind])
  end
  local dir = files.dirname(path)
  local dir_kind, err = files.kind(dir)
  if dir_kind ~= "directory" then
    return ("'%s' cannot be written: directory '%s' %s"):format(name, dir,
      dir_kind and "is not a directory" or ("does not exist (" .. err .. ")"))
  end
end

local function poll_problem(opts, extra)
  for k, v in pairs(opts) do
    if k == "timeout" or k == "interval" then
      if type(v) ~= "number" or v ~= v or v <= 0 then
        return ("'%s' must be a positive number of seconds (got %s)"):format(k, describe(v))
      end
    elseif k == "on_progress" then
      if type(v) ~= "function" then return ("'on_progress' must be a function (got %s)"):format(describe(v)) end
    elseif not (extra and extra[k]) then
      return ("unknown option '%s'"):format(tostring(k))
    end
  end
end

--- A check site: the checks of one public method, named `where` in messages.
-- @type Site
local Site = {}
Site.__index = Site

--- The check site of the method `where` ("orders:get").
-- @tparam string where
-- @treturn Site
function argcheck.site(where)
  return setmetatable({ where = where }, Site)
end

-- Raises "voucherify: <where>: <message>" at the method's caller: level 1 is
-- this function, 2 the check, 3 the method, 4 its caller.  So a check calls
-- this directly, and never another check.
local function raise(site, message)
  error(("voucherify: %s: %s"):format(site.where, message), 4)
end

--- Raises `message` unless `ok`.
function Site:that(ok, message)
  if not ok then raise(self, message) end
end

--- `v` must be a non-empty string (an id).
function Site:id(v, name)
  -- the test inline, before id_problem: this check runs on every call by id
  if type(v) ~= "string" or v == "" then raise(self, id_problem(v, name)) end
end

--- `v` must be a table.
function Site:table(v, name)
  if type(v) ~= "table" then raise(self, ("'%s' must be a table (got %s)"):format(name, describe(v))) end
end

--- `v` must be nil or a table.
-- @return v, or a new empty table for nil
function Site:optional_table(v, name)
  local problem = optional_table_problem(v, name)
  if problem then raise(self, problem) end
  return v or {}
end

--- `v` (a table) must hold at most `max` items.
function Site:max_length(v, name, max)
  if #v > max then
    raise(self, ("'%s' holds %d items; at most %d are allowed per call, split it"):format(name, #v, max))
  end
end

--- `params` (nil or a table) must hold only parameters of the set `set`
-- (voucherify.query), each of its kind.
-- @return params, or a new empty table for nil
function Site:params(params, set)
  local problem
  problem, params = params_problem(params, set)
  if problem then raise(self, problem) end
  return params
end

--- The usual arguments of a call on one object: `id` (a non-empty string)
-- and optional `params` of the set `set`.
-- @return params, or a new empty table for nil
function Site:id_and_params(id, params, set)
  local problem
  problem, params = params_problem(params, set)
  problem = id_problem(id, "id") or problem
  if problem then raise(self, problem) end
  return params
end

--- `v` must be a `select` list: field paths such as "id" or "customer.id"
-- (non-empty strings, no empty field name, at most MAX_SELECT_DEPTH fields deep).
function Site:select(v, name)
  local problem = select_problem(v, name)
  if problem then raise(self, problem) end
end

--- `text, why` is what `json.encode` returned for the body argument `name`:
-- raises naming the field path when the body could not be encoded.
function Site:encoded(text, name, why)
  if text == nil then raise(self, ("cannot encode '%s' as JSON: %s"):format(name, why)) end
end

--- Options of the polling calls (`wait`, `download`): `timeout` and
-- `interval` positive numbers, `on_progress` a function; `extra` names other
-- allowed keys (`{ path = true }`).
function Site:poll_options(opts, extra)
  local problem = poll_problem(opts, extra)
  if problem then raise(self, problem) end
end

--- `path` must name a file the call can use.  Checked with stat(2), never by
-- opening it, so a FIFO cannot block the check, and nothing is created.
-- @tparam string path
-- @tparam string name
-- @tparam string mode "rb" (an upload: a readable, non-empty regular file)
--   or "wb" (a download's destination: nothing yet, or a regular file, in a
--   directory that exists)
function Site:file(path, name, mode)
  local problem
  if type(path) ~= "string" or path == "" or path:find("\0", 1, true) then
    problem = ("'%s' must be a file path (got %s)"):format(name, describe(path))
  elseif mode == "rb" then
    problem = readable_problem(path, name)
  else
    problem = writable_problem(path, name)
  end
  if problem then raise(self, problem) end
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
-- The wrapper tail-calls the method, so the method's own checks still blame
-- the caller.
function argcheck.method(class, method, where)
  local info = debug.getinfo(method, "u")
  -- `self` is a parameter too; no nparams (LuaJIT 2.0) or a vararg method: no count
  local arity = info.nparams and not info.isvararg and info.nparams - 1 or math.huge
  local resource, name = where:match("^(.-):(.*)$")
  local dot_message = ("voucherify: %s: called with '.' instead of ':' (use client.%s:%s(...))")
    :format(where, resource, name)
  local plural = arity == 1 and "" or "s"
  local wrapper
  wrapper = function(self, ...)
    -- fast path: a resource object made by the class; else anything whose method is this one
    if getmetatable(self) ~= class and not (type(self) == "table" and self[name] == wrapper) then
      error(dot_message, 2)
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
