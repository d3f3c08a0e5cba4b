--- HTTP/1.1 on a cqueues socket, server side: read one request, write one response.
-- Enough of RFC 9112 for API clients: Content-Length and chunked request
-- bodies, keep-alive, and a hard cap on header and body sizes.
-- @module voucherify.fake.http

local http = {}

local MAX_HEADER_LINES = 100
local MAX_BODY = 64 * 1024 * 1024

--- Seconds a request's head, then its body, may take to arrive (a client
-- that sends a byte now and then must not hold a connection for ever).
http.REQUEST_TIMEOUT = 30
--- Seconds an idle keep-alive connection is kept open.
http.IDLE_TIMEOUT = 60

http.REASONS = {
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [413] = "Payload Too Large",
  [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout",
}

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end
http.unescape = unescape

--- Parses a query string into an ordered list of { name, value } pairs.
-- Names and values are percent-decoded and `+` means a space.
function http.parse_query(qs)
  local pairs_ = {}
  if qs == nil or qs == "" then return pairs_ end
  for part in qs:gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    if not k then k, v = part, "" end
    pairs_[#pairs_ + 1] = { unescape((k:gsub("+", " "))), unescape((v:gsub("+", " "))) }
  end
  return pairs_
end

--- `s` as valid UTF-8: each byte that does not start a valid character
-- becomes U+FFFD (the replacement character).
function http.utf8_text(s)
  local out, i = {}, 1
  while true do
    local n, bad = utf8.len(s, i)
    if n then
      out[#out + 1] = s:sub(i)
      return table.concat(out)
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
  end
end

local monotime = require("cqueues").monotime

-- a reader of `con` whose reads all end by `deadline` (monotonic seconds)
local function reader(con, deadline)
  local function timeout() return math.max(deadline - monotime(), 0) end
  return {
    line = function()
      local line, err = con:xread("*l", timeout())
      if not line then return nil, err end
      return (line:gsub("\r$", ""))
    end,
    bytes = function(n)
      return con:xread(n, timeout())
    end,
  }
end

local function read_chunked(r)
  local parts, total = {}, 0
  while true do
    local size_line, err = r.line()
    if not size_line then return nil, err or "eof in chunked body" end
    -- hex digits, then optional chunk extensions; at most 8 digits (4 GiB) is plenty
    local hex = size_line:match("^(%x+)[ \t;]?") or size_line:match("^(%x+)$")
    local size = hex and #hex <= 8 and tonumber(hex, 16)
    if not size then return nil, "bad chunk size" end
    if size == 0 then
      repeat local trailer = r.line() until trailer == nil or trailer == ""
      return table.concat(parts)
    end
    total = total + size
    if total > MAX_BODY then return nil, "body too large" end
    local chunk = r.bytes(size)
    if not chunk or #chunk ~= size then return nil, "eof in chunk" end
    parts[#parts + 1] = chunk
    r.line()
  end
end

-- why a read failed: a timeout gets 408, anything else `otherwise`
local function failure(err, otherwise)
  if err == require("cqueues.errno").ETIMEDOUT then return "request timeout", 408 end
  return otherwise, 400
end

--- Reads one request from the connection.  The first byte may take
-- `opts.idle` seconds to come (default `http.IDLE_TIMEOUT`), the rest of the
-- head `opts.timeout` (default `http.REQUEST_TIMEOUT`), and the body as long again.
-- @return request `{ method, target, path, query_string, query, headers, body }`,
--   or nil, a reason and the status to answer with (400, 408 or 431); the
--   reason is "closed", with no status, when the peer closed or stayed idle between requests
function http.read_request(con, opts)
  local timeout = opts and opts.timeout or http.REQUEST_TIMEOUT
  local idle = opts and opts.idle or http.IDLE_TIMEOUT
  local first = con:xread(1, idle)
  if not first or first == "" then return nil, "closed" end
  con:unget(first)
  local r = reader(con, monotime() + timeout)
  local line, err
  line, err = r.line()
  if line == "" then line, err = r.line() end -- tolerate one stray empty line between keep-alive requests
  if not line then return nil, failure(err, "eof in request line") end
  local method, target, version = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  if not method then return nil, "bad request line", 400 end
  local headers, ended = {}, false
  for _ = 1, MAX_HEADER_LINES do
    local h
    h, err = r.line()
    if not h then return nil, failure(err, "eof in headers") end
    if h == "" then
      ended = true
      break
    end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if not name then return nil, "bad header line", 400 end
    name = name:lower()
    headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
  end
  if not ended then return nil, ("more than %d header lines"):format(MAX_HEADER_LINES), 431 end
  r = reader(con, monotime() + timeout)
  local body = ""
  if (headers["expect"] or ""):lower() == "100-continue" then
    -- clients that ask (curl does for large bodies) wait for this before sending the body
    con:write("HTTP/1.1 100 Continue\r\n\r\n")
    con:flush()
  end
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    body, err = read_chunked(r)
    if not body then return nil, failure(err, err == "bad chunk size" and err or "eof in chunked body") end
  elseif headers["content-length"] then
    -- digits only: not "0x2", "2e0", "+2", "-0", nor two lengths ("2, 2")
    local digits = headers["content-length"]
    local n = #digits <= 12 and digits:match("^%d+$") and tonumber(digits)
    if not n or n > MAX_BODY then return nil, "bad content-length", 400 end
    if n > 0 then
      body, err = r.bytes(n)
      if not body or #body ~= n then return nil, failure(err, "eof in body") end
    end
  end
  local path, qs = target:match("^([^?]*)%??(.*)$")
  return {
    method = method,
    version = version,
    target = target,
    path = path,
    query_string = qs,
    query = http.parse_query(qs),
    headers = headers,
    body = body,
  }
end

--- Writes a response. `body` is a string; `headers` a map of extra headers;
-- `head_only`: the answer to a HEAD request (the headers say the body's length, no body follows).
function http.write_response(con, status, headers, body, keep_alive, head_only)
  body = body or ""
  local lines = { ("HTTP/1.1 %d %s"):format(status, http.REASONS[status] or "Status") }
  local has_length = false
  for name, value in pairs(headers or {}) do
    lines[#lines + 1] = name .. ": " .. value
    if name:lower() == "content-length" then has_length = true end
  end
  if not has_length and status ~= 204 then
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  lines[#lines + 1] = "Connection: " .. (keep_alive and "keep-alive" or "close")
  lines[#lines + 1] = ""
  lines[#lines + 1] = (status == 204 or head_only) and "" or body
  local ok, err = con:write(table.concat(lines, "\r\n"))
  if not ok then return nil, err end
  return con:flush()
end

return http
