--- The client: configuration, a transport, and the resource objects
-- (`client.orders`, `client.customers`, `client.async_actions`,
-- `client.exports`).  `client:call` is the one pipeline every API call goes
-- through: authenticate, build the request, send it, interpret the answer,
-- retry if the policy says so, report it to `on_response`.
-- @module voucherify.client

local auth = require "voucherify.auth"
local clock = require "voucherify.clock"
local errors = require "voucherify.errors"
local oauth = require "voucherify.oauth"
local options = require "voucherify.options"
local request = require "voucherify.request"
local response = require "voucherify.response"
local retry = require "voucherify.retry"
local async_actions = require "voucherify.resources.async_actions"
local customers = require "voucherify.resources.customers"
local exports = require "voucherify.resources.exports"
local orders = require "voucherify.resources.orders"

local client = {}

local Client = {}
Client.__index = Client
Client.__name = "voucherify.client"

--- Creates a client; see `voucherify.new`.
function client.new(opts)
  local config = options.normalize(opts, 2)
  local credentials = auth.new(config)
  -- Transitional: request.lua reads the header lines, and response.lua,
  -- poller.lua and resources/exports.lua the secrets, from the configuration.
  -- These are the auth object's own tables (shared, not copied: OAuth tokens
  -- added to `secrets` show here too); drop them once those read `client.auth`.
  config.header_lines = credentials.header_lines
  config.app_key_lines = credentials.app_key_lines
  config.public_header_lines = credentials.public_header_lines
  config.secrets = credentials.secrets
  local self = setmetatable({ config = config, auth = credentials }, Client)
  local choice = config.transport
  -- (require, not a path search: the core may be preloaded or linked in statically)
  if choice == "curl" or (choice == "auto" and pcall(require, "voucherify.core")) then
    -- created now, so that a client made in init_worker already has its connection
    self.transport = require("voucherify.transport.curl").new()
  elseif type(choice) == "function" then
    self.custom = { send = function(_, req) return choice(req) end }
  elseif type(choice) == "table" then
    self.custom = choice
  end
  if config.oauth then
    self.tokens = oauth.new(config.oauth, credentials, function(call) return self:send(call) end)
  end
  self.orders = orders.new(self)
  self.customers = customers.new(self)
  self.async_actions = async_actions.new(self)
  self.exports = exports.new(self)
  return self
end

--- The transport for a request made now: inside nginx, where cosockets work,
-- the cosocket one (unless `transport` says otherwise); libcurl elsewhere.
function Client:current_transport()
  local choice = self.config.transport
  if self.custom then return self.custom end
  if choice == "ngx" or (choice == "auto" and clock.can_yield()) then
    self.ngx_transport = self.ngx_transport or require("voucherify.transport.ngx").new()
    return self.ngx_transport
  end
  if not self.transport then
    error("voucherify: no transport here: the C core (voucherify.core) is not installed for this Lua,"
      .. " and cosockets are not available in this nginx phase", 0)
  end
  return self.transport
end

-- The on_response hook's view of a call; it is scrubbed like an error, since
-- a server can echo a credential in a header such as X-Request-Id.
local function report(config, secrets, req, res, err, attempts, started)
  local headers = res and res.headers
  config.on_response(errors.scrub({
    method = req.method,
    path = req.path,
    status = res and res.status or nil,
    attempts = attempts,
    elapsed = clock.now() - started,
    request_id = err and err.request_id or headers and headers["x-request-id"] or nil,
    error = err and err.kind or nil,
  }, secrets, req.secrets))
end

-- When a call started at `now` must be over: `timeout` after its start, or
-- earlier if the call description or the caller (`deadline`) says so.
local function deadline_of(config, call, now, deadline)
  local ends = now + config.timeout
  if deadline and deadline < ends then ends = deadline end
  if call.deadline and call.deadline < ends then ends = call.deadline end
  return ends
end

--- Sends one request, retrying as the policy allows (no OAuth handling).
--
-- `config.timeout` bounds the whole call, retries and their waits included:
-- each attempt gets only the time left before the deadline, and a retry
-- whose wait would reach the deadline is not made (the last error stands).
-- Besides the fields voucherify.request reads, the call description may have
-- `deadline` (a clock.now() time: an earlier end, e.g. that of a wait) and
-- `vet(result, err, response, req)` -> result, err (run on every answer
-- before the retry decision and the hook; OAuth checks token answers so).
-- @param call the call description
-- @param[opt] deadline a clock.now() time by which the call must be over
-- @return result, err, response
function Client:send(call, deadline)
  local config = self.config
  local req = request.build(config, call)
  local transport = self:current_transport()
  local started = clock.now()
  deadline = deadline_of(config, call, started, deadline)
  local left = deadline - started
  local attempt, result, err, res = 0, nil, nil, nil
  while left > 0 do
    req.timeout = left
    if left < req.connect_timeout then req.connect_timeout = left end
    attempt = attempt + 1
    local raw, failure = transport:send(req)
    result, err, res = response.interpret(req, raw, failure, config, attempt)
    if call.vet then result, err = call.vet(result, err, res, req) end
    local wait = err and retry.delay(config, req, raw, failure, err, attempt)
    if not wait then break end
    left = deadline - clock.now()
    if wait >= left then break end
    clock.sleep(wait)
    left = deadline - clock.now()
  end
  if attempt == 0 then
    -- the time ran out before this call started (e.g. a wait's last poll)
    err = errors.new({ kind = "timeout", method = req.method, url = req.url, attempts = 0,
      message = "request timed out: no time was left to send it" }, self.auth.secrets, req.secrets)
  end
  -- a hook that raises propagates to the caller; the client keeps no half-done state
  if config.on_response then report(config, self.auth.secrets, req, res, err, attempt, started) end
  return result, err, res
end

--- Sends one API call (a call description, see voucherify.request), with a
-- bearer token when the client uses OAuth (renewed once on a 401).  The
-- token request counts toward the call's timeout.
-- @return result, err, response
function Client:call(call)
  if not self.tokens or call.public then return self:send(call) end
  local deadline = deadline_of(self.config, call, clock.now())
  local line, err, res = self.tokens:header(deadline)
  if not line then return nil, err, res end
  call.auth_line = line
  local result
  result, err, res = self:send(call, deadline)
  if err and err.status == 401 then
    self.tokens:invalidate()
    line, err, res = self.tokens:header(deadline)
    if not line then return nil, err, res end
    call.auth_line = line
    result, err, res = self:send(call, deadline)
  end
  return result, err, res
end

-- Raises at the line that called method `name` when it was called with '.'
-- (`client.close()`: `self` is then not a client), as resource methods do.
local function check_self(self, name)
  if getmetatable(self) ~= Client then
    error(("voucherify: client:%s: called with '.' instead of ':' (use client:%s(...))"):format(name, name), 3)
  end
end

--- Closes the client's connection.  Also runs for `local c <close> = voucherify.new{...}`.
function Client:close()
  check_self(self, "close")
  if self.transport then self.transport:close() end
  if self.custom and self.custom.close then self.custom:close() end
end
Client.__close = Client.close

function Client:__tostring()
  return ("voucherify.client (%s)"):format(self.config.base_url)
end

return client
