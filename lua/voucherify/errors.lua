--- Error objects: what every failed call returns as its second value, and
-- what iterators raise.  Its fields are in `Error`; `voucherify.is_error(v)`
-- tells one from anything else, and `tostring(err)` is one readable line:
--
--     voucherify: api error 404 (not_found): Resource not found - Cannot find order with id x
--       [GET https://api.voucherify.io/v1/orders/x] request_id=v-0baa1ad023d0656a84
--
-- (one line in fact; cut here).  A program reads `kind` first, then the
-- fields that kind sets: `status` and Voucherify's `code`/`key` for `"api"`,
-- `reason` for `"network"` and `"timeout"`, and so on.
--
-- No credential is ever stored in an error: URLs have secret query values
-- masked, and every string the error carries (nested tables and their keys
-- included) is scrubbed of the client's secrets, as sent or escaped the way a
-- server may echo them (any JSON escape, percent-encoding, mixed).
-- @module voucherify.errors
-- @usage
-- local order, err = client.orders:create(order)
-- if not order then
--   if err.kind == "api" and err.status == 400 then
--     print("rejected:", err.key, err.message, err.details)
--   elseif err.kind == "network" or err.kind == "timeout" then
--     print("no answer:", err.reason, err.attempts)     -- e.g. "connect", 3
--   end
--   log(tostring(err))                                  -- one line, no credential in it
-- end

-- Scrubbing lives here alone: `errors.new` for error objects, `errors.scrub`
-- for anything else shown to the caller (the `on_response` info).

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

--- True for error objects made by this library (`voucherify.is_error`).
-- @param v any value
-- @treturn boolean
-- @usage if voucherify.is_error(e) then print(e.kind) end
function errors.is_error(v)
  return getmetatable(v) == Error
end

local SECRET_QUERY_KEYS = { token = true, access_token = true, app_token = true }

--- Masks the values of secret query parameters (e.g. a download `token`) in a URL.
-- @local
function errors.safe_url(u)
  if type(u) ~= "string" then return u end
  return (u:gsub("([?&])([^=&#]+)=([^&#]*)", function(sep, k, v)
    if SECRET_QUERY_KEYS[k:lower()] and v ~= "" then return sep .. k .. "=[redacted]" end
  end))
end

--- What stands in place of a secret in a scrubbed text.
-- @local
errors.REDACTED = "[redacted]"
--- Secrets shorter than this are scrubbed only where they stand as a
-- credential (after `X-App-Token:`, `Bearer`, `token=`, ...: see
-- CREDENTIAL_CONTEXTS): everywhere, they would mangle every text.
-- @local
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
-- @local
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
-- @local
errors.scrub = scrub_fields

--- Makes an error object from `fields` (a table of its own, which becomes the
-- error), masking secret query values in `url` and scrubbing every string it
-- carries of the secrets in both lists.
-- @tparam table fields
-- @tparam[opt] {string,...} secrets the client's secrets
-- @tparam[opt] {string,...} more more secrets (e.g. a download token)
-- @return the error object
-- @local
function errors.new(fields, secrets, more)
  fields.url = errors.safe_url(fields.url)
  if fields.message == nil then fields.message = tostring(fields.kind) .. " error" end
  scrub_fields(fields, secrets, more)
  return setmetatable(fields, Error)
end

--- The error object.  Every error has `kind` and `message`; the other fields
-- are set when they apply.  Strings longer than 256 KiB (`body` or any other)
-- are not kept: `"[N bytes not kept]"` stands in their place, so that
-- scrubbing secrets from a hostile answer cannot stretch a call.
-- @table Error
-- @field kind what failed:
--
-- * `"api"`: the API answered with an HTTP status >= 400 (`status`, and
--   Voucherify's `code`, `key`, `details`, ... from its error body); also the
--   billing-cycle stop of a rate limit (status 429, `limit_type`
--   `"api_calls_cycle"`, nothing sent);
-- * `"timeout"`: the call's `timeout` (or a wait's) ran out: an attempt timed
--   out (`reason = "timeout"`), no time was left for another attempt, a
--   rate-limit turn would come after the deadline (nothing sent), or an
--   async action or export is still running at the end of `wait` (`action`
--   or `export`);
-- * `"network"`: no usable answer: DNS, connect, TLS, a reset, an answer that
--   breaks HTTP, an answer over `max_body_size`, a download that cannot be
--   saved (`reason` says which);
-- * `"decode"`: the answer is not the JSON expected (not JSON, empty, not an
--   object where one is needed, an unexpected 1xx/3xx status, a list page
--   without its list, an OAuth token that is not one line of visible ASCII);
-- * `"async"`: an async action ended FAILED (`action`) or an export ended
--   ERROR (`export`); `status` is not set;
-- * `"page_limit"`: an iterator reached a cap of the API with records left
--   (the orders list's 100 pages: use `orders:export`; customers sharing
--   one millisecond beyond what the list can reach: `remaining`,
--   `timestamp`); raised by the iterator;
-- * `"pagination"`: a cursor walk stopped making progress (the API kept
--   answering pages with nothing new; `cursor`); raised by the iterator.
-- @field message always set: what happened, in one line (Voucherify's
--   `message` for an `api` error)
-- @field status the HTTP status of the answer that failed (`api`, `decode`);
--   never that of a poll
-- @field code Voucherify's error code (e.g. `404`), from its error body
-- @field key Voucherify's error key (e.g. `"not_found"`)
-- @field details Voucherify's details text
-- @field request_id Voucherify's request id (body or `X-Request-Id`): quote it to support
-- @field resource_id the resource the error is about (Voucherify's; or the
--   async action's or export's id for `async` and wait `timeout` errors)
-- @field resource_type its type (Voucherify's; `"action"` or `"export"` for `async` errors)
-- @field error Voucherify's `error` object: `error.message` is the text a
--   user configured on a validation rule (also shown by `tostring`)
-- @field limit_type for a 429: `X-Rate-Limit-Type` (`"api_calls"`,
--   `"bulk_api_calls"`, `"api_calls_cycle"`)
-- @field retry_after seconds to wait, from `Retry-After` or `X-Rate-Limit-Retry`, when known
-- @field method the HTTP method of the failed request
-- @field url its URL; secret query values are masked (`token=[redacted]`)
-- @field body the raw answer body (`api` and `decode` errors)
-- @field attempts how many attempts the call made
-- @field reason for `network` and `timeout` errors from the transport: why the
--   transfer failed, by name: `"url"`, `"resolve"`, `"connect"`, `"tls"`,
--   `"timeout"`, `"reset"`, `"protocol"`, `"too_large"`, `"resend_refused"`,
--   `"write"`, `"upload"`, `"memory"` or `"other"` (voucherify.transport's
--   REASONS).  Absent on errors that no transfer caused.
-- @field curl_code libcurl's error number (`CURLcode`) when the libcurl
--   transport failed: a detail for bug reports; `reason` is what to read
-- @field action the async action (`async` errors and wait timeouts of `async_actions:wait`)
-- @field export the export (`async` errors and wait timeouts of `exports:wait`, `exports:download`)
-- @field remaining for a customers `page_limit`: how many customers could not
--   be listed, when the API reported a total
-- @field timestamp for a customers `page_limit`: the millisecond (ISO 8601) they share
-- @field cursor for `pagination` (and a customers `page_limit`): where the walk stood
-- @usage
-- local ok, err = pcall(function() for o in client.orders:each() do handle(o) end end)
-- if not ok and voucherify.is_error(err) and err.kind == "page_limit" then
--   -- past the list's 100 pages: export the rest
--   local export = assert(client.orders:export { fields = { "id", "source_id" } })
-- end

return errors
