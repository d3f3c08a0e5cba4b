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
-- included) is scrubbed of the client's secrets, as sent or escaped the way a
-- server may echo them (any JSON escape, percent-encoding, mixed).  Scrubbing
-- lives here alone: `errors.new` for error objects, `errors.scrub` for
-- anything else shown to the caller (the `on_response` info).
-- @module voucherify.errors

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
--- Secrets shorter than this are scrubbed only where they stand as a
-- credential (after `X-App-Token:`, `Bearer`, `token=`, ...: see
-- CREDENTIAL_CONTEXTS): everywhere, they would mangle every text.
errors.MIN_SECRET = 4

local byte, char, concat, find, floor, match, min, sub = string.byte, string.char, table.concat, string.find,
  math.floor, string.match, math.min, string.sub

-- JSON's two-byte escapes
local SHORT_ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r",
  t = "\t" }

-- UTF-8 of a code point (LuaJIT has no utf8 library)
local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64) end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64,
    0x80 + cp % 64)
end

-- The escape at byte `i` of `s` (JSON's \" \\ \/ \b \f \n \r \t \uXXXX or a
-- surrogate pair, or a URL's %XX): the bytes it stands for and its length.
local function escape_at(s, i)
  if byte(s, i) == 37 then -- %
    local hex = match(s, "^%x%x", i + 1)
    return hex and char(tonumber(hex, 16)), 3
  end
  local c = sub(s, i + 1, i + 1)
  if SHORT_ESCAPES[c] then return SHORT_ESCAPES[c], 2 end
  local hex = c == "u" and match(s, "^%x%x%x%x", i + 2)
  if not hex then return nil end
  local cp = tonumber(hex, 16)
  local low = cp >= 0xD800 and cp < 0xDC00 and match(s, "^\\u([dD][c-fC-F]%x%x)", i + 6)
  if low then return utf8_char(0x10000 + (cp - 0xD800) * 1024 + tonumber(low, 16) - 0xDC00), 12 end
  return utf8_char(cp), 6
end

-- The last byte of `s` of a writing of secret:sub(k) that starts at byte `i`,
-- or nil.  A server may write each byte of a secret as is or escaped, JSON's
-- way or percent-encoded, mixed: this reads them one by one, so no escape
-- around the secret (a broken one, a `%4` before it) can hide it.  A `\` or
-- `%` that the secret holds too is tried both ways.
local function match_at(s, i, secret, k)
  local n = #secret
  while k <= n do
    local c, want = byte(s, i), byte(secret, k)
    local bytes, len
    if c == 92 or c == 37 then bytes, len = escape_at(s, i) end -- \ or %
    if bytes and sub(secret, k, k + #bytes - 1) == bytes then
      if c == want then -- the byte itself fits too: try the escape first
        local last = match_at(s, i + len, secret, k + #bytes)
        if last then return last end
        i, k = i + 1, k + 1
      else
        i, k = i + len, k + #bytes
      end
    elseif c == want then
      i, k = i + 1, k + 1
    else
      return nil
    end
  end
  return i - 1
end

-- Where a short secret counts as a credential: right after one of these (any
-- case, quotes and backslashes allowed around the `:` or `=`), and not
-- followed by a letter or digit (then it is the start of another value).
local function nocase(word)
  return (word:gsub("%a", function(c) return "[" .. c:lower() .. c:upper() .. "]" end))
end
local ASSIGN = "[\\\"']*%s*[:=]%s*[\\\"']*" -- `: `, `=`, `":"`, `\":\"` (a header, a query, JSON)
local CREDENTIAL_CONTEXTS = {
  nocase("token") .. ASSIGN .. "()", -- X-App-Token: k, token=k, "app_token":"k"
  nocase("authorization") .. ASSIGN .. "()",
  nocase("pass") .. "%a*" .. ASSIGN .. "()", -- pass, passwd, password
  nocase("bearer") .. "%s+()",
  nocase("basic") .. "%s+()",
}

-- true when `s` holds a `\` or a `%` (memchr, not a pattern scan)
local function has_escape(s)
  return find(s, "\\", 1, true) ~= nil or find(s, "%", 1, true) ~= nil
end

-- Calls `found(first, last)` for every place of `s` that holds `secret` (as
-- is or escaped; a short one only as a credential), or, without `found`,
-- returns true at the first.  `escaped`: has_escape(s); without, a long
-- secret is searched in C.
local function each_place(s, escaped, secret, found)
  local n = #secret
  if n == 0 then return false end
  if n < errors.MIN_SECRET then
    for _, context in ipairs(CREDENTIAL_CONTEXTS) do
      local _, stop, at = find(s, context)
      while stop do
        local last = match_at(s, at, secret, 1)
        if last and not find(s, "^%w", last + 1) then
          if not found then return true end
          found(at, last)
        end
        _, stop, at = find(s, context, stop + 1)
      end
    end
  elseif not escaped then
    local at = find(s, secret, 1, true)
    while at do
      if not found then return true end
      found(at, at + n - 1)
      at = find(s, secret, at + 1, true)
    end
  else
    -- a writing starts with the secret's first byte or with an escape
    local first = sub(secret, 1, 1)
    local raw, esc = find(s, first, 1, true), find(s, "[\\%%]")
    while raw or esc do
      local at = raw and esc and min(raw, esc) or raw or esc
      local last = match_at(s, at, secret, 1)
      if last then
        if not found then return true end
        found(at, last)
      end
      if at == raw then raw = find(s, first, at + 1, true) end
      if at == esc then esc = find(s, "[\\%%]", at + 1) end
    end
  end
  return false
end

local function holds_in(s, escaped, list)
  if list then
    for i = 1, #list do
      local secret = list[i]
      if type(secret) == "string" and each_place(s, escaped, secret) then return true end
    end
  end
  return false
end

--- Texts longer than this (bytes) are not kept in an error or the hook's
-- info: a placeholder says how long they were.  Scrubbing every escaped form
-- of every secret costs up to about 0.15 s per MiB and secret, so a hostile
-- server could otherwise stretch a call far past its timeout with one body.
errors.MAX_TEXT = 256 * 1024

-- Scrubbing is two steps: look (no allocation), then, only when something
-- was found, rewrite.
local function dirty(s, a, b)
  if #s > errors.MAX_TEXT then return true end
  local escaped = has_escape(s)
  return holds_in(s, escaped, a) or holds_in(s, escaped, b)
end

-- `s` with every place that holds a secret of `a` or `b` replaced by
-- REDACTED; places that overlap (a secret inside another) become one.
local function clean(s, a, b)
  if #s > errors.MAX_TEXT then return ("[%d bytes not kept]"):format(#s) end
  local spans, escaped = {}, has_escape(s)
  local function add(first, last) spans[#spans + 1] = { first, last } end
  for _, list in ipairs({ a or {}, b or {} }) do
    for i = 1, #list do
      if type(list[i]) == "string" then each_place(s, escaped, list[i], add) end
    end
  end
  table.sort(spans, function(x, y) return x[1] < y[1] end)
  local out, copied, last = {}, 1, 0
  for _, span in ipairs(spans) do
    if span[1] > last then -- a new place (else it overlaps the one before: extend it)
      out[#out + 1] = sub(s, copied, span[1] - 1)
      out[#out + 1] = errors.REDACTED
    end
    if span[2] > last then last = span[2] end
    copied = last + 1
  end
  out[#out + 1] = sub(s, copied)
  return concat(out)
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
local function copy(v, a, b, copies)
  if type(v) == "string" then return dirty(v, a, b) and clean(v, a, b) or v end
  if type(v) ~= "table" then return v end
  if copies[v] then return copies[v] end
  local out = {}
  copies[v] = out
  for k, x in next, v do out[copy(k, a, b, copies)] = copy(x, a, b, copies) end
  return setmetatable(out, getmetatable(v))
end

-- Scrubs every field of our own table `t` in place.  A string that holds a
-- secret is rewritten; a table that holds one is replaced by a scrubbed copy,
-- so tables the caller may also hold (an async action) are never changed.
local function scrub_fields(t, a, b)
  if not a and not b then return t end
  for k, v in next, t do
    if type(v) == "string" then
      if dirty(v, a, b) then t[k] = clean(v, a, b) end
    elseif type(v) == "table" and holds(v, a, b, {}) then
      t[k] = copy(v, a, b, {})
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
