--- Rate limits: with the `rate_limit` client option, every request waits for
-- its turn before it is sent, so that a job at full speed stays within the
-- plan's limit and sees no 429.  The stores below say where the budget lives;
-- `options` describes the option itself.  See the rate limits topic.
--
-- The limiter learns from the API: `X-Rate-Limit-Remaining` lower than what
-- the budget allows moves it on (another client uses the same project); a
-- 429 pauses every later call of its kind until the time the API gives (at
-- most an hour); a 429 of type `api_calls_cycle` (the billing-cycle total)
-- is never retried and makes every later call fail at once, unsent, until
-- then (at most 32 days).  `response.rate_limit` and the `on_response` info's
-- `rate_limit` say what the API's headers said.
--
-- If a shared store fails, decisions fall back to the client's own budget
-- (it starts where the shared one was known to be, so the switch makes no
-- burst), `on_rate_limit_store_error(err)` is called once per outage, and
-- the store is tried again 5 s later: a call never fails because the store
-- is down.
-- @module voucherify.rate_limit
-- @usage
-- local client = voucherify.new { app_id = "...", app_token = "...",
--   rate_limit = { requests = 100, per = 60, bulk = { requests = 10, per = 60 } } }
-- -- 2,000 creates at full speed: no 429, at the plan's pace
-- for i, order, err in client:map(orders, function(c, o) return c.orders:create(o) end,
--   { concurrency = 16 }) do assert(order, err) end

-- Inside the library: one algorithm, voucherify.rate_limit.gcra, one small
-- store interface, voucherify.rate_limit.local_store, and the limiter the
-- pipeline asks for turns:
--
--     local limiter = rate_limit.new({ requests = 100, per = 60 }, { namespace = app_id })
--     local wait, why = limiter:turn("api_calls", deadline, clock.now())  -- then sleep `wait`, send
--     response.rate_limit = limiter:observe("api_calls", res.status, res.headers, clock.now())
--
-- A turn is reserved when it is given: the caller must sleep `wait` (with
-- the sleep that suits where it runs: the limiter itself never sleeps) and
-- send then.  A caller that gives up after that leaves its slot unused,
-- which only delays later turns by one interval.  `X-Rate-Limit-Retry`
-- (epoch seconds) is read on a 429, and on an answer whose `Remaining` is 0
-- (the window is full, maybe by other clients: no turn before a slot
-- frees); otherwise a whole second is far coarser than the pace, and
-- `Remaining` says enough.

local compat = require "voucherify.compat"
local datetime = require "voucherify.datetime"
local gcra = require "voucherify.rate_limit.gcra"
local local_store = require "voucherify.rate_limit.local_store"
local response = require "voucherify.response"

local GO, LATE = gcra.GO, gcra.LATE

local rate_limit = {}

--- Seconds after a store failure before the store is tried again.
-- @local
rate_limit.STORE_RETRY = 5
--- Seconds a billing-cycle stop lasts when the API's 429 gives no time.
-- @local
rate_limit.CYCLE_PAUSE = 60
--- The longest pause of a plain budget taken from a 429 (seconds): an hour,
-- the window of the sandbox's plan.
-- @local
rate_limit.MAX_PAUSE = 3600
--- The longest billing-cycle stop taken from a 429 (a month and a day).
-- @local
rate_limit.MAX_CYCLE = 86400 * 32
--- The longest `per` accepted (seconds).
-- @local
rate_limit.MAX_PER = 86400 * 365

--- A store in the client's memory: the default, when `store` is not given.
-- Each client (and the views made from it) has its own budget.
-- @return the store, for `rate_limit.store`
-- @usage local client = voucherify.new { app_id = id, app_token = token,
--   rate_limit = { requests = 100, per = 60, store = voucherify.rate_limit.local_store() } }
function rate_limit.local_store()
  return local_store.new()
end

--- A store in an `ngx.shared` dictionary, shared by every worker of one
-- nginx (OpenResty / lua-nginx-module).  Each decision holds a short lock
-- (`safe_add`), so the workers together never exceed the budget.
-- @param dict the dictionary, e.g. `ngx.shared.voucherify` (declared with
--   `lua_shared_dict voucherify 1m;` in nginx.conf)
-- @tparam[opt] table opts `prefix` for its keys (default `"voucherify:rate_limit:"`)
-- @return the store, for `rate_limit.store`
-- @usage
-- -- nginx.conf: lua_shared_dict voucherify 1m;
-- local client = voucherify.new { app_id = id, app_token = token,
--   rate_limit = { requests = 100, per = 60,
--     store = voucherify.rate_limit.shared_dict(ngx.shared.voucherify) } }
function rate_limit.shared_dict(dict, opts)
  return require("voucherify.rate_limit.shared_dict").new(dict, opts)
end

--- A store in Redis, shared by every process on every host.  Each decision
-- is one script run inside Redis (EVALSHA), atomic without locks, on
-- Redis's own clock (hosts whose clocks disagree share one budget).  Budgets
-- of different app ids in one Redis stay apart.
-- @tparam function connect `connect()` returns a connected client with
--   `eval(script, numkeys, ...)` (and `evalsha`): lua-resty-redis or
--   redis-lua; or `nil, err`, or raises, when it cannot.  A client with
--   `set_keepalive` (lua-resty-redis) goes back to nginx's pool after each
--   decision; any other is kept and reused until it fails.  Give it a short
--   timeout: a Redis that hangs holds up the call waiting for its turn.
-- @tparam[opt] table opts `prefix` for the keys (default `"voucherify:rate_limit:"`)
-- @return the store, for `rate_limit.store`
-- @usage
-- local redis = require "redis"                        -- redis-lua
-- local store = voucherify.rate_limit.redis(function() return redis.connect("127.0.0.1", 6379) end)
-- local client = voucherify.new { app_id = id, app_token = token,
--   rate_limit = { requests = 100, per = 60, store = store },
--   on_rate_limit_store_error = function(err) io.stderr:write(tostring(err), "\n") end }
function rate_limit.redis(connect, opts)
  return require("voucherify.rate_limit.redis").new(connect, opts)
end

-- header values that are digits only; anything else is ignored
local function count(v)
  local d = type(v) == "string" and v:match("^[ \t]*(%d+)[ \t]*$")
  return d and tonumber(d) or nil
end

--- What the rate-limit headers of an answer say, for `response.rate_limit`.
-- @tparam table headers lower-case names
-- @return `{ limit = n, remaining = n, retry = epoch seconds }` (each when
--   sent), or nil when the API sent none of them
-- @local
function rate_limit.info(headers)
  local limit, remaining = count(headers["x-rate-limit-limit"]), count(headers["x-rate-limit-remaining"])
  local retry = count(headers["x-rate-limit-retry"])
  if limit or remaining or retry then return { limit = limit, remaining = remaining, retry = retry } end
  return nil
end

-- the fields of a budget, and those of the option table
local BUDGET = { requests = true, per = true, burst = true }
local OPTIONS = { requests = true, per = true, burst = true, bulk = true, store = true }

local function unknown_key(t, known, where)
  for k in pairs(t) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      return ("unknown option '%s.%s' (known: %s)"):format(where, tostring(k), table.concat(names, ", "))
    end
  end
  return nil
end

local function budget_problem(t, where, known)
  if type(t) ~= "table" then return ("'%s' must be a table (got %s)"):format(where, type(t)) end
  local problem = unknown_key(t, known, where)
  if problem then return problem end
  local n = t.requests
  if compat.tointeger(n) == nil or n < 1 then
    return ("'%s.requests' must be a positive integer (got %s)"):format(where, tostring(n))
  end
  local per = t.per
  if type(per) ~= "number" or not (per > 0 and per <= rate_limit.MAX_PER) then
    return ("'%s.per' must be a positive number of seconds, at most a year (got %s)"):format(where, tostring(per))
  end
  local burst = t.burst
  if burst ~= nil and (compat.tointeger(burst) == nil or burst < 1 or burst > n) then
    return ("'%s.burst' must be an integer from 1 to '%s.requests' (got %s)"):format(where, where, tostring(burst))
  end
  return nil
end

--- Checks the `rate_limit` client option; validation only.
-- @param opts `{ requests = n, per = seconds, burst = n, bulk = { requests, per, burst }, store = store }`
-- @return nil when it is valid, else a message naming the field
-- @local
function rate_limit.check(opts)
  local problem = budget_problem(opts, "rate_limit", OPTIONS)
  if problem then return problem end
  if opts.bulk ~= nil then
    problem = budget_problem(opts.bulk, "rate_limit.bulk", BUDGET)
    if problem then return problem end
  end
  local store = opts.store
  if store ~= nil and not (type(store) == "table" and type(store.update) == "function") then
    return ("'rate_limit.store' must be a store: voucherify.rate_limit.local_store(), .shared_dict(dict)"
      .. " or .redis(connect) (got %s)"):format(type(store))
  end
  return nil
end

-- The GCRA parameters of `requests` per `per` with `burst` at once: the
-- interval leaves room for the burst, so no window of `per` holds more than
-- `requests` turns (see voucherify.rate_limit.gcra).
local function budget_of(spec, key, stop_key)
  local burst = spec.burst or 1
  local interval = spec.per / (spec.requests - burst + 1)
  return { key = key, stop_key = stop_key, burst = burst, interval = interval, tolerance = (burst - 1) * interval,
    per = spec.per }
end

-- wall-clock seconds, for X-Rate-Limit-Retry and the billing-cycle message
local function epoch()
  local n = rawget(_G, "ngx")
  if n and n.now then return n.now() end
  return os.time()
end

local Limiter = { __name = "voucherify.rate_limit.limiter" }
Limiter.__index = Limiter

--- Makes a limiter from a valid `rate_limit` option (see `check`).
-- @param opts the `rate_limit` option
-- @tparam[opt] table hooks `on_store_error(message)`: called once when a shared
--   store fails (again after it has answered since); `namespace`: a string in
--   every key, so that budgets of different projects sharing a store stay
--   apart (e.g. the app id; default "default"); `epoch()`: wall-clock seconds
--   (default ngx.now or os.time)
-- @return the limiter
-- @local
function rate_limit.new(opts, hooks)
  local problem = rate_limit.check(opts)
  if problem then error("voucherify.rate_limit.new: " .. problem, 2) end
  hooks = hooks or {}
  local ns = hooks.namespace or "default"
  if type(ns) ~= "string" then error("voucherify.rate_limit.new: 'namespace' must be a string", 2) end
  local main = budget_of(opts, ns .. ":api_calls", ns .. ":cycle")
  local fallback = local_store.new()
  return setmetatable({
    -- without a bulk budget, bulk calls take their turns in the main one
    budgets = { api_calls = main,
      bulk_api_calls = opts.bulk and budget_of(opts.bulk, ns .. ":bulk_api_calls", ns .. ":cycle") or main },
    store = opts.store or fallback,
    fallback = fallback,
    on_store_error = hooks.on_store_error,
    epoch = hooks.epoch or epoch,
    -- budget key -> a time the store's `tat` is known to have reached (spares
    -- the store resyncs that would change nothing)
    known = {},
    down_until = nil, -- while the store fails: when to try it again
    reported = false, -- the current failure has been reported
  }, Limiter)
end

-- One decision in the store, or in the local budget while the store fails.
local function update(self, budget, op, now, arg)
  local store, failure = self.store, nil
  if store ~= self.fallback and not (self.down_until and now < self.down_until) then
    -- (a store that raises counts as failed too; pcall lets a cosocket yield)
    local ok, code, value, ahead = pcall(store.update, store, budget, op, now, arg)
    if ok and code then
      self.down_until, self.reported = nil, false
      return code, value, ahead
    end
    if not ok then value = code end
    self.down_until = now + rate_limit.STORE_RETRY
    if not self.reported then
      self.reported, failure = true, value
      -- the local budget starts where the shared one was known to be
      for _, b in pairs(self.budgets) do
        local known = self.known[b.key]
        if known and known > now then self.fallback:update(b, "advance", now, known - now) end
      end
    end
  end
  local code, value, ahead = self.fallback:update(budget, op, now, arg)
  if failure and self.on_store_error then
    self.on_store_error(("voucherify: the rate limit store failed (%s); using the client's own budget"
      .. " until it answers again"):format(tostring(failure)))
  end
  return code, value, ahead
end

local function budget_for(self, kind)
  local budget = self.budgets[kind]
  if not budget then
    error(("voucherify.rate_limit: unknown kind '%s' (api_calls, bulk_api_calls)"):format(tostring(kind)), 3)
  end
  return budget
end

--- Takes the next turn of a budget.
-- @tparam string kind "api_calls" or "bulk_api_calls"
-- @tparam[opt] number deadline a `now`-clock time the request must be sent by (nil: none)
-- @tparam number now the caller's clock (voucherify.clock.now)
-- @return[1] seconds to wait before sending (0: go now); the turn is reserved
-- @return[2] nil
-- @return[2] the fields of an error (for voucherify.errors.new): kind "timeout"
--   when the turn would come after `deadline` (nothing is reserved), or kind
--   "api", status 429, limit_type "api_calls_cycle" while the billing-cycle
--   limit stops every call
-- @local
function Limiter:turn(kind, deadline, now)
  local budget = budget_for(self, kind)
  local max_wait = deadline and math.max(deadline - now, 0) or -1
  local code, value, ahead = update(self, budget, "turn", now, max_wait)
  if code == GO then
    self.known[budget.key] = now + ahead
    return value
  elseif code == LATE then
    return nil, { kind = "timeout",
      message = ("rate limit: this call's turn comes in %.3f s, after its deadline; nothing was sent"):format(value) }
  end
  return nil, { kind = "api", status = 429, limit_type = "api_calls_cycle", retry_after = math.ceil(value),
    message = ("the billing-cycle limit of API calls is reached (X-Rate-Limit-Type: api_calls_cycle): every call"
      .. " fails at once until %s"):format(datetime.format((self.epoch() + value) * 1000)) }
end

-- no turn of `budget` before `now + offset - tolerance`, unless the store is known to be there already
local function advance(self, budget, now, offset)
  local at = now + offset
  local known = self.known[budget.key]
  if known and known >= at then return end
  update(self, budget, "advance", now, offset)
  self.known[budget.key] = at
end

--- Says a request of `kind` is being sent now, after its turn.  When it is
-- late (a loaded machine, a GC pause held it back by more than a tenth of an
-- interval), the next turn moves so that it still comes an interval after
-- this send: late sends never crowd the next ones into the API's window.
-- @tparam string kind the budget the request took its turn in
-- @tparam number now the caller's clock
-- @local
function Limiter:sent(kind, now)
  local budget = budget_for(self, kind)
  local known = self.known[budget.key]
  -- on time: the store need not hear of it (no round trip per request)
  if known and known >= now + budget.interval * 0.9 then return end
  advance(self, budget, now, budget.interval)
end

--- Learns from an answer of the API (call it after every response).
-- @tparam string kind the budget the request took its turn in
-- @tparam number status the HTTP status
-- @tparam table headers lower-case names
-- @tparam number now the caller's clock
-- @return `rate_limit.info(headers)`, for `response.rate_limit`
-- @local
function Limiter:observe(kind, status, headers, now)
  local budget = budget_for(self, kind)
  local info = rate_limit.info(headers)
  if status == 429 then
    local limit_type = headers["x-rate-limit-type"]
    local wait = response.retry_after(headers, self.epoch())
    if limit_type == "api_calls_cycle" then
      -- a lying server cannot stop the client for longer than a billing cycle could last
      update(self, budget, "stop", now, math.min(wait or rate_limit.CYCLE_PAUSE, rate_limit.MAX_CYCLE))
      return info
    end
    -- the budget the API says ran out, when it names one
    budget = self.budgets[limit_type] or budget
    -- the API's time, within reason: a lying server cannot pause a plain budget
    -- longer than its window or MAX_PAUSE (the longest window a plan has)
    local longest = math.max(budget.per + 1, rate_limit.MAX_PAUSE)
    advance(self, budget, now, math.min(math.max(wait or 0, budget.interval), longest) + budget.tolerance)
  elseif info and info.remaining == 0 and info.retry and info.retry - self.epoch() <= budget.per + 1 then
    -- the API's window is full (other clients of the project count too): no
    -- turn before a slot frees, which X-Rate-Limit-Retry says (whole seconds,
    -- never early).  A later time is another budget's (the billing cycle's),
    -- which only its 429 stops.
    advance(self, budget, now, math.max(info.retry - self.epoch(), budget.interval))
  elseif info and info.remaining and info.remaining < budget.burst then
    -- the API counts more calls than this budget did: at most `remaining` may go at once now
    advance(self, budget, now, (budget.burst - info.remaining) * budget.interval)
  end
  return info
end

--- The `rate_limit` client option (`voucherify.options`): the plan's limit.
-- Turns are spaced `per / (requests - burst + 1)` seconds apart, so that no
-- window of `per` seconds holds more than `requests` calls.  The wait counts
-- toward the call's `timeout`: a turn that would come after it fails the
-- call at once with kind `"timeout"`, and nothing is sent.  The wait yields
-- inside nginx and inside `Client:map`.
-- @table options
-- @field requests integer: calls allowed per `per` seconds (the plan's limit)
-- @field per number: the window, in seconds (at most a year)
-- @field burst integer, default 1: how many calls may go at once after a
--   quiet spell (1 to `requests`)
-- @field bulk `{ requests, per, burst }`: the budget of the bulk endpoints
--   (`orders:import`, `customers:import_csv`, `update_in_bulk`,
--   `update_metadata_in_bulk`), which the API counts apart; without it they
--   share the plain budget
-- @field store where the budget lives: `local_store()` (default),
--   `shared_dict(dict)`, `redis(connect)`
-- @usage
-- rate_limit = { requests = 100, per = 60, burst = 5, bulk = { requests = 10, per = 60 } }

return rate_limit
