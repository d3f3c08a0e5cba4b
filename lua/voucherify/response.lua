--- Turning what the transport got back into `result, err, response`.
-- @module voucherify.response

local datetime = require "voucherify.datetime"
local json = require "voucherify.json"
local errors = require "voucherify.errors"

local response = {}

-- a header value that is 1*DIGIT (RFC 9110's delay-seconds), around optional whitespace
local function digits(v)
  local d = type(v) == "string" and v:match("^[ \t]*(%d+)[ \t]*$")
  return d and tonumber(d) or nil
end

--- Seconds to wait before retrying, from `Retry-After` (RFC 9110 section
-- 10.2.3: delay-seconds or an HTTP-date) or else `X-Rate-Limit-Retry` (epoch
-- seconds, digits only).  Any other value is ignored: `0x1E` is not 30.
-- @tparam table headers lower-case names
-- @tparam[opt] number now epoch seconds (default os.time())
-- @return seconds (0 for a time already past), or nil
function response.retry_after(headers, now)
  local v = headers["retry-after"]
  local secs = digits(v)
  if secs then return secs end
  now = now or os.time()
  local at = datetime.http_date(type(v) == "string" and v:match("^[ \t]*(.-)[ \t]*$") or nil, now)
    or digits(headers["x-rate-limit-retry"])
  if at then return math.max(0, at - now) end
  return nil
end

-- the fields of Voucherify's error body; `error` is `{ message = <the text a
-- user configured on a validation rule> }`
local ERROR_FIELDS = { "code", "key", "message", "details", "request_id", "resource_id",
  "resource_type", "error" }

--- Interprets one attempt.
-- @param req the transport request (request.build)
-- @param raw `{ status, headers, body }` or nil; a 2xx answer to a request
--   with `json` may carry `value` (the body decoded, with `req.select`) instead of `body`
-- @param failure the transport's failure when raw is nil: `{ reason, message, sent }`
--   (reasons: voucherify.transport)
-- @param secrets the client's secrets (voucherify.auth), kept out of errors
-- @param attempts how many attempts were made
-- @return result, err, response
function response.interpret(req, raw, failure, secrets, attempts)
  local more = req.secrets
  if not raw then
    local timed_out = failure.reason == "timeout"
    return nil, errors.new({
      kind = timed_out and "timeout" or "network",
      message = (timed_out and "request timed out: " or "") .. tostring(failure.message),
      reason = failure.reason,
      curl_code = failure.curl_code,
      method = req.method, url = req.url, attempts = attempts,
    }, secrets, more)
  end
  local status = raw.status
  local res = { status = status, headers = raw.headers, attempts = attempts }
  -- the usual answer first: a 2xx other than 204, decoded by the transport
  -- (the libcurl one decodes from its buffer; no decoded value for HEAD or raw)
  local value = raw.value
  if value ~= nil and status >= 200 and status < 300 and status ~= 204 and not req.raw and req.method ~= "HEAD" then
    return value, nil, res
  end
  local body = raw.body
  if status >= 400 then
    local fields = { kind = "api", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts, retry_after = response.retry_after(raw.headers) }
    local decoded = body ~= "" and json.decode(body) or nil
    if type(decoded) == "table" then
      for _, name in ipairs(ERROR_FIELDS) do
        local v = decoded[name]
        if v ~= nil and v ~= json.null then fields[name] = v end
      end
      -- no message: the validation rule's text, or the short `error` some answers carry
      if type(fields.message) ~= "string" then
        fields.message = type(fields.error) == "table" and fields.error.message or fields.error
      end
    end
    fields.request_id = fields.request_id or raw.headers["x-request-id"]
    fields.limit_type = status == 429 and raw.headers["x-rate-limit-type"] or nil
    if type(fields.message) ~= "string" then
      fields.message = ("HTTP %d"):format(status)
    end
    return nil, errors.new(fields, secrets, more), res
  end
  -- no body by definition: a 204, or any 2xx answer to HEAD
  if status == 204 or (req.method == "HEAD" and status >= 200 and status < 300) then return true, nil, res end
  if req.raw and status >= 200 and status < 300 then
    return req.output_path or body, nil, res
  end
  if status < 200 or status >= 300 then
    return nil, errors.new({ kind = "decode", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts,
      message = ("unexpected HTTP status %d"):format(status) }, secrets, more), res
  end
  if body == "" then
    return nil, errors.new({ kind = "decode", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts, message = "empty response body" }, secrets, more), res
  end
  local why
  value, why = json.decode_selected(body, req.select)
  if value == nil then
    local ctype = raw.headers["content-type"]
    return nil, errors.new({ kind = "decode", status = status, method = req.method, url = req.url,
      body = body, attempts = attempts,
      message = ("response is not valid JSON (%s)%s"):format(why,
        ctype and (", content-type " .. ctype) or "") }, secrets, more), res
  end
  return value, nil, res
end

return response
