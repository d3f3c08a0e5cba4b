--- The nginx cosocket transport: HTTP/1.1 over ngx.socket.tcp, so that a
-- request handler waiting on the API does not block the worker.  Connections
-- go back to keep-alive pools named after scheme, host, port and TLS
-- verification.
--
-- It keeps the contract of voucherify.transport as the libcurl transport
-- does: `{ status, headers, body, reused }`, or nil and a failure
-- `{ reason, message, sent }` with the reasons listed there; the client's
-- settings are given once, to `new`.  nginx cannot honour `ca_file` (TLS is
-- verified against lua_ssl_trusted_certificate) nor a proxy: see
-- `unsupported`.  It treats a hostile answer as csrc/http.c does
-- (spec/hostile_transport_spec.lua runs the same cases through both):
-- * `req.idempotent` alone decides whether a request may be sent twice: an
--   idempotent one is sent again on another connection when a kept-alive
--   one died before answering (as libcurl does); any other connection that
--   dies after the request went out is a failure with `sent = true`, which
--   the retry policy (voucherify.retry) repeats only for idempotent calls;
-- * `timeout` bounds the whole attempt: every read waits only for what is
--   left, so a server dripping bytes cannot stretch it;
-- * header lines with a CR or NUL inside, a line without a colon, a status
--   line that is not HTTP/1.x, a Content-Length that is not one decimal
--   number, bad chunk framing, an unknown transfer or content coding: the
--   response is refused (a connection that said something wrong is closed);
-- * the header block is limited like libcurl's (HTTP_MAX_HEADER_BYTES and
--   _LINES in csrc/http.c), the body by `max_body_size`;
-- * bytes past the end of the response (a lying Content-Length) close the
--   connection instead of going back to the pool, so they can never be read
--   as the answer to the next request.
-- @module voucherify.transport.ngx

local files = require "voucherify.files"
local multipart = require "voucherify.multipart"
local transport = require "voucherify.transport"

local ngx_transport = {}

local Transport = { name = "ngx" }
Transport.__index = Transport

--- Keep-alive pool size and idle timeout.
ngx_transport.POOL_SIZE = 32
ngx_transport.IDLE_TIMEOUT = 60 * 1000
--- Response header limits: the same as csrc/http.c's.
ngx_transport.MAX_HEADER_BYTES = 64 * 1024
ngx_transport.MAX_HEADER_LINES = 500

-- bytes asked of the socket at a time, and sent at a time
local READ_SIZE = 65536
local SEND_SIZE = 65536

--- A new transport with the client's settings (connections live in nginx's pools).
-- @tparam[opt] table settings timeout, connect_timeout, verify_tls,
--   max_body_size (the client's configuration will do; see `unsupported`)
function ngx_transport.new(settings)
  settings = settings or {}
  local max = settings.max_body_size
  return setmetatable({
    timeout = settings.timeout or 60,
    connect_timeout = settings.connect_timeout or 10,
    verify = settings.verify_tls ~= false,
    max_body = (max or 0) > 0 and max or math.huge,
  }, Transport)
end

--- The first option the cosocket transport cannot honour, and why; nil when none.
-- (A client with `transport = "ngx"` refuses them; with "auto" they apply to
-- the calls libcurl sends.)
-- @tparam table opts the options given to voucherify.new
-- @return option name, reason
function ngx_transport.unsupported(opts)
  if opts.ca_file ~= nil then
    return "ca_file", "nginx verifies TLS against its lua_ssl_trusted_certificate directive: set that instead"
  end
  if type(opts.proxy) == "string" then
    return "proxy", "cosockets connect to the API directly; transport \"curl\" goes through a proxy"
  end
  return nil
end

local function fail(reason, message, sent)
  return nil, { reason = reason, message = message, sent = sent or false }
end

-- The reason for a socket error ("timeout", "closed", ...) while reading or sending.
local function broken(err)
  return err == "timeout" and "timeout" or "reset"
end

local function parse_url(u)
  local scheme, host, port, rest = u:match("^(https?)://([^/:?#]+):?(%d*)([^#]*)")
  if not scheme then return nil end
  if rest == "" or rest:sub(1, 1) == "?" then rest = "/" .. rest end
  return scheme, host, tonumber(port) or (scheme == "https" and 443 or 80), rest
end

-- A response being read: a buffer over receiveany, so that every wait is
-- bounded by what is left of the deadline, and lines are seen raw (receive("*l")
-- silently drops every CR, which would hide a bare CR inside a header).
local Reader = {}
Reader.__index = Reader

local function new_reader(sock, deadline)
  return setmetatable({ sock = sock, deadline = deadline, buf = "", pos = 1, received = 0,
    head_bytes = 0, head_lines = 0 }, Reader)
end

-- Reads more from the socket into the buffer; nil, "timeout" | "closed" | err.
function Reader:fill()
  ngx.update_time()
  local left = self.deadline - ngx.now()
  if left <= 0 then return nil, "timeout" end
  self.sock:settimeout(math.max(1, math.floor(left * 1000)))
  local data, err = self.sock:receiveany(READ_SIZE)
  if not data then return nil, err end
  self.received = self.received + #data
  if self.pos > 1 then
    self.buf, self.pos = self.buf:sub(self.pos), 1
  end
  self.buf = self.buf .. data
  return true
end

--- Bytes read but not consumed.
function Reader:pending()
  return #self.buf - self.pos + 1
end

-- The next line, without its LF, of at most `limit` bytes; nil, "too long"
-- or a socket error.  A line that arrives in pieces is kept as a list of
-- pieces until its LF comes, so a server dripping a long line costs linear time.
function Reader:line(limit)
  local pieces, size = nil, 0
  while true do
    local lf = self.buf:find("\n", self.pos, true)
    if lf then
      local tail = self.buf:sub(self.pos, lf - 1)
      self.pos = lf + 1
      if size + #tail > limit then return nil, "too long" end
      if pieces then
        pieces[#pieces + 1] = tail
        return table.concat(pieces)
      end
      return tail
    end
    if self:pending() > 0 then
      pieces = pieces or {}
      pieces[#pieces + 1] = self.buf:sub(self.pos)
      size = size + self:pending()
      self.buf, self.pos = "", 1
    end
    if size > limit then return nil, "too long" end
    local ok, err = self:fill()
    if not ok then return nil, err end
  end
end

-- The next line of the header block, counted against the header limits;
-- nil, "too large" | socket error.
function Reader:header_line()
  local line, err = self:line(ngx_transport.MAX_HEADER_BYTES - self.head_bytes)
  if not line then return nil, err == "too long" and "too large" or err end
  self.head_bytes = self.head_bytes + #line + 1
  self.head_lines = self.head_lines + 1
  if self.head_bytes > ngx_transport.MAX_HEADER_BYTES or self.head_lines > ngx_transport.MAX_HEADER_LINES then
    return nil, "too large"
  end
  return line
end

-- A line inside the body (chunk sizes), at most 1024 bytes.
function Reader:body_line()
  local line, err = self:line(1024)
  if not line and err == "too long" then return nil, "bad chunk" end
  return line, err
end

-- Appends exactly `n` bytes to `parts`.
function Reader:bytes(n, parts)
  while n > 0 do
    if self:pending() == 0 then
      local ok, err = self:fill()
      if not ok then return nil, err end
    end
    local take = math.min(n, self:pending())
    parts[#parts + 1] = self.buf:sub(self.pos, self.pos + take - 1)
    self.pos = self.pos + take
    n = n - take
  end
  return true
end

-- Appends everything until the server closes, at most `max` bytes.
function Reader:rest(parts, max)
  local total = 0
  while true do
    local n = self:pending()
    if n > 0 then
      total = total + n
      if total > max then return nil, "too large" end
      parts[#parts + 1] = self.buf:sub(self.pos)
      self.buf, self.pos = "", 1
    end
    local ok, err = self:fill()
    if not ok then
      if err == "closed" then return true end
      return nil, err
    end
  end
end

-- The reasons a response is refused, as csrc/http.c words them.
local BAD_LINE = "invalid response header: a CR, LF or NUL inside a header line"
local BAD_LENGTH = "invalid response header: Content-Length is not one decimal number"

-- Strips the line's CR and checks that no CR or NUL is left (RFC 9110 5.5).
local function clean(line)
  if line:sub(-1) == "\r" then line = line:sub(1, -2) end
  if line:find("\r", 1, true) or line:find("\0", 1, true) then return nil end
  return line
end

-- A Content-Length value: digits, or a list of identical ones (RFC 9112 6.3);
-- nil if invalid, math.huge for more than 18 digits (over any limit).
local function content_length(value)
  local length
  for item in (value .. ","):gmatch("([^,]*),") do
    local digits = item:match("^[ \t]*(%d+)[ \t]*$")
    local n = digits and (#digits > 18 and math.huge or tonumber(digits))
    if not n or (length and n ~= length) then return nil end
    length = n
  end
  return length
end

-- the failure of a header block over the limits
local HEAD_TOO_LARGE = "response headers larger than the limit"

-- Reads one header block (after its status line): the headers table, or nil,
-- reason, message.
local function read_headers(r, headers)
  local length
  while true do
    local raw, err = r:header_line()
    if not raw then
      if err == "too large" then return nil, "too_large", HEAD_TOO_LARGE end
      return nil, broken(err), "failed reading the headers: " .. tostring(err)
    end
    local line = clean(raw)
    if not line then return nil, "protocol", BAD_LINE end
    if line == "" then return headers, length end
    local first = line:sub(1, 1)
    if first ~= " " and first ~= "\t" then -- (an obs-fold continuation line is skipped)
      local name, value = line:match("^([^:]*):(.*)$")
      if not name then return nil, "protocol", "Header without colon" end
      if name:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
        name = name:lower()
        value = value:match("^[ \t]*(.-)[ \t]*$")
        if name == "content-length" then
          local n = content_length(value)
          if not n or (length and n ~= length) then return nil, "protocol", BAD_LENGTH end
          length = n
        end
        headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
      end
    end
  end
end

-- the failure of a body read that broke off
local function body_broken(err)
  return nil, broken(err), "failed reading the body: " .. tostring(err)
end

-- Reads a chunked body into `parts`; nil, reason, message on failure.
local function read_chunked(r, parts, max)
  local total = 0
  while true do
    local line, err = r:body_line()
    if not line then
      if err == "bad chunk" then return nil, "protocol", "chunk size line too long" end
      return body_broken(err)
    end
    local hex = line:match("^%x+")
    if not hex then return nil, "protocol", "Illegal or missing hexadecimal sequence in chunked-encoding" end
    if #hex > 16 then return nil, "protocol", "Too long hexadecimal number in chunked-encoding" end
    local size = tonumber(hex, 16)
    if size == 0 then
      -- trailers: checked and counted like headers, not kept
      local _, reason, message = read_headers(r, {})
      if reason then return nil, reason, message end
      return true
    end
    total = total + size
    if total > max then return nil, "too_large" end
    local ok
    ok, err = r:bytes(size, parts)
    if not ok then return body_broken(err) end
    line, err = r:body_line()
    if not line then return body_broken(err) end
    if not line:find("^\r*$") then return nil, "protocol", "Malformed encoding found in chunked-encoding" end
  end
end

-- Reads the body as the headers describe it: body, delimited (true when its
-- end was announced, so the connection may be reused); or nil, reason,
-- message (none for "too_large": the caller words it).
local function read_body(r, headers, length, max)
  local te = (headers["transfer-encoding"] or ""):lower()
  local parts = {}
  if te == "chunked" then
    local ok, reason, message = read_chunked(r, parts, max)
    if not ok then return nil, reason, message end
    return table.concat(parts), true
  elseif te ~= "" and te ~= "identity" then
    return nil, "protocol", "unsupported transfer encoding: " .. te
  end
  if length then
    if length > max then return nil, "too_large" end
    if length == math.huge then return nil, "protocol", BAD_LENGTH end
    local ok, err = r:bytes(length, parts)
    if not ok then return body_broken(err) end
    return table.concat(parts), true
  end
  -- no length: the body runs until the server closes
  local ok, err = r:rest(parts, max)
  if not ok then
    if err == "too large" then return nil, "too_large" end
    return body_broken(err)
  end
  return table.concat(parts), false
end

-- Sends `data` in pieces, each bounded by what is left of the deadline.
local function send_all(sock, deadline, data)
  for i = 1, #data, SEND_SIZE do
    ngx.update_time()
    local left = deadline - ngx.now()
    if left <= 0 then return nil, "timeout" end
    sock:settimeout(math.max(1, math.floor(left * 1000)))
    local ok, err = sock:send(data:sub(i, i + SEND_SIZE - 1))
    if not ok then return nil, err end
  end
  return true
end

-- Reads the status line and headers, skipping 1xx interim answers.
-- @return status, version, headers, length; or nil, reason, message
local function read_head(r)
  while true do
    local raw, err = r:header_line()
    if not raw then
      if err == "too large" then return nil, "too_large", HEAD_TOO_LARGE end
      if err == "timeout" then return nil, "timeout", "no answer from the server: timeout" end
      if r.received == 0 then return nil, "reset", "Empty reply from server" end
      return nil, "reset", "failed reading the status line: " .. tostring(err)
    end
    local line = clean(raw)
    if not line then return nil, "protocol", BAD_LINE end
    local major, minor, status, rest = line:match("^HTTP/(%d)%.(%d) (%d%d%d)(.*)$")
    status = tonumber(status)
    if not status or major ~= "1" or (minor ~= "0" and minor ~= "1") or status < 100
      or (rest ~= "" and rest:sub(1, 1) ~= " ") then
      return nil, "protocol", "not an HTTP/1.x answer"
    end
    local headers, length, message = read_headers(r, {})
    if not headers then return nil, length, message end
    if status >= 200 or status == 101 then return status, minor, headers, length end
  end
end

-- One attempt on one connection (pooled or new).
-- @return the response; or nil, failure, dead (true when a kept-alive
--   connection turned out dead before a single response byte: the request
--   may be sent again on another one when it is idempotent, as libcurl does)
function Transport:attempt(req, u, deadline)
  local sock = ngx.socket.tcp()
  local max, verify = self.max_body, self.verify
  ngx.update_time()
  local left_ms = math.max(1, math.floor((deadline - ngx.now()) * 1000))
  sock:settimeouts(math.min(math.max(1, math.floor((req.connect_timeout or self.connect_timeout) * 1000)), left_ms),
    left_ms, left_ms)
  -- a connection made without verification never serves a client that verifies
  local pool = ("voucherify:%s:%s:%d:%s"):format(u.scheme, u.host, u.port, verify and "verify" or "noverify")
  local ok, err = sock:connect(u.host, u.port, { pool = pool, pool_size = ngx_transport.POOL_SIZE })
  if not ok then
    local reason = err == "timeout" and "timeout" or tostring(err):find("resolve", 1, true) and "resolve" or "connect"
    return fail(reason, ("failed to connect to %s port %d: %s"):format(u.host, u.port, err))
  end
  local reused = sock:getreusedtimes() > 0
  if u.scheme == "https" and not reused then
    -- verification uses nginx's lua_ssl_trusted_certificate (see ngx_transport.unsupported)
    local called, session, why = pcall(sock.sslhandshake, sock, nil, u.host, verify)
    if not called then
      -- lua-resty-core 0.1.25 (Debian 12) raises "assertion failed!" instead of
      -- returning the error when a failing handshake completes without waiting
      -- (openresty/lua-resty-core#499); with verification on, that is a
      -- certificate nginx does not trust (its error.log names the problem)
      sock:close()
      return fail("tls", (verify and "SSL certificate problem (see nginx's error.log): "
        or "TLS handshake failed: ") .. tostring(session))
    end
    if not session then
      sock:close()
      local cert = tostring(why):find("certificate", 1, true) or tostring(why):find("verify", 1, true)
      return fail("tls", (cert and "SSL certificate problem: " or "TLS handshake failed: ") .. why)
    end
  end

  local lines = { ("%s %s HTTP/1.1"):format(req.method, u.target),
    "Host: " .. u.host .. ((u.port == 80 or u.port == 443) and "" or ":" .. u.port),
    "Connection: keep-alive", "Accept-Encoding: gzip" }
  for _, line in ipairs(req.headers or {}) do lines[#lines + 1] = line end
  local write_body
  if req.multipart then
    local content_type, length, writer = multipart.plan(req.multipart)
    if not content_type then
      sock:setkeepalive(ngx_transport.IDLE_TIMEOUT, ngx_transport.POOL_SIZE)
      return fail("upload", "cannot read the upload: " .. length)
    end
    lines[#lines + 1] = "Content-Type: " .. content_type
    lines[#lines + 1] = "Content-Length: " .. length
    write_body = writer
  elseif req.body or req.method == "POST" or req.method == "PUT" then
    lines[#lines + 1] = "Content-Length: " .. #(req.body or "")
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = req.body or ""
  ok, err = send_all(sock, deadline, table.concat(lines, "\r\n"))
  if ok and write_body then
    ok, err = write_body(function(piece) return send_all(sock, deadline, piece) end)
  end
  if not ok then
    sock:close()
    local _, failure = fail(broken(err), "failed sending the request: " .. tostring(err), true)
    return nil, failure, reused and err ~= "timeout"
  end

  -- from here on the server may have acted on the request: every failure is `sent`
  local r = new_reader(sock, deadline)
  local status, minor, headers, length = read_head(r)
  if not status then
    sock:close()
    local _, failure = fail(minor, headers, true)
    return nil, failure, reused and r.received == 0 and minor ~= "timeout"
  end
  local body, delimited = "", true
  if req.method ~= "HEAD" and status ~= 204 and status ~= 304 then
    local message
    body, delimited, message = read_body(r, headers, length, max)
    if not body then
      sock:close()
      if delimited == "too_large" then
        return fail("too_large", ("response body larger than the %d-byte limit"):format(max), true)
      end
      return fail(delimited, message, true)
    end
  end
  -- back to the pool only when the answer ended exactly where it said it would
  local connection = (headers.connection or ""):lower()
  if delimited and minor == "1" and r:pending() == 0 and not connection:find("close", 1, true) then
    sock:setkeepalive(ngx_transport.IDLE_TIMEOUT, ngx_transport.POOL_SIZE)
  else
    sock:close()
  end
  local encoding = (headers["content-encoding"] or ""):lower()
  if encoding == "gzip" or encoding == "x-gzip" or encoding == "deflate" then
    local inflated, why = require("voucherify.inflate").decode(body, max)
    if not inflated then return fail(why:find("limit", 1, true) and "too_large" or "protocol", why, true) end
    body = inflated
  elseif encoding ~= "" and encoding ~= "identity" then
    return fail("protocol", "Unrecognized content encoding type: " .. encoding, true)
  end
  if req.output_path and status >= 200 and status < 300 then
    -- the caller created the file: never create one, never follow a symlink
    local written, why = files.write_existing(req.output_path, body)
    if not written then
      return fail("write", "cannot write the response to " .. req.output_path .. ": " .. why, true)
    end
    body = ""
  end
  return { status = status, headers = headers, body = body, reused = reused }
end

--- How often a request is sent again on another connection after a kept-alive
-- one died before answering (libcurl's limit): idempotent requests only.
ngx_transport.MAX_RESENDS = 5

--- Sends a built request (see voucherify.request) over a cosocket, yielding
-- while it waits.  Only an idempotent request is ever sent twice (see
-- `attempt`), as with libcurl.
-- @return `{ status, headers, body, reused }`, or nil and `{ reason, message, sent }`
function Transport:send(req)
  local scheme, host, port, target = parse_url(req.url)
  if not scheme then return fail("url", "URL not understood") end
  local u = { scheme = scheme, host = host, port = port, target = target }
  if req.output_path then
    -- truncated before the request, as libcurl opens it: a file that cannot be
    -- written (missing, a symlink, not a regular file) fails the call unsent
    local ok, why = files.write_existing(req.output_path, "")
    if not ok then return fail("write", "cannot write the response to " .. req.output_path .. ": " .. why) end
  end
  ngx.update_time()
  local deadline = ngx.now() + (req.timeout or self.timeout)
  local resends = 0
  while true do
    local res, failure, dead = self:attempt(req, u, deadline)
    if res or not (dead and req.idempotent and resends < ngx_transport.MAX_RESENDS) then
      return res, failure
    end
    resends = resends + 1
  end
end

-- start, wait (the send, yielding the light thread) and collect
transport.blocking(Transport)

--- Nothing to close: connections belong to nginx's pools.
function Transport.close() end

return ngx_transport
