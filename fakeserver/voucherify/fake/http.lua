--- HTTP/1.1 on a cqueues socket, server side: read one request, write one response.
-- Enough of RFC 9112 for API clients: Content-Length and chunked request
-- bodies, keep-alive, and a hard cap on header and body sizes.
-- @module voucherify.fake.http

local http = {}

local MAX_HEADER_LINES = 100
local MAX_BODY = 64 * 1024 * 1024

http.REASONS = {
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [413] = "Payload Too Large", [429] = "Too Many Requests",
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

local function read_line(con)
  local line, err = con:read("*l")
  if not line then return nil, err end
  return (line:gsub("\r$", ""))
end

local function read_chunked(con)
  local parts, total = {}, 0
  while true do
    local size_line, err = read_line(con)
    if not size_line then return nil, err or "eof in chunked body" end
    local size = tonumber(size_line:match("^%x+"), 16)
    if not size then return nil, "bad chunk size" end
    if size == 0 then
      repeat local trailer = read_line(con) until trailer == nil or trailer == ""
      return table.concat(parts)
    end
    total = total + size
    if total > MAX_BODY then return nil, "body too large" end
    local chunk = con:read(size)
    if not chunk or #chunk ~= size then return nil, "eof in chunk" end
    parts[#parts + 1] = chunk
    read_line(con)
  end
end

--- Reads one request from the connection.
-- @return request `{ method, target, path, query_string, query, headers, body }`,
--   or nil and a reason ("closed" when the peer closed between requests)
function http.read_request(con)
  local line = read_line(con)
  if not line or line == "" then
    -- tolerate one stray empty line between keep-alive requests
    if line == "" then line = read_line(con) end
    if not line then return nil, "closed" end
  end
  local method, target, version = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  if not method then return nil, "bad request line" end
  local headers = {}
  for _ = 1, MAX_HEADER_LINES + 1 do
    local h = read_line(con)
    if not h then return nil, "eof in headers" end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if not name then return nil, "bad header line" end
    name = name:lower()
    headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
  end
  local body = ""
  if (headers["expect"] or ""):lower() == "100-continue" then
    -- clients that ask (curl does for large bodies) wait for this before sending the body
    con:write("HTTP/1.1 100 Continue\r\n\r\n")
    con:flush()
  end
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local err
    body, err = read_chunked(con)
    if not body then return nil, err end
  elseif headers["content-length"] then
    local n = tonumber(headers["content-length"])
    if not n or n < 0 or n > MAX_BODY then return nil, "bad content-length" end
    if n > 0 then
      body = con:read(n)
      if not body or #body ~= n then return nil, "eof in body" end
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

--- Writes a response. `body` is a string; `headers` a map of extra headers.
function http.write_response(con, status, headers, body, keep_alive)
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
  lines[#lines + 1] = status == 204 and "" or body
  local ok, err = con:write(table.concat(lines, "\r\n"))
  if not ok then return nil, err end
  return con:flush()
end

return http
