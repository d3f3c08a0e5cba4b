--- The libcurl transport: sends a built request over one reused easy handle
-- (so the connection stays alive between calls) and blocks until done.
-- @module voucherify.transport.curl

local core = require "voucherify.core"

local curl = {}
local Transport = {}
Transport.__index = Transport

--- A new transport with its own connection.
function curl.new()
  return setmetatable({ handle = core.http_new() }, Transport)
end

--- Sends `req` (see voucherify.request).  libcurl may send it a second time
-- by itself (a kept-alive connection that died before answering) only when
-- `req.idempotent` is true: see csrc/http.c.
-- @return `{ status, headers, body }`, or nil and `{ code, message, sent, too_large }`
function Transport:send(req)
  return self.handle:perform(req)
end

--- Closes the connection; the transport cannot send afterwards.
function Transport:close()
  self.handle:close()
end

return curl
