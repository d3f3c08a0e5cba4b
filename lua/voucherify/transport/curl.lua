--- The libcurl transport: one reused easy handle (so the connection stays
-- alive between calls), set up once with the client's settings; see
-- voucherify.transport for the contract and csrc/http.c for the work.
-- @module voucherify.transport.curl

local core = require "voucherify.core"

local curl = {}
local Transport = { name = "curl" }
Transport.__index = Transport

--- A new transport with its own connection.
-- @tparam[opt] table settings timeout, connect_timeout, verify_tls, ca_file,
--   proxy, max_body_size (the client's configuration will do)
function curl.new(settings)
  return setmetatable({ handle = core.http_new(settings) }, Transport)
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

--- Sends `req` (start, wait and collect in one C call).  libcurl may send it a
-- second time by itself (a kept-alive connection that died before answering)
-- only when `req.idempotent` is true: see csrc/http.c.
-- @return as collect
function Transport:send(req)
  return self.handle:perform(req)
end

--- Closes the connection; the transport cannot send afterwards.
function Transport:close()
  self.handle:close()
end

return curl
