--- Error objects: what every failed call returns as its second value.
--
-- Fields: `kind` ("api", "timeout", "network", "decode", "async", ...),
-- `status` (the HTTP status of the response that failed, never that of a
-- poll), Voucherify's `code`, `key`, `message`, `details`, `request_id`,
-- `resource_id`, `resource_type` and `error` (`error.message`: the text a
-- user configured on a validation rule), plus `retry_after`, `method`, `url`,
-- `body` and `attempts`.  `tostring(err)` is one line.
--
-- No credential is ever stored in an error: URLs have secret query values
-- masked, and every string the error carries (nested tables and their keys
-- included) is scrubbed of the client's secrets.  Scrubbing lives here alone:
-- `errors.new` for error objects, `errors.scrub` for anything else shown to
-- the caller (the `on_response` info).
-- @module voucherify.errors

local url = require "voucherify.url"

local errors = {}

local Error = { __name = "voucherify.error" }
Error.__index = Error

-- one line, and no control byte a server could use on a terminal or a log
local function one_line(s)
  return (tostring(s):gsub("%c+", " "))
end

-- a field worth printing: text or a number, not a table
local function printable(v)
  local t = type(v)
  return (t == "string" or t == "number") and v or nil
end

Error.__tostring = function(e)
  local parts = { "voucherify:", e.kind, "error" }
  if e.status then parts[#parts + 1] = tostring(e.status) end
  if printable(e.key) then parts[#parts + 1] = "(" .. tostring(e.key) .. ")" end
  local line = table.concat(parts, " ") .. ": " .. tostring(e.message)
  local details = printable(e.details)
  if details and details ~= e.message then line = line .. " - " .. tostring(details) end
  -- the message a user configured on a validation rule, as Voucherify sends it
  local rule = type(e.error) == "table" and printable(e.error.message)
  if rule and rule ~= e.message and rule ~= details then line = line .. " - error.message: " .. tostring(rule) end
  if e.method and e.url then line = line .. " [" .. e.method .. " " .. e.url .. "]" end
  if printable(e.request_id) then line = line .. " request_id=" .. tostring(e.request_id) end
  return one_line(line)
end

--- True for error objects made by this library.
function errors.is_error(v)
  return getmetatable(v) == Error
end

local SECRET_QUERY_KEYS = { token = true, access_token = true, app_token = true }

--- Masks the values of secret query parameters (e.g. a download `token`) in a URL.
function errors.safe_url(u)
  if type(u) ~= "string" then return u end
  return (u:gsub("([?&])([^=&#]+)=([^&#]*)", function(sep, k, v)
    if SECRET_QUERY_KEYS[k:lower()] and v ~= "" then return sep .. k .. "=[redacted]" end
  end))
end

errors.REDACTED = "[redacted]"
--- Shorter strings are not treated as secrets (they would mangle every text).
errors.MIN_SECRET = 4

-- Does `s` hold `secret` as a server may send it back: as is, JSON-escaped or
-- percent-encoded?  Usual tokens ([%w-._~]) have one form only: no allocation.
local function holds_secret(s, secret)
  if s:find(secret, 1, true) then return true end
  if not secret:find("[^%w%-%._~]") then return false end
  local escaped = secret:gsub('[\\"]', "\\%0")
  if escaped ~= secret and s:find(escaped, 1, true) then return true end
  return s:find(url.escape(secret), 1, true) ~= nil
end

local function is_secret(v)
  return type(v) == "string" and #v >= errors.MIN_SECRET
end

local function dirty_in(s, list)
  if list then
    for i = 1, #list do
      if is_secret(list[i]) and holds_secret(s, list[i]) then return true end
    end
  end
  return false
end

-- Scrubbing is two steps: look (no allocation when nothing is found), then,
-- only when something was found, replace every form of every secret of both
-- lists `a` and `b`, longest first (so a secret that contains another goes whole).
local function dirty(s, a, b)
  return dirty_in(s, a) or dirty_in(s, b)
end

-- the patterns to replace, longest first
local function needles(a, b)
  local out = {}
  local function add(form) out[#out + 1] = form end
  for _, list in ipairs({ a or {}, b or {} }) do
    for i = 1, #list do
      local secret = list[i]
      if is_secret(secret) then
        add(secret)
        if secret:find("[^%w%-%._~]") then
          add((secret:gsub('[\\"]', "\\%0")))
          add(url.escape(secret))
        end
      end
    end
  end
  table.sort(out, function(x, y) return #x > #y end)
  for i, form in ipairs(out) do out[i] = form:gsub("%p", "%%%0") end
  return out
end

local function clean(s, patterns)
  for _, pattern in ipairs(patterns) do s = s:gsub(pattern, errors.REDACTED) end
  return s
end

-- true when a secret is reachable from `v` (keys, values, nested tables)
local function holds(v, a, b, seen)
  if type(v) == "string" then return dirty(v, a, b) end
  if type(v) ~= "table" or seen[v] then return false end
  seen[v] = true
  for k, x in next, v do
    if holds(k, a, b, seen) or holds(x, a, b, seen) then return true end
  end
  return false
end

-- a scrubbed deep copy of `v` (same metatables; shared and cyclic parts stay so)
local function copy(v, a, b, patterns, copies)
  if type(v) == "string" then return dirty(v, a, b) and clean(v, patterns) or v end
  if type(v) ~= "table" then return v end
  if copies[v] then return copies[v] end
  local out = {}
  copies[v] = out
  for k, x in next, v do out[copy(k, a, b, patterns, copies)] = copy(x, a, b, patterns, copies) end
  return setmetatable(out, getmetatable(v))
end

-- Scrubs every field of our own table `t` in place.  A string that holds a
-- secret is rewritten; a table that holds one is replaced by a scrubbed copy,
-- so tables the caller may also hold (an async action) are never changed.
local function scrub_fields(t, a, b)
  if not a and not b then return t end
  local patterns
  for k, v in next, t do
    if type(v) == "string" then
      if dirty(v, a, b) then
        patterns = patterns or needles(a, b)
        t[k] = clean(v, patterns)
      end
    elseif type(v) == "table" and holds(v, a, b, {}) then
      patterns = patterns or needles(a, b)
      t[k] = copy(v, a, b, patterns, {})
    end
  end
  return t
end

--- Scrubs every field of `t`, a table the library made to show the caller
-- (e.g. the `on_response` info), in place: each string that holds a secret is
-- rewritten, and each nested table that holds one is replaced by a scrubbed
-- copy.  Costs no allocation when nothing is found.
-- @tparam table t
-- @tparam[opt] {string,...} secrets the client's secrets
-- @tparam[opt] {string,...} more more secrets (e.g. a download token)
-- @return t
errors.scrub = scrub_fields

--- Makes an error object from `fields` (a table of its own, which becomes the
-- error), masking secret query values in `url` and scrubbing every string it
-- carries of the secrets in both lists.
-- @tparam table fields
-- @tparam[opt] {string,...} secrets the client's secrets
-- @tparam[opt] {string,...} more more secrets (e.g. a download token)
-- @return the error object
function errors.new(fields, secrets, more)
  fields.url = errors.safe_url(fields.url)
  if fields.message == nil then fields.message = tostring(fields.kind) .. " error" end
  scrub_fields(fields, secrets, more)
  return setmetatable(fields, Error)
end

return errors
