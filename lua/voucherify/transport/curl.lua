--- The libcurl transport: one reused easy handle (so the connection stays
-- alive between calls), set up once with the client's settings; see
-- voucherify.transport for the contract and csrc/http.c for the work.
-- Inside a `client:map` task a request goes instead through the client's
-- multi handle (csrc/multi.c, made at the first such request), and the task
-- yields to the scheduler (voucherify.tasks) until it is done.
-- @module voucherify.transport.curl

local core = require "voucherify.core"
local tasks = require "voucherify.tasks"

local curl = {}
local Transport = { name = "curl" }
Transport.__index = Transport

--- A new transport with its own connection.
-- @tparam[opt] table settings timeout, connect_timeout, verify_tls, ca_file,
--   proxy, max_body_size (the client's configuration will do)
function curl.new(settings)
  return setmetatable({ handle = core.http_new(settings), settings = settings or {} }, Transport)
end

--- The multi handle requests made inside tasks go through (one per
-- transport, so one per client: its connections are kept alive across tasks).
-- @return the source voucherify.tasks waits on: start, wait, collect, cancel
function Transport:multi()
  local multi = self.many
  if not multi then
    multi = core.multi_new(self.settings)
    self.many = multi
  end
  return multi
end

--- Sets the handle up for `req` (no I/O yet); the handle takes one request at a time.
-- @return the job (the request itself)
function Transport:start(req)
  self.handle:start(req)
  return req
end

--- Runs the started request, blocking until it is done.
function Transport:wait()
  self.handle:wait()
end

--- The started request's outcome.
-- @return `{ status, headers, body, reused }`, or nil and `{ reason, message, sent, curl_code }`
function Transport:collect()
  return self.handle:collect()
end

--- Sends `req` (start, wait and collect in one C call; inside a task, on
-- the multi handle while the task yields).  libcurl may send it a second
-- time by itself (a kept-alive connection that died before answering) only
-- when `req.idempotent` is true: see csrc/http.c.
-- @return as collect
function Transport:send(req)
  if tasks.running ~= 0 and tasks.current() then
    local multi = self:multi()
    return tasks.transfer(multi, multi:start(req))
  end
  return self.handle:perform(req)
end

--- Closes the connections; the transport cannot send afterwards.
function Transport:close()
  self.handle:close()
  if self.many then self.many:close() end
end

return curl
