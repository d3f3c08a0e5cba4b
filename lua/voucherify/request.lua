--- Building a request: from a call description and the client's
-- configuration to the plain table a transport sends.  Nothing here does I/O.
--
-- A call description: `{ method = "GET", path = { "v1", "orders", id },
-- query = { { "limit", 10 }, ... }, body = "<json text>", idempotent = bool }`.
-- @module voucherify.request

local url = require "voucherify.url"

local request = {}

--- Builds the transport request.
-- @return `{ method, url, headers, body, timeout, connect_timeout, verify_tls,
--   ca_file, proxy, max_body_size, idempotent, path }`
function request.build(config, call)
  local headers = config.header_lines
  if call.body then
    local h = {}
    for i, line in ipairs(headers) do h[i] = line end
    h[#h + 1] = "Content-Type: " .. (call.content_type or "application/json")
    headers = h
  end
  local path = "/" .. table.concat(call.path, "/")
  return {
    method = call.method,
    url = url.build(config.base_url, call.path, call.query),
    path = path,
    headers = headers,
    body = call.body,
    timeout = config.timeout,
    connect_timeout = config.connect_timeout,
    verify_tls = config.verify_tls,
    ca_file = config.ca_file,
    proxy = config.proxy,
    max_body_size = config.max_body_size,
    idempotent = call.idempotent,
  }
end

return request
