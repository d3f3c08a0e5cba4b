--- Turning what the transport got back into `result, err, response`.
-- @module voucherify.response

local json = require "voucherify.json"
local errors = require "voucherify.errors"

local response = {}

-- Curl codes for timeouts (CURLE_OPERATION_TIMEDOUT).
local TIMEOUT_CODES = { [28] = true }

local function retry_after(headers)
  local v = tonumber(headers["retry-after"])
  if v then return math.max(0, v) end
  local at = tonumber(headers["x-rate-limit-retry"])
  if at then return math.max(0, at - os.time()) end
  return nil
end

local ERROR_FIELDS = { "code", "key", "message", "details", "request_id", "resource_id",
  "resource_type" }

--- Interprets one attempt.
-- @param req the transport request (request.build)
-- @param raw `{ status, headers, body }` or nil
-- @param failure the transport's failure table when raw is nil
-- @param config the client configuration (for secrets)
-- @param attempts how many attempts were made
-- @return result, err, response
function response.interpret(req, raw, failure, config, attempts)
  local secrets = config.secrets
  if req.secrets then
    secrets = {}
    for _, s in ipairs(config.secrets) do secrets[#secrets + 1] = s end
    for _, s in ipairs(req.secrets) do secrets[#secrets + 1] = s end
  end
  if not raw then
    local timed_out = TIMEOUT_CODES[failure.code]
    return nil, errors.new({
      kind = timed_out and "timeout" or "network",
      message = failure.too_large and failure.message
        or (timed_out and "request timed out: " or "") .. tostring(failure.message),
      curl_code = failure.code,
      method = req.method, url = req.url, attempts = attempts,
    }, secrets)
  end
  local res = { status = raw.status, headers = raw.headers, attempts = attempts }
  local status, body = raw.status, raw.body
  if status >= 400 then
    local fields = { kind = "api", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts, retry_after = retry_after(raw.headers) }
    local decoded = body ~= "" and json.decode(body) or nil
    if type(decoded) == "table" then
      for _, name in ipairs(ERROR_FIELDS) do
        local v = decoded[name]
        if v ~= nil and v ~= json.null then fields[name] = v end
      end
      if type(fields.message) ~= "string" then
        fields.message = decoded.error and type(decoded.error) == "table" and decoded.error.message
          or nil
      end
    end
    fields.request_id = fields.request_id or raw.headers["x-request-id"]
    if type(fields.message) ~= "string" then
      fields.message = ("HTTP %d"):format(status)
    end
    return nil, errors.new(fields, secrets), res
  end
  if status == 204 then return true, nil, res end
  if req.raw and status >= 200 and status < 300 then
    return req.output_path or body, nil, res
  end
  if status < 200 or status >= 300 then
    return nil, errors.new({ kind = "decode", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts,
      message = ("unexpected HTTP status %d"):format(status) }, secrets), res
  end
  if body == "" then
    return nil, errors.new({ kind = "decode", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts, message = "empty response body" }, secrets), res
  end
  local value, why = json.decode(body)
  if value == nil then
    local ctype = raw.headers["content-type"]
    return nil, errors.new({ kind = "decode", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts,
      message = ("response is not valid JSON (%s)%s"):format(why,
        ctype and (", content-type " .. ctype) or "") }, secrets), res
  end
  return value, nil, res
end

return response
