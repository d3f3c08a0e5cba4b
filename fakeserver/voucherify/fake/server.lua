--- The fake Voucherify API server: a cqueues event loop, one coroutine per
-- connection, so a slow answer on one connection never stalls the others.
--
--   local server = require "voucherify.fake.server"
--   local srv = server.new{ app_id = "id", app_token = "secret" }
--   print(srv:listen("127.0.0.1", 0))   --> http://127.0.0.1:PORT
--   srv:run()
-- @module voucherify.fake.server

local cqueues = require "cqueues"
local socket = require "cqueues.socket"
local errno = require "cqueues.errno"
local json = require "voucherify.json"
local api_error = require "voucherify.fake.api_error"
local auth = require "voucherify.fake.auth"
local faults = require "voucherify.fake.faults"
local http = require "voucherify.fake.http"
local limits = require "voucherify.fake.limits"
local router = require "voucherify.fake.router"
local state_mod = require "voucherify.fake.state"

local server = {}

--- Default credentials, printed at start-up.
server.DEFAULT_APP_ID = "fake-app-id"
server.DEFAULT_APP_TOKEN = "fake-app-token"

--- The modules whose routes make up the API; one line per module.  Each
-- returns `function(api, downloads)`: the two routers to add routes to.
server.HANDLERS = {
  "voucherify.fake.handlers.orders",
  "voucherify.fake.handlers.customers",
  "voucherify.fake.handlers.jobs",
  "voucherify.fake.handlers.oauth",
}

local Server = {}
Server.__index = Server

local MAX_LOGGED_BODY = 64 * 1024

--- A new server.
-- @tparam table opts `app_id`, `app_token`, `access_token` (string or list),
--   `oauth_ttl` (seconds, default 900), `tls` (`{ cert = path, key = path }`:
--   the API listener speaks HTTPS), `limits` (latency and rate limits, see
--   `voucherify.fake.limits`; raises when invalid), `log` (function: gets
--   one line of text), `verbose` (log one line per request: method, path,
--   status, time in ms), `strict` (given to the API router: `router.new{ strict = }`),
--   `request_timeout` (seconds a request's head, then its body, may take; default
--   `http.REQUEST_TIMEOUT`: 408 and close after), `idle_timeout` (seconds an idle
--   keep-alive connection stays open; default `http.IDLE_TIMEOUT`)
function server.new(opts)
  opts = opts or {}
  local tokens = {}
  local given = opts.access_token
  if type(given) == "string" then given = { given } end
  for _, t in ipairs(given or {}) do tokens[t] = true end
  local self = setmetatable({
    config = {
      app_id = opts.app_id or server.DEFAULT_APP_ID,
      app_token = opts.app_token or server.DEFAULT_APP_TOKEN,
      access_tokens = tokens,
      oauth_ttl = opts.oauth_ttl or 900,
    },
    tls = opts.tls and server.tls_context(opts.tls),
    state = state_mod.new(),
    limits = limits.new(opts.limits),
    -- `strict` reaches the API router (voucherify.fake.router) for its request checks
    api = router.new { strict = opts.strict },
    downloads = router.new(), -- served on a listener of its own, like the download host
    control = router.new(),
    log = opts.log or function() end,
    verbose = opts.verbose, -- one line per request through `log`
    read_opts = { timeout = opts.request_timeout, idle = opts.idle_timeout },
    cq = cqueues.new(),
  }, Server)
  for _, name in ipairs(server.HANDLERS) do require(name)(self.api, self.downloads) end
  require("voucherify.fake.handlers.control")(self.control)
  return self
end

--- Forgets all data, requests and faults, and goes back to the start-up
-- latency and limits with full budgets and zero counts.
function Server:reset()
  self.state = state_mod.new()
  self.limits:reset()
end

--- A luaossl server context from PEM files `{ cert = path, key = path }`.
function server.tls_context(files)
  local context = require "openssl.ssl.context"
  local x509 = require "openssl.x509"
  local pkey = require "openssl.pkey"
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
  end
  local ctx = context.new("TLS", true)
  assert(ctx:setCertificate(x509.new(read(files.cert), "PEM")))
  assert(ctx:setPrivateKey(pkey.new(read(files.key), "PEM")))
  return ctx
end

local function json_response(status, body, headers)
  if status == 204 or body == nil then return status, headers or {}, "" end
  if type(body) == "string" then
    local h = { ["Content-Type"] = "text/plain; charset=utf-8" }
    for k, v in pairs(headers or {}) do h[k] = v end
    return status, h, body
  end
  local text, err = json.encode(body)
  if not text then
    status, body = 500, { code = 500, key = "internal", message = "Fake server could not encode",
      details = err, request_id = api_error.request_id() }
    text = assert(json.encode(body))
  end
  return status, { ["Content-Type"] = "application/json; charset=utf-8" }, text
end

-- the first `max` bytes of `s` at most, cut before a character that would not fit whole
local function cut(s, max)
  if #s <= max then return s end
  local stop = max
  -- a continuation byte next: the character it belongs to starts at most 3 bytes back
  while stop > max - 3 and (s:byte(stop + 1) & 0xC0) == 0x80 do stop = stop - 1 end
  return s:sub(1, stop)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local quad = {}
    for k = 1, 4 do
      local v = (n >> (6 * (4 - k))) & 63
      quad[k] = B64:sub(v + 1, v + 1)
    end
    if not b then quad[3] = "=" end
    if not c then quad[4] = "=" end
    out[#out + 1] = table.concat(quad)
  end
  return table.concat(out)
end

-- Adds `req` to the request log (GET /_fake/requests); its `status` is
-- filled in once it is answered.  Everything in an entry is valid UTF-8 (it
-- is sent as JSON): bytes that are not become U+FFFD, and a body that is not
-- UTF-8 is also given exactly, in base64, as `body_base64`.
local function log_request(state, req, listener)
  local log = state.request_log
  local headers = {}
  for k, v in pairs(req.headers) do headers[http.utf8_text(k)] = http.utf8_text(v) end
  local body = cut(req.body, MAX_LOGGED_BODY)
  local entry = {
    method = req.method, path = http.utf8_text(req.path), query = http.utf8_text(req.query_string), headers = headers,
    connection = req.connection, listener = listener, body = http.utf8_text(body),
    body_base64 = not utf8.len(body) and base64(body) or nil,
  }
  log[#log + 1] = entry
  req.log_entry = entry
end

-- the gateway's answer to a body over a route's limit
local function too_large(limit)
  return 413, { statusCode = 413, error = "Request Entity Too Large",
    message = ("Payload content length greater than maximum allowed: %d"):format(limit) }
end

local function is_control(req) return req.path:sub(1, 7) == "/_fake/" end

--- Answers one parsed request that arrived on `listener` ("api" or "download").
-- @return status, headers, body (a string), and the fault applied, if any
function Server:dispatch(req, listener)
  if listener == "download" then
    log_request(self.state, req, listener)
    local handler, params = self.downloads:match(req.method, req.path)
    if not handler then return json_response(api_error.no_route(req.method, req.path)) end
    return json_response(handler(req, { state = self.state, params = params, server = self }))
  end
  if is_control(req) then
    local handler, params, opts = self.control:match(req.method, req.path)
    return self:call_route(req, handler, params, opts, true)
  end
  log_request(self.state, req, listener)
  local lim = self.limits
  local handler, params, opts, op = self.api:match(req.method, req.path)
  local kind = opts and opts.bulk and "bulk" or "api"
  local fault = faults.take(self.state, req)
  if fault then
    local status, body, headers = faults.before(fault)
    if status then
      -- an answer from in front of the API: it takes no budget, but says what is left
      local s, h, b = json_response(status, body, headers)
      return s, lim:headers(lim:peek(kind), h), b, fault
    end
  end
  -- the API: credentials, then the rate limits, then the route; every answer
  -- carries the X-Rate-Limit-* headers of the budget the call draws on
  local s, h, b
  if not (opts and opts.public)
    and not auth.allowed(self.config, req.headers, self.state.oauth_tokens, state_mod.now_ms(self.state)) then
    s, h, b = json_response(api_error.unauthorized())
    return s, lim:headers(lim:peek(kind, true), h), b, fault
  end
  local verdict = lim:admit(kind)
  if verdict.refused then
    s, h, b = json_response(api_error.too_many_requests(lim:details(verdict)))
  else
    s, h, b = self:call_route(req, handler, params, opts, false, op)
  end
  return s, lim:headers(verdict, h), b, fault
end

-- How deep a request's JSON may nest: the answers that hold it nest it
-- deeper, and must still encode (voucherify.json's limit is 1000 levels).
local MAX_BODY_DEPTH = 100

-- whether `v` nests deeper than `max` levels
local function too_deep(v, max)
  if type(v) ~= "table" then return false end
  if max <= 0 then return true end
  for _, x in pairs(v) do
    if too_deep(x, max - 1) then return true end
  end
  return false
end

local function is_json(req) return (req.headers["content-type"] or ""):find("json", 1, true) ~= nil end

-- Calls the route `routes:match` found (handler, params, opts, operation; or
-- nil and why).  `control`: a control call, whose body is JSON whatever its
-- Content-Type.  An API call to an operation that takes JSON must say so:
-- another Content-Type with a body is a 400, as is no body where one is required.
function Server:call_route(req, handler, params, opts, control, op)
  if not handler then
    if params == "method_not_allowed" then
      return json_response(api_error.method_not_allowed(req.method, req.path))
    end
    return json_response(api_error.no_route(req.method, req.path))
  end
  if opts.max_body and #req.body > opts.max_body then
    return json_response(too_large(opts.max_body))
  end
  local ctx = { state = self.state, params = params, server = self }
  if control and req.body ~= "" then
    local value, err = json.decode(req.body)
    if value == nil then
      return json_response(400, { code = 400, key = "invalid_payload",
        message = "the body is not valid JSON: " .. tostring(err) })
    end
    ctx.json_body = value
  elseif control then
    ctx.json_body = nil
  elseif req.body ~= "" and is_json(req) then
    local value, err = json.decode(req.body)
    if value == nil then
      return json_response(api_error.invalid_payload("Invalid JSON: " .. err))
    end
    if too_deep(value, MAX_BODY_DEPTH) then
      return json_response(api_error.invalid_payload(
        ("Request body nests deeper than %d levels"):format(MAX_BODY_DEPTH)))
    end
    ctx.json_body = value
  elseif op and op.body_kind == "json" then
    if req.body ~= "" then
      local sent = req.headers["content-type"]
      return json_response(api_error.invalid_payload(("Request body should be application/json, not %s")
        :format(sent and http.utf8_text(sent) or "sent without a Content-Type")))
    end
    -- no body: nil, which the operation's check refuses when a body is required
  elseif req.method == "POST" or req.method == "PUT" then
    ctx.json_body = {}
  end
  local ok, status, body, headers = pcall(handler, req, ctx)
  if not ok then
    -- the log has the error; the answer never shows the server's files
    self.log("handler error: " .. tostring(status))
    return json_response(500, { code = 500, key = "internal", message = "Fake server error",
      details = ("%s %s failed in the fake server"):format(req.method, http.utf8_text(req.path)),
      request_id = api_error.request_id() })
  end
  return json_response(status, body, headers)
end

-- Notes the answer to `req` (`status`, nil when the connection closes
-- unanswered): in the request log, and with `verbose` one line in the log,
-- written before the answer so that a client that has its answer finds it.
function Server:answered(req, status, started)
  if req.log_entry then req.log_entry.status = status or json.null end
  if self.verbose then
    -- control bytes in a path (an escape sequence) are shown percent-encoded, never sent to a terminal
    local path = req.path:gsub("[%c\127-\255]", function(c) return ("%%%02X"):format(c:byte()) end)
    self.log(("%s %s %s %.1f ms"):format(req.method, path, status and tostring(status) or "closed",
      (cqueues.monotime() - started) * 1000))
  end
end

-- Answers one request on `con`; false when the connection is to close.
function Server:answer(con, req)
  local started = cqueues.monotime()
  local status, headers, body, fault = self:dispatch(req, req.listener)
  local keep_alive = (req.headers.connection or ""):lower() ~= "close"
    and req.version == "1.1" and not self.stopping
  if fault and fault.close == "before" then
    self:answered(req, nil, started)
    return false
  end
  if not is_control(req) then
    -- the network's round trip; this connection's coroutine waits, the others go on
    local wait = self.limits:delay()
    if wait > 0 then cqueues.sleep(wait) end
  end
  if fault then
    status, headers, body = faults.after(fault, status, headers, body)
    if fault.close == "mid_body" then
      self:answered(req, status, started)
      headers["Content-Length"] = tostring(#body)
      http.write_response(con, status, headers, body:sub(1, #body // 2), false)
      return false
    end
  end
  self:answered(req, status, started)
  return http.write_response(con, status, headers, body, keep_alive, req.method == "HEAD") and keep_alive
end

function Server:serve_connection(con, listener)
  self.connections = (self.connections or 0) + 1
  local connection = self.connections
  con:onerror(function(_, _, why) return why end)
  if self.tls and listener == "api" then
    -- a client that rejects our certificate ends the handshake: nothing to answer
    if not con:starttls(self.tls, 5) then
      con:close()
      return
    end
  end
  con:setmode("b", "bf") -- full buffering: one send per response, no Nagle stall
  con:setbufsiz(nil, 1024 * 1024) -- a 4 KiB buffer would flush a large answer in pieces, and Nagle holds the last
  while true do
    local req, err, status = http.read_request(con, self.read_opts)
    if not req then
      if status then
        http.write_response(con, status, { ["Content-Type"] = "text/plain" }, err .. "\n", false)
      end
      break
    end
    req.connection = connection
    -- the limiter of the request's arrival, even if a reset replaces it meanwhile
    local counted = listener == "api" and not is_control(req) and self.limits
    local counts = counted and counted:enter()
    req.listener = listener
    local ok, more = pcall(self.answer, self, con, req)
    if counted then counted:leave(counts) end
    if not ok then error(more, 0) end
    if not more then break end
  end
  con:close()
end

-- Accepts connections until the server stops.  An accept that fails (out of
-- file descriptors: EMFILE, ENFILE) is tried again a little later: the
-- connections being served free theirs as they end.
function Server:accept_loop(srv, listener)
  srv:onerror(function(_, _, why) return why end)
  self.cq:wrap(function()
    while not self.stopping do
      local called, con, why = pcall(srv.accept, srv, 1)
      if not called or (not con and why ~= errno.ETIMEDOUT) then
        if self.stopping then break end
        local e = called and why or con
        self.log("accept: " .. (type(e) == "number" and errno.strerror(e) or tostring(e)))
        cqueues.sleep(0.1)
        con = nil
      end
      if con then
        self.cq:wrap(function()
          local ok, err = pcall(self.serve_connection, self, con, listener)
          if not ok then
            self.log("connection error: " .. tostring(err))
            pcall(con.close, con)
          end
        end)
      end
    end
  end)
end

-- A listening socket and its URL; or nil and why (e.g. the port is in use).
local function open_listener(host, port)
  local ok, srv = pcall(socket.listen, { host = host, port = port or 0, reuseaddr = true })
  if not ok or not srv then return nil, ("cannot listen on %s:%s: %s"):format(host, port, tostring(srv)) end
  local called, listening, err = pcall(srv.listen, srv)
  if not called then listening, err = nil, listening end
  if not listening then
    srv:close()
    local why = type(err) == "number" and errno.strerror(err) or tostring(err):gsub("^.-listen: ", "")
    return nil, ("cannot listen on %s:%s: %s"):format(host, port or 0, why)
  end
  local _, bound_host, bound_port = srv:localname()
  -- an IPv6 address goes in brackets in a URL: http://[::1]:PORT
  if bound_host:find(":", 1, true) then bound_host = "[" .. bound_host .. "]" end
  return srv, ("http://%s:%d"):format(bound_host, bound_port)
end

--- Starts listening; port 0 picks a free port.  Export downloads get a
-- listener of their own (`download_port`, default: any free port), so their
-- links point at another host, as the real API's do.
-- @return the base URL, e.g. "http://127.0.0.1:38211"; or nil and why
--   ("cannot listen on HOST:PORT: Address already in use")
function Server:listen(host, port, download_port)
  host = host or "127.0.0.1"
  local listener, url = open_listener(host, port)
  if not listener then return nil, url end
  local download_listener, download_url = open_listener(host, download_port)
  if not download_listener then
    listener:close()
    return nil, download_url
  end
  self.listener, self.url = listener, url
  if self.tls then self.url = self.url:gsub("^http:", "https:") end
  self.download_listener, self.download_url = download_listener, download_url
  self:accept_loop(self.listener, "api")
  self:accept_loop(self.download_listener, "download")
  return self.url
end

--- Stops after the current responses are written.
function Server:stop()
  self.stopping = true
  self.cq:wrap(function()
    cqueues.sleep(0)
    if self.listener then self.listener:close() end
    if self.download_listener then self.download_listener:close() end
  end)
end

--- Runs the event loop until `stop` is called.
function Server:run()
  while not self.stopping do
    local ok, err = self.cq:step(0.5)
    if not ok then self.log("event loop: " .. tostring(err)) end
  end
  -- finish writing what is in flight, briefly
  self.cq:loop(1)
end

return server
