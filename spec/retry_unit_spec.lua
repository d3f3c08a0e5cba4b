-- voucherify.retry on its own, no server: every row of the README's retry
-- table, the backoff's bounds per attempt, max_retry_delay and max_retries.
-- retry.delay(config, req, raw, failure, err, attempt) returns the seconds to
-- wait before the next attempt, or nil to stop.
local retry = require "voucherify.retry"
local transport = require "voucherify.transport"

-- A transport's failure, as every transport reports it: a named reason (a
-- key of voucherify.transport.REASONS) and `sent`, whether any byte of the
-- request went out.  The one place to adapt if that shape changes.
local function failure(reason, sent)
  assert(transport.REASONS[reason], "not a transport failure reason: " .. reason)
  return { reason = reason, message = transport.REASONS[reason], sent = sent }
end

local GET = { method = "GET", idempotent = true }
local UPSERT = { method = "POST", idempotent = true } -- a create carrying id / source_id
local CREATE = { method = "POST", idempotent = false } -- a create without an id, an import
local STOP = setmetatable({}, { __tostring = function() return "stop" end })
local BACKOFF = setmetatable({}, { __tostring = function() return "backoff" end })

local function response(status) return { status = status, headers = {}, body = "" } end

-- the bounds of the backoff after attempt `n` (exponential, capped, jittered
-- between half the cap and the cap)
local function backoff_bounds(n)
  local cap = math.min(retry.MAX_BACKOFF, retry.BASE_DELAY * 2 ^ (n - 1))
  return cap / 2, cap
end

describe("retry.delay", function()
  local cases = {
    -- what happened, request, response status or transport failure, retry_after, expected
    -- 429: the request was not processed, always retried
    { "429 on a GET", GET, 429, nil, BACKOFF },
    { "429 on a create without an id", CREATE, 429, nil, BACKOFF },
    { "429 with Retry-After 5: waits 5 s", CREATE, 429, 5, 5 },
    { "429 with Retry-After 0: at once", GET, 429, 0, 0 },
    { "429 with Retry-After equal to max_retry_delay", GET, 429, 30, 30 },
    { "429 with Retry-After above max_retry_delay: no sleep", GET, 429, 31, STOP },
    -- nothing was sent: always retried
    { "could not connect, a create", CREATE, failure("connect", false), nil, BACKOFF },
    { "could not resolve the host, a create", CREATE, failure("resolve", false), nil, BACKOFF },
    { "could not resolve the API's host through a proxy, a create", CREATE, failure("resolve", true), nil, BACKOFF },
    { "connect timeout (nothing sent), a create", CREATE, failure("timeout", false), nil, BACKOFF },
    { "TLS handshake failed (nothing sent), a create", CREATE, failure("tls", false), nil, BACKOFF },
    { "could not connect after bytes went to a proxy, a create", CREATE, failure("connect", true), nil, BACKOFF },
    -- 502, 503, 504, a timeout or a dropped connection after sending: idempotent calls only
    { "502 on a GET", GET, 502, nil, BACKOFF },
    { "503 on a GET", GET, 503, nil, BACKOFF },
    { "504 on a GET", GET, 504, nil, BACKOFF },
    { "503 with Retry-After 3 on a GET: waits 3 s", GET, 503, 3, 3 },
    { "503 with Retry-After above max_retry_delay on a GET: no sleep", GET, 503, 31, STOP },
    { "503 with Retry-After 3 on a create without an id: still never", CREATE, 503, 3, STOP },
    { "503 on an upsert (create with an id)", UPSERT, 503, nil, BACKOFF },
    { "502 on a create without an id", CREATE, 502, nil, STOP },
    { "503 on a create without an id", CREATE, 503, nil, STOP },
    { "504 on a create without an id", CREATE, 504, nil, STOP },
    { "timeout after sending, a GET", GET, failure("timeout", true), nil, BACKOFF },
    { "timeout after sending, a create", CREATE, failure("timeout", true), nil, STOP },
    { "connection reset after sending, an upsert", UPSERT, failure("reset", true), nil, BACKOFF },
    { "connection reset after sending, a create", CREATE, failure("reset", true), nil, STOP },
    { "connection closed before anything was sent, a create", CREATE, failure("reset", false), nil, BACKOFF },
    { "a kept-alive connection closed after a create went out", CREATE, failure("resend_refused", true), nil,
      STOP },
    -- anything else: never
    { "response larger than max_body_size, a GET", GET, failure("too_large", true), nil, STOP },
    { "500 on a GET", GET, 500, nil, STOP },
    { "501 on a GET", GET, 501, nil, STOP },
    { "505 on a GET", GET, 505, nil, STOP },
    { "400 on a GET", GET, 400, nil, STOP },
    { "401 on a GET", GET, 401, nil, STOP },
    { "404 on a GET", GET, 404, nil, STOP },
    { "409 on an upsert", UPSERT, 409, nil, STOP },
    { "422 on a GET", GET, 422, nil, STOP },
    { "neither a response nor a failure", GET, nil, nil, STOP },
  }
  local config = { max_retries = 2, max_retry_delay = 30 }
  for _, case in ipairs(cases) do
    local name, req, what, retry_after, expected = case[1], case[2], case[3], case[4], case[5]
    it(("%s -> %s"):format(name, tostring(expected)), function()
      local raw = type(what) == "number" and response(what) or nil
      local fail = type(what) == "table" and what or nil
      local err = { kind = raw and "api" or "network", status = raw and raw.status, retry_after = retry_after }
      local wait = retry.delay(config, req, raw, fail, err, 1)
      if expected == STOP then
        assert.is_nil(wait)
      elseif expected == BACKOFF then
        local lo, hi = backoff_bounds(1)
        assert.is_number(wait)
        assert.is_true(wait >= lo and wait <= hi, ("%s not in [%s, %s]"):format(wait, lo, hi))
      else
        assert.are.equal(expected, wait)
      end
    end)
  end
end)

describe("retry.delay backoff", function()
  -- attempt, lowest and highest wait (seconds) with max_retry_delay 30
  local cases = {
    { 1, 0.125, 0.25 }, { 2, 0.25, 0.5 }, { 3, 0.5, 1 }, { 4, 1, 2 }, { 5, 2, 4 }, { 6, 4, 8 },
    { 7, 4, 8 }, { 20, 4, 8 }, -- capped at MAX_BACKOFF
  }
  local config = { max_retries = 100, max_retry_delay = 30 }
  for _, case in ipairs(cases) do
    local attempt, lo, hi = case[1], case[2], case[3]
    it(("after attempt %d waits between %s and %s s, jittered"):format(attempt, lo, hi), function()
      local seen, low, high = {}, math.huge, -math.huge
      for _ = 1, 200 do
        local wait = retry.delay(config, GET, response(503), nil, {}, attempt)
        assert.is_true(wait >= lo and wait <= hi, ("%s not in [%s, %s]"):format(wait, lo, hi))
        seen[wait] = true
        low, high = math.min(low, wait), math.max(high, wait)
      end
      -- jitter: spread over the range, not one fixed value (200 draws cover it)
      assert.is_true(next(seen, next(seen)) ~= nil, "always the same wait")
      assert.is_true(high - low > (hi - lo) / 2, ("the waits only span [%s, %s]"):format(low, high))
    end)
  end

  -- max_retry_delay, attempt, the wait: never above max_retry_delay
  local capped = {
    { 0.3, 4, 0.3 }, { 0.05, 1, 0.05 }, { 0, 1, 0 }, { 2, 20, 2 },
  }
  for _, case in ipairs(capped) do
    it(("after attempt %d with max_retry_delay %s waits %s s"):format(case[2], case[1], case[3]), function()
      local c = { max_retries = 100, max_retry_delay = case[1] }
      for _ = 1, 50 do
        assert.are.equal(case[3], retry.delay(c, GET, response(503), nil, {}, case[2]))
      end
    end)
  end

  it("with max_retry_delay above the backoff, the backoff stands", function()
    local c = { max_retries = 100, max_retry_delay = 0.3 }
    for _ = 1, 50 do
      local wait = retry.delay(c, GET, response(503), nil, {}, 1)
      assert.is_true(wait >= 0.125 and wait <= 0.25, tostring(wait))
    end
  end)
end)

describe("retry.delay and max_retries", function()
  -- max_retries, attempt just made, retried?
  local cases = {
    { 0, 1, false }, { 1, 1, true }, { 1, 2, false }, { 2, 2, true }, { 2, 3, false }, { 5, 5, true },
    { 5, 6, false },
  }
  for _, case in ipairs(cases) do
    local max, attempt, again = case[1], case[2], case[3]
    it(("max_retries %d, after attempt %d: %s"):format(max, attempt, again and "retried" or "stop"), function()
      local c = { max_retries = max, max_retry_delay = 30 }
      -- a 429 with a Retry-After, a gateway error and a connect failure alike
      local waits = {
        retry.delay(c, GET, response(429), nil, { retry_after = 1 }, attempt),
        retry.delay(c, GET, response(503), nil, {}, attempt),
        retry.delay(c, CREATE, nil, failure("connect", false), {}, attempt),
      }
      for i = 1, 3 do
        if again then assert.is_number(waits[i], i) else assert.is_nil(waits[i], i) end
      end
    end)
  end
end)
