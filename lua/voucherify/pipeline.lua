--- The request pipeline every API call goes through, in order: authenticate
-- (OAuth tokens), build the request (voucherify.request), send it (the
-- client's transport), interpret the answer into `result, err, response`
-- (voucherify.response), retry as the policy says (voucherify.retry) within
-- the call's deadline, and report it to `on_response`.  With a rate limit,
-- every attempt first waits for its turn (voucherify.rate_limit), and every
-- answer resyncs the limiter.  Resources, pollers
-- and `client:request` all call `pipeline.run`.
-- @module voucherify.pipeline

local clock = require "voucherify.clock"
local errors = require "voucherify.errors"
local rate_limit = require "voucherify.rate_limit"
local request = require "voucherify.request"
local response = require "voucherify.response"
local retry = require "voucherify.retry"

local pipeline = {}

-- The on_response hook's view of a call; it is scrubbed like an error, since
-- a server can echo a credential in a header such as X-Request-Id.
local function report(config, secrets, call, req, res, err, attempts, started)
  local headers = res and res.headers
  config.on_response(errors.scrub({
    download = call.download or nil, -- an export's file, not an API call
    method = req.method,
    path = req.path,
    status = res and res.status or nil,
    attempts = attempts,
    elapsed = clock.now() - started,
    request_id = err and err.request_id or headers and headers["x-request-id"] or nil,
    error = err and err.kind or nil,
    rate_limit = res and res.rate_limit or nil,
  }, secrets, req.secrets))
end

-- When a call started at `now` must be over: `timeout` after its start, or
-- earlier if the call description or the caller (`deadline`) says so.
local function deadline_of(config, call, now, deadline)
  local ends = now + config.timeout
  if deadline and deadline < ends then ends = deadline end
  if call.deadline and call.deadline < ends then ends = call.deadline end
  return ends
end

--- Sends one call, retrying as the policy allows, without OAuth.
--
-- `config.timeout` bounds the whole call, retries and their waits included:
-- each attempt gets only the time left before the deadline, and a retry
-- whose wait would reach the deadline is not made (the last error stands).
-- Besides the fields voucherify.request reads, the call description may have
-- `deadline` (a clock.now() time: an earlier end, e.g. that of a wait),
-- `download` (true: an export's file; on_response's info says so) and
-- `vet(result, err, response, req)` -> result, err (run on every answer
-- before the retry decision and the hook; OAuth checks token answers so).
-- @param client the client (or a view of it)
-- @param call the call description
-- @param[opt] deadline a clock.now() time by which the call must be over
-- @param[opt] id the path segment `request.ID` stands for in `call.path`
-- @param[opt] auth_line the OAuth "Authorization: Bearer ..." line
-- @return result, err, response
function pipeline.send(client, call, deadline, id, auth_line)
  local config, secrets = client.config, client.auth.secrets
  local req = request.build(config, client.auth, call, id, auth_line)
  local sender = client.transports:pick()
  local started = clock.now()
  deadline = deadline_of(config, call, started, deadline)
  local left = deadline - started
  local limiter, budget = client.limiter, call.bulk and "bulk_api_calls" or "api_calls"
  local attempt, result, err, res = 0, nil, nil, nil
  while left > 0 do
    if limiter then
      -- wait for this request's turn (counted in the call's time); a turn
      -- past the deadline, or a billing-cycle stop, fails at once, unsent
      local wait, refusal = limiter:turn(budget, deadline, clock.now())
      if not wait then
        if attempt == 0 or refusal.limit_type then
          refusal.method, refusal.url, refusal.attempts = req.method, req.url, attempt
          result, err, res = nil, errors.new(refusal, secrets, req.secrets), nil
        end
        break
      end
      if wait > 0 then clock.sleep(wait) end
      limiter:sent(budget, clock.now())
      left = deadline - clock.now()
      if left <= 0 then break end
    end
    req.timeout = left -- this attempt's time (connecting included): what the call has left
    attempt = attempt + 1
    local raw, failure = sender:send(req)
    result, err, res = response.interpret(req, raw, failure, secrets, attempt)
    if res then
      -- (raw.rate_limit == false: the transport saw no X-Rate-Limit-* header)
      res.rate_limit = limiter and limiter:observe(budget, raw.status, raw.headers, clock.now())
        or raw.rate_limit ~= false and rate_limit.info(raw.headers) or nil
    end
    if call.vet then result, err = call.vet(result, err, res, req) end
    local wait = err and retry.delay(config, req, raw, failure, err, attempt)
    if not wait then break end
    left = deadline - clock.now()
    if wait >= left then break end
    clock.sleep(wait)
    left = deadline - clock.now()
  end
  if attempt == 0 and not err then
    -- the time ran out before this call started (e.g. a wait's last poll)
    err = errors.new({ kind = "timeout", method = req.method, url = req.url, attempts = 0,
      message = "request timed out: no time was left to send it" }, secrets, req.secrets)
  end
  -- a hook that raises propagates to the caller; the client keeps no half-done state
  if config.on_response then report(config, secrets, call, req, res, err, attempt, started) end
  return result, err, res
end

--- Sends one API call (a call description, see voucherify.request, left
-- unchanged), with a bearer token when the client uses OAuth (renewed once
-- on a 401).  The token request counts toward the call's timeout.
-- @param client the client (or a view of it)
-- @param call the call description
-- @param[opt] id the path segment `request.ID` stands for in `call.path`
-- @return result, err, response
function pipeline.run(client, call, id)
  local tokens = client.tokens
  if not tokens or call.public then return pipeline.send(client, call, nil, id) end
  local deadline = deadline_of(client.config, call, clock.now())
  local line, err, res = tokens:header(deadline)
  if not line then return nil, err, res end
  local result
  result, err, res = pipeline.send(client, call, deadline, id, line)
  if err and err.status == 401 then
    tokens:invalidate()
    line, err, res = tokens:header(deadline)
    if not line then return nil, err, res end
    result, err, res = pipeline.send(client, call, deadline, id, line)
  end
  return result, err, res
end

return pipeline
