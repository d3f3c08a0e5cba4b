--- When to try a request again, and how long to wait first.
--
-- Retried: 429 (the request was not processed), failures to connect (nothing
-- was sent); 502, 503, 504 and timeouts only for idempotent requests (GET,
-- PUT, DELETE, upserts by id/source_id).  Backoff is exponential with
-- jitter (between half the cap and the cap); a server's Retry-After (on a
-- 429, 502, 503 or 504) is honoured up to `max_retry_delay`.
-- @module voucherify.retry

local retry = {}

retry.BASE_DELAY = 0.25
retry.MAX_BACKOFF = 8

-- transport failures (voucherify.transport) in which no byte reached the API,
-- even when some went to a proxy
local NOT_SENT = { resolve = true, connect = true }
local GATEWAY = { [502] = true, [503] = true, [504] = true }

--- Decides whether attempt number `attempt` (1-based) should be followed by another.
-- @return the delay in seconds, or nil to stop
function retry.delay(config, req, raw, failure, err, attempt)
  if attempt > config.max_retries then return nil end
  local wait
  if raw then
    if raw.status == 429 then
      -- the billing-cycle total: nothing goes before its reset
      if err and err.limit_type == "api_calls_cycle" then return nil end
      wait = err and err.retry_after
      if wait and wait > config.max_retry_delay then return nil end
    elseif not (GATEWAY[raw.status] and req.idempotent) then
      return nil
    else
      -- a 503 (or 502, 504) may say when to come back (RFC 9110 10.2.3): then, if not too late
      wait = err and err.retry_after
      if wait and wait > config.max_retry_delay then return nil end
    end
  elseif failure then
    if failure.reason == "too_large" then return nil end
    local not_sent = NOT_SENT[failure.reason] or not failure.sent
    if not (not_sent or req.idempotent) then return nil end
  else
    return nil
  end
  if wait then return wait end
  local cap = math.min(retry.MAX_BACKOFF, retry.BASE_DELAY * 2 ^ (attempt - 1))
  return math.min(config.max_retry_delay, cap / 2 + math.random() * cap / 2)
end

return retry
