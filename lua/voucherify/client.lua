--- The client: configuration, a transport, and the resource objects
-- (`client.orders`, `client.customers`, `client.async_actions`,
-- `client.exports`).  `client:call` is the one pipeline every API call goes
-- through: build the request, send it, interpret the answer, retry if the
-- policy says so.
-- @module voucherify.client

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
  self.orders = orders.new(self)
  self.customers = customers.new(self)
  self.async_actions = async_actions.new(self)
  self.exports = exports.new(self)
  return self
end

--- Sends one API call (a call description, see voucherify.request).
-- @return result, err, response
function Client:call(call)
  local config = self.config
  local req = request.build(config, call)
  local attempt = 0
  while true do
    attempt = attempt + 1
    local raw, failure = self.transport:send(req)
    local result, err, res = response.interpret(req, raw, failure, config, attempt)
    if not err then return result, nil, res end
    local wait = retry.delay(config, req, raw, failure, err, attempt)
    if not wait then return nil, err, res end
    self.transport:sleep(wait)
  end
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
