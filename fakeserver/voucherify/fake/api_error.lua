--- Voucherify's error bodies, as the real API sends them.
-- Every function returns `status, body` ready for a handler to return.
-- @module voucherify.fake.api_error

local http = require "voucherify.fake.http"

local api_error = {}

local counter = 0

--- A request id in Voucherify's format ("v-" and 18 hex digits).
function api_error.request_id()
  counter = counter + 1
  return ("v-%010x%08x"):format(os.time(), counter)
end

-- (strings from a request, an id from the path, may hold any bytes: the body is JSON, so UTF-8)
local function body(code, key, message, details, extra)
  local b = { code = code, key = key, message = message, details = details and http.utf8_text(details),
    request_id = api_error.request_id() }
  for k, v in pairs(extra or {}) do b[k] = type(v) == "string" and http.utf8_text(v) or v end
  return code, b
end

--- 404 for an unknown resource.
function api_error.not_found(resource_type, id)
  return body(404, "not_found", "Resource not found",
    ("Cannot find %s with id %s"):format(resource_type, id),
    { resource_id = id, resource_type = resource_type })
end

--- 400 for a bad query parameter.
function api_error.invalid_query(details)
  return body(400, "invalid_query_params", "Invalid query params", details)
end

--- 400 for a bad request body.
function api_error.invalid_payload(details)
  return body(400, "invalid_payload", "Invalid payload", details)
end

--- 401 when no valid credentials were sent.
function api_error.unauthorized()
  return body(401, "unauthorized", "Unauthorized",
    "Missing or invalid credentials: X-App-Id and X-App-Token, or Authorization: Bearer")
end

--- 404 for a path the API does not have.
function api_error.no_route(method, path)
  return body(404, "not_found", "Resource not found",
    ("No route for %s %s"):format(method, path))
end

--- 405 for a known path with another method.
function api_error.method_not_allowed(method, path)
  return body(405, "method_not_allowed", "Method not allowed",
    ("%s is not allowed on %s"):format(method, path))
end

--- 429 for a rate limit reached; the message is the one Voucherify's API reference gives.
function api_error.too_many_requests(details)
  return body(429, "too_many_requests", "Too many requests hit the API too quickly.", details)
end

--- Any other status, with a plausible key and message.
function api_error.generic(status)
  if status == 429 then return api_error.too_many_requests() end
  local keys = { [429] = "too_many_requests", [500] = "internal_error", [502] = "bad_gateway",
    [503] = "service_unavailable", [504] = "gateway_timeout", [413] = "payload_too_large" }
  return body(status, keys[status] or "error", ("Error %d"):format(status), nil)
end

return api_error
