--- The client: configuration, a transport, and the resource objects
-- (`client.orders`, `client.customers`, `client.async_actions`,
-- `client.exports`).  `client:call` is the one pipeline every API call goes
-- through: authenticate, build the request, send it, interpret the answer,
-- retry if the policy says so, report it to `on_response`.
-- @module voucherify.client

local core = require "voucherify.core"
local oauth = require "voucherify.oauth"
local options = require "voucherify.options"
local request = require "voucherify.request"
local response = require "voucherify.response"
local retry = require "voucherify.retry"
local curl = require "voucherify.transport.curl"
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
  local self = setmetatable({ config = config, transport = curl.new() }, Client)
  if config.oauth then
    self.tokens = oauth.new(config, function(call) return self:send(call) end)
  end
  self.orders = orders.new(self)
  self.customers = customers.new(self)
  self.async_actions = async_actions.new(self)
  self.exports = exports.new(self)
  return self
end

local function report(hook, req, res, err, attempts, started)
  local headers = res and res.headers or {}
  hook {
    method = req.method,
    path = req.path,
    status = res and res.status or nil,
    attempts = attempts,
    elapsed = core.monotime() - started,
    request_id = err and err.request_id or headers["x-request-id"],
    error = err and err.kind or nil,
  }
end

--- Sends one request, retrying as the policy allows (no OAuth handling).
-- @return result, err, response
function Client:send(call)
  local config = self.config
  local req = request.build(config, call)
  local started = core.monotime()
  local attempt = 0
  while true do
    attempt = attempt + 1
    local raw, failure = self.transport:send(req)
    local result, err, res = response.interpret(req, raw, failure, config, attempt)
    local wait = err and retry.delay(config, req, raw, failure, err, attempt)
    if not wait then
      -- a hook that raises propagates to the caller; the client keeps no half-done state
      if config.on_response then report(config.on_response, req, res, err, attempt, started) end
      return result, err, res
    end
    self.transport:sleep(wait)
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
  self.transport:close()
end
Client.__close = Client.close

function Client:__tostring()
  return ("voucherify.client (%s)"):format(self.config.base_url)
end

return client
