--- The client: configuration, a transport, and the resource objects
-- (`client.orders`, `client.customers`, `client.async_actions`,
-- `client.exports`).  `client:call` is the one pipeline every API call goes
-- through: authenticate, build the request, send it, interpret the answer,
-- retry if the policy says so, report it to `on_response`.
-- @module voucherify.client

local clock = require "voucherify.clock"
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
  local self = setmetatable({ config = config }, Client)
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
    self.tokens = oauth.new(config, function(call) return self:send(call) end)
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

local function report(hook, req, res, err, attempts, started)
  local headers = res and res.headers or {}
  hook {
    method = req.method,
    path = req.path,
    status = res and res.status or nil,
    attempts = attempts,
    elapsed = clock.now() - started,
    request_id = err and err.request_id or headers["x-request-id"],
    error = err and err.kind or nil,
  }
end

--- Sends one request, retrying as the policy allows (no OAuth handling).
-- @return result, err, response
function Client:send(call)
  local config = self.config
  local req = request.build(config, call)
  local transport = self:current_transport()
  local started = clock.now()
  local attempt = 0
  while true do
    attempt = attempt + 1
    local raw, failure = transport:send(req)
    local result, err, res = response.interpret(req, raw, failure, config, attempt)
    local wait = err and retry.delay(config, req, raw, failure, err, attempt)
    if not wait then
      -- a hook that raises propagates to the caller; the client keeps no half-done state
      if config.on_response then report(config.on_response, req, res, err, attempt, started) end
      return result, err, res
    end
    clock.sleep(wait)
  end
end

--- Sends one API call (a call description, see voucherify.request), with a
-- bearer token when the client uses OAuth (renewed once on a 401).
-- @return result, err, response
function Client:call(call)
  if not self.tokens or call.public then return self:send(call) end
  local line, err, res = self.tokens:header()
  if not line then return nil, err, res end
  call.auth_line = line
  local result
  result, err, res = self:send(call)
  if err and err.status == 401 then
    self.tokens:invalidate()
    line, err, res = self.tokens:header()
    if not line then return nil, err, res end
    call.auth_line = line
    result, err, res = self:send(call)
  end
  return result, err, res
end

--- Closes the client's connection.  Also runs for `local c <close> = voucherify.new{...}`.
function Client:close()
  if self.transport then self.transport:close() end
  if self.custom and self.custom.close then self.custom:close() end
end
Client.__close = Client.close

function Client:__tostring()
  return ("voucherify.client (%s)"):format(self.config.base_url)
end

return client
