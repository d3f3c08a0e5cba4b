--- The nginx cosocket transport: HTTP/1.1 over ngx.socket.tcp, so that a
-- request handler waiting on the API does not block the worker.  Connections
-- go back to keep-alive pools named after host, port and TLS settings.
--
-- It returns what the libcurl transport returns: `{ status, headers, body }`,
-- or nil and a failure `{ code, message, sent, too_large }` whose `code` uses
-- libcurl's numbers (7 connect, 28 timeout, 35/60 TLS, 52/56/18 receive), so
-- everything above the transport is shared.
-- @module voucherify.transport.ngx

local multipart = require "voucherify.multipart"

local ngx_transport = {}

local Transport = {}
Transport.__index = Transport

--- Keep-alive pool size and idle timeout.
ngx_transport.POOL_SIZE = 32
ngx_transport.IDLE_TIMEOUT = 60 * 1000

--- A new transport (stateless: connections live in nginx's pools).
function ngx_transport.new()
  return setmetatable({ last_reused = 0 }, Transport)
end

local function fail(code, message, sent, too_large)
  return nil, { code = code, message = message, sent = sent or false, too_large = too_large or false }
end

local function parse_url(u)
  local scheme, host, port, rest = u:match("^(https?)://([^/:?#]+):?(%d*)([^#]*)")
  if not scheme then return nil end
  if rest == "" or rest:sub(1, 1) == "?" then rest = "/" .. rest end
  return scheme, host, tonumber(port) or (scheme == "https" and 443 or 80), rest
end

local function ms(seconds, default)
  return math.max(1, math.floor((seconds or default) * 1000))
end

-- Reads the body as the headers describe it.
local function read_body(sock, headers, max)
  local te = (headers["transfer-encoding"] or ""):lower()
  if te:find("chunked", 1, true) then
    local parts, total = {}, 0
    while true do
      local line, err = sock:receive("*l")
      if not line then return nil, err end
      local size = tonumber(line:match("^%x+"), 16)
      if not size then return nil, "bad chunk size" end
      if size == 0 then
        repeat line, err = sock:receive("*l") until not line or line == ""
        if not line then return nil, err end
        return table.concat(parts), nil, true
      end
      total = total + size
      if total > max then return nil, "too large" end
      local chunk
      chunk, err = sock:receive(size)
      if not chunk then return nil, err end
      parts[#parts + 1] = chunk
      sock:receive("*l")
    end
  end
  local length = tonumber(headers["content-length"])
  if length then
    if length > max then return nil, "too large" end
    if length == 0 then return "", nil, true end
    local body, err = sock:receive(length)
    if not body then return nil, err end
    return body, nil, true
  end
  -- no length: the body runs until the server closes
  local body, err = sock:receive("*a")
  if not body then return nil, err end
  if #body > max then return nil, "too large" end
  return body, nil, false
end

--- Sends a built request (see voucherify.request) over a cosocket.
function Transport:send(req)
  local scheme, host, port, target = parse_url(req.url)
  if not scheme then return fail(3, "URL not understood") end
  local max = req.max_body_size or math.huge
  local sock = ngx.socket.tcp()
  local total_ms = ms(req.timeout, 60)
  sock:settimeouts(math.min(ms(req.connect_timeout, 10), total_ms), total_ms, total_ms)
  local pool = ("voucherify:%s:%s:%d:%s:%s"):format(scheme, host, port, tostring(req.verify_tls ~= false),
    req.ca_file or "")
  local ok, err = sock:connect(host, port, { pool = pool, pool_size = ngx_transport.POOL_SIZE })
  if not ok then
    return fail(err == "timeout" and 28 or 7, ("failed to connect to %s port %d: %s"):format(host, port, err))
  end
  self.last_reused = sock:getreusedtimes()
  if scheme == "https" and self.last_reused == 0 then
    -- verification uses nginx's lua_ssl_trusted_certificate (ca_file cannot be set per request)
    ok, err = sock:sslhandshake(nil, host, req.verify_tls ~= false)
    if not ok then
      sock:close()
      local cert = tostring(err):find("certificate", 1, true) or tostring(err):find("verify", 1, true)
      return fail(cert and 60 or 35, (cert and "SSL certificate problem: " or "TLS handshake failed: ") .. err)
    end
  end

  local lines = { ("%s %s HTTP/1.1"):format(req.method, target),
    "Host: " .. host .. ((port == 80 or port == 443) and "" or ":" .. port),
    "Connection: keep-alive", "Accept-Encoding: gzip" }
  for _, line in ipairs(req.headers or {}) do lines[#lines + 1] = line end
  local write_body
  if req.multipart then
    local content_type, length, writer = multipart.plan(req.multipart)
    if not content_type then return fail(26, "cannot read the upload: " .. length) end
    lines[#lines + 1] = "Content-Type: " .. content_type
    lines[#lines + 1] = "Content-Length: " .. length
    write_body = writer
  elseif req.body or req.method == "POST" or req.method == "PUT" then
    lines[#lines + 1] = "Content-Length: " .. #(req.body or "")
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = req.body or ""
  ok, err = sock:send(table.concat(lines, "\r\n"))
  if ok and write_body then ok, err = write_body(function(piece) return sock:send(piece) end) end
  if not ok then
    sock:close()
    return fail(err == "timeout" and 28 or 55, "failed sending the request: " .. tostring(err), true)
  end

  local status_line
  status_line, err = sock:receive("*l")
  if not status_line then
    sock:close()
    return fail(err == "timeout" and 28 or 52, "no answer from the server: " .. tostring(err), true)
  end
  local version, status = status_line:match("^HTTP/(%d%.%d) (%d%d%d)")
  if not status then
    sock:close()
    return fail(8, "not an HTTP answer", true)
  end
  local headers = {}
  while true do
    local line
    line, err = sock:receive("*l")
    if not line then
      sock:close()
      return fail(err == "timeout" and 28 or 56, "failed reading the headers: " .. tostring(err), true)
    end
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
  end
  local body, complete = "", true
  if req.method ~= "HEAD" and tonumber(status) ~= 204 and tonumber(status) ~= 304 then
    body, err, complete = read_body(sock, headers, max)
    if not body then
      sock:close()
      if err == "too large" then
        return fail(23, ("response body larger than the %d-byte limit"):format(max), true, true)
      end
      return fail(err == "timeout" and 28 or 18, "failed reading the body: " .. tostring(err), true)
    end
  end
  if complete and version == "1.1" and (headers.connection or ""):lower() ~= "close" then
    sock:setkeepalive(ngx_transport.IDLE_TIMEOUT, ngx_transport.POOL_SIZE)
  else
    sock:close()
  end
  local encoding = (headers["content-encoding"] or ""):lower()
  if encoding == "gzip" or encoding == "deflate" then
    local inflated, why = require("voucherify.inflate").decode(body, max)
    if not inflated then return fail(61, why, true, why:find("limit", 1, true) ~= nil) end
    body = inflated
  end
  status = tonumber(status)
  if req.output_path and status >= 200 and status < 300 then
    local f, why = io.open(req.output_path, "wb")
    if not f then return fail(23, "cannot write the response to " .. req.output_path .. ": " .. why, true) end
    f:write(body)
    f:close()
    body = ""
  end
  return { status = status, headers = headers, body = body }
end

--- Yields the current request handler for `seconds`.
function Transport.sleep(_, seconds)
  ngx.sleep(seconds)
end

--- Nothing to close: connections belong to nginx's pools.
function Transport.close() end

return ngx_transport
