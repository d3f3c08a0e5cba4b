-- The rate limiter (voucherify.rate_limit) on an injected clock: nothing
-- sleeps, every time below is a number passed as `now`.  Budgets use binary
-- fractions (1/4, 1/8 s) so that the sums are exact.  The shared stores run
-- the same algorithm: spec/rate_limit_redis_spec.lua (a real Redis),
-- spec/rate_limit_nginx_spec.lua (an nginx with several workers).
local errors = require "voucherify.errors"
local gcra = require "voucherify.rate_limit.gcra"
local rate_limit = require "voucherify.rate_limit"

-- Takes a turn for each arrival time (in order) and returns when each request goes.
local function run(limiter, arrivals, kind)
  local sends = {}
  for i, t in ipairs(arrivals) do
    local wait, why = limiter:turn(kind or "api_calls", nil, t)
    assert(wait, why and why.message)
    sends[i] = t + wait
  end
  return sends
end

-- The most requests that go within any half-open window [a, a + per).
local busiest_window = require("support.rate_window").busiest

local function times(n, from, step)
  local t = {}
  for i = 1, n do t[i] = from + (i - 1) * step end
  return t
end

-- arrivals at pseudo-random times on a 1/64 s grid (own generator: the
-- sequence does not depend on math.random's seed)
local function random_arrivals(n, span)
  local t, x = {}, 12345
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = (x % (span * 64)) / 64
  end
  table.sort(t)
  return t
end

local function concat(...)
  local out = {}
  for _, list in ipairs({ ... }) do
    for _, v in ipairs(list) do out[#out + 1] = v end
  end
  return out
end

describe("rate_limit: the GCRA step every store runs", function()
  -- { op, tat, stop, now, interval, tolerance, arg } -> { tat, stop, code, value }
  local cases = {
    { "an idle budget: go now", { "turn", nil, nil, 10, 1, 0, -1 }, { 11, nil, gcra.GO, 0 } },
    { "a booked budget: wait for tat", { "turn", 12, nil, 10, 1, 0, -1 }, { 13, nil, gcra.GO, 2 } },
    { "tolerance lets a burst go now", { "turn", 12, nil, 10, 1, 2, -1 }, { 13, nil, gcra.GO, 0 } },
    { "a turn after the deadline reserves nothing", { "turn", 12, nil, 10, 1, 0, 1.5 }, { 12, nil, gcra.LATE, 2 } },
    { "a turn within the deadline", { "turn", 12, nil, 10, 1, 0, 2 }, { 13, nil, gcra.GO, 2 } },
    { "a stop refuses every turn", { "turn", nil, 15, 10, 1, 0, -1 }, { nil, 15, gcra.STOPPED, 5 } },
    { "a past stop does not", { "turn", nil, 5, 10, 1, 0, -1 }, { 11, 5, gcra.GO, 0 } },
    { "advance moves tat on", { "advance", 11, nil, 10, 1, 0, 3 }, { 13, nil, gcra.GO, 0 } },
    { "advance never moves it back", { "advance", 20, nil, 10, 1, 0, 3 }, { 20, nil, gcra.GO, 0 } },
    { "stop sets the end of the stop", { "stop", 11, nil, 10, 1, 0, 60 }, { 11, 70, gcra.GO, 0 } },
    { "stop never shortens it", { "stop", nil, 100, 10, 1, 0, 60 }, { nil, 100, gcra.GO, 0 } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      local a, want = case[2], case[3]
      local tat, stop, code, value = gcra.step(a[1], a[2], a[3], a[4], a[5], a[6], a[7])
      assert.are.same(want, { tat, stop, code, value })
    end)
  end
end)

describe("rate_limit: N requests per S seconds", function()
  local budgets = {
    { name = "4 per second", opts = { requests = 4, per = 1 } },
    { name = "8 per 2 s, all at once", opts = { requests = 8, per = 2, burst = 8 } },
    { name = "10 per second, 3 at once", opts = { requests = 10, per = 1, burst = 3 } },
  }
  local patterns = {
    { name = "all at once", arrivals = times(40, 0, 0), saturated = true },
    { name = "faster than the limit", arrivals = times(60, 0, 1 / 32), saturated = true },
    { name = "bursts after quiet spells",
      arrivals = concat(times(12, 0, 0), times(12, 3, 0), times(5, 3.5, 0), times(12, 10, 0)) },
    { name = "at random", arrivals = random_arrivals(300, 20) },
  }
  for _, b in ipairs(budgets) do
    for _, p in ipairs(patterns) do
      it(("%s, %s: never more than N in any window of S%s"):format(b.name, p.name,
        p.saturated and ", and exactly N when saturated" or ""), function()
        local sends = run(rate_limit.new(b.opts), p.arrivals)
        local most = busiest_window(sends, b.opts.per)
        assert.is_true(most <= b.opts.requests, ("%d in one window"):format(most))
        if p.saturated then assert.are.equal(b.opts.requests, most) end
      end)
    end
  end

  it("spaces turns by per / requests", function()
    local sends = run(rate_limit.new { requests = 4, per = 1 }, times(6, 0, 0))
    assert.are.same({ 0, 0.25, 0.5, 0.75, 1, 1.25 }, sends)
  end)

  it("lets `burst` go at once after a quiet spell, then spaces the rest by per / (requests - burst + 1)", function()
    local limiter = rate_limit.new { requests = 10, per = 1, burst = 3 }
    assert.are.same({ 0, 0, 0, 0.125, 0.25 }, run(limiter, times(5, 0, 0)))
    -- quiet for a while: the burst is back, whole
    assert.are.same({ 5, 5, 5, 5.125 }, run(limiter, times(4, 5, 0)))
  end)

  it("keeps the bulk budget apart when `bulk` is given", function()
    local limiter = rate_limit.new { requests = 4, per = 1, bulk = { requests = 2, per = 1 } }
    run(limiter, times(8, 0, 0))
    assert.are.same({ 0, 0.5, 1 }, run(limiter, times(3, 0, 0), "bulk_api_calls"))
  end)

  it("takes bulk turns in the main budget when `bulk` is not given", function()
    local limiter = rate_limit.new { requests = 4, per = 1 }
    run(limiter, times(4, 0, 0))
    assert.are.same({ 1 }, run(limiter, { 0 }, "bulk_api_calls"))
  end)

  it("shares one store between limiters (two clients, one budget)", function()
    local store = rate_limit.local_store()
    local a, b = rate_limit.new { requests = 4, per = 1, store = store },
      rate_limit.new { requests = 4, per = 1, store = store }
    local sends = {}
    for i = 1, 20 do
      local t = (i - 1) / 16
      sends[#sends + 1] = t + assert((i % 2 == 0 and a or b):turn("api_calls", nil, t))
    end
    assert.are.equal(4, busiest_window(sends, 1))
  end)
end)

describe("rate_limit: the deadline", function()
  it("refuses a turn that would come after it, at once, and reserves nothing", function()
    local limiter = rate_limit.new { requests = 4, per = 1 }
    run(limiter, times(4, 0, 0)) -- booked until 1.0
    local wait, why = limiter:turn("api_calls", 0.9, 0)
    assert.is_nil(wait)
    assert.are.equal("timeout", why.kind)
    assert.matches("turn comes in 1.000 s, after its deadline; nothing was sent", why.message, 1, true)
    assert.are.equal(1, limiter:turn("api_calls", 1, 0)) -- the slot the refused turn would have had
    assert.are.equal(1.25, limiter:turn("api_calls", nil, 0))
  end)

  it("gives a turn that comes before it", function()
    local limiter = rate_limit.new { requests = 4, per = 1 }
    assert.are.equal(0, limiter:turn("api_calls", 0.001, 0))
    assert.are.equal(0.25, limiter:turn("api_calls", 0.25, 0))
  end)
end)

describe("rate_limit: learning from the API's answers", function()
  local EPOCH = 1700000000 -- 2023-11-14T22:13:20Z
  local function limiter(opts)
    return rate_limit.new(opts or { requests = 4, per = 1, bulk = { requests = 2, per = 1 } },
      { epoch = function() return EPOCH end })
  end

  it("returns response.rate_limit from the headers, or nil when there are none", function()
    local l = limiter()
    assert.are.same({ limit = 100, remaining = 42, retry = EPOCH + 7 }, l:observe("api_calls", 200,
      { ["x-rate-limit-limit"] = "100", ["x-rate-limit-remaining"] = " 42 ",
        ["x-rate-limit-retry"] = tostring(EPOCH + 7) }, 0))
    assert.are.same({ remaining = 3 }, l:observe("api_calls", 200, { ["x-rate-limit-remaining"] = "3" }, 0))
    assert.is_nil(l:observe("api_calls", 200, { ["content-type"] = "application/json" }, 0))
    assert.is_nil(rate_limit.info { ["x-rate-limit-remaining"] = "0x10", ["x-rate-limit-limit"] = "-1",
      ["x-rate-limit-retry"] = "1.5" })
  end)

  it("resyncs when X-Rate-Limit-Remaining is lower than the budget allows", function()
    local l = limiter()
    l:observe("api_calls", 200, { ["x-rate-limit-remaining"] = "0" }, 10)
    assert.are.equal(0.25, l:turn("api_calls", nil, 10))
  end)

  it("lets only `remaining` go at once after a quiet spell", function()
    local l = limiter { requests = 4, per = 4, burst = 4 } -- interval 4 s, 4 at once
    l:observe("api_calls", 200, { ["x-rate-limit-remaining"] = "2" }, 0)
    assert.are.same({ 0, 0, 4 }, run(l, times(3, 0, 0)))
  end)

  it("changes nothing when the API has more left than the budget", function()
    local l = limiter()
    l:observe("api_calls", 200, { ["x-rate-limit-remaining"] = "3", ["x-rate-limit-retry"] = tostring(EPOCH + 30) }, 0)
    assert.are.same({ 0, 0.25 }, run(l, times(2, 0, 0)))
  end)

  local pauses = {
    { "Retry-After seconds", { ["retry-after"] = "3" }, 3 },
    { "X-Rate-Limit-Retry epoch seconds", { ["x-rate-limit-retry"] = tostring(EPOCH + 5) }, 5 },
    { "no time given: one interval", {}, 0.25 },
    { "a time already past: one interval", { ["retry-after"] = "0" }, 0.25 },
  }
  for _, case in ipairs(pauses) do
    it("a 429 pauses every later turn of its kind: " .. case[1], function()
      local l = limiter()
      l:observe("api_calls", 429, case[2], 100)
      assert.are.same({ 100 + case[3], 100 + case[3] + 0.25 }, run(l, { 100, 100 }))
      assert.are.equal(0, l:turn("bulk_api_calls", nil, 100)) -- the other budget goes on
    end)
  end

  it("a 429 pauses the budget X-Rate-Limit-Type names", function()
    local l = limiter()
    l:observe("api_calls", 429, { ["x-rate-limit-type"] = "bulk_api_calls", ["retry-after"] = "2" }, 0)
    assert.are.equal(0, l:turn("api_calls", nil, 0))
    assert.are.equal(2, l:turn("bulk_api_calls", nil, 0))
  end)

  it("a 429 of type api_calls_cycle stops every call at once until its reset, with an error that says so", function()
    local l = limiter()
    l:observe("api_calls", 429, { ["x-rate-limit-type"] = "api_calls_cycle", ["retry-after"] = "3600" }, 0)
    for _, kind in ipairs({ "api_calls", "bulk_api_calls" }) do
      local wait, why = l:turn(kind, nil, 10)
      assert.is_nil(wait)
      assert.are.same({ "api", 429, "api_calls_cycle", 3590 },
        { why.kind, why.status, why.limit_type, why.retry_after })
      local err = errors.new(why)
      assert.matches("voucherify: api error 429: the billing-cycle limit of API calls is reached", tostring(err),
        1, true)
      assert.matches("until 2023-11-14T23:13:10.000Z", tostring(err), 1, true)
    end
    assert.are.equal(0, l:turn("api_calls", nil, 3600)) -- reset
  end)

  local lies = {
    { "Retry-After of a year", { ["retry-after"] = "31536000" } },
    { "Retry-After of 30 digits", { ["retry-after"] = ("9"):rep(30) } },
    { "an HTTP-date in the year 9999", { ["retry-after"] = "Fri, 31 Dec 9999 23:59:59 GMT" } },
    { "X-Rate-Limit-Retry far away", { ["x-rate-limit-retry"] = ("9"):rep(26) } },
  }
  for _, case in ipairs(lies) do
    it("a 429 pauses a budget at most MAX_PAUSE, whatever a server claims: " .. case[1], function()
      local l = limiter()
      l:observe("api_calls", 429, case[2], 0)
      local wait = l:turn("api_calls", nil, 0)
      assert.is_true(wait > 0 and wait <= rate_limit.MAX_PAUSE, tostring(wait))
    end)
    it("a billing-cycle 429 stops calls at most MAX_CYCLE, and turn still answers: " .. case[1], function()
      local l = limiter()
      local headers = { ["x-rate-limit-type"] = "api_calls_cycle" }
      for k, v in pairs(case[2]) do headers[k] = v end
      l:observe("api_calls", 429, headers, 0)
      local wait, why = l:turn("api_calls", nil, 10)
      assert.is_nil(wait)
      assert.are.equal("api_calls_cycle", why.limit_type)
      assert.is_true(why.retry_after <= rate_limit.MAX_CYCLE)
      assert.are.equal(0, l:turn("api_calls", nil, rate_limit.MAX_CYCLE + 1))
    end)
  end

  it("a billing-cycle 429 without a time stops calls for CYCLE_PAUSE", function()
    local l = limiter()
    l:observe("api_calls", 429, { ["x-rate-limit-type"] = "api_calls_cycle" }, 0)
    assert.is_nil(l:turn("api_calls", nil, rate_limit.CYCLE_PAUSE - 1))
    assert.are.equal(0, l:turn("api_calls", nil, rate_limit.CYCLE_PAUSE))
  end)
end)

describe("rate_limit: a store that fails", function()
  -- a store of the caller's own making (the interface is one method), in front of a real one
  local function flaky_store()
    local inner = rate_limit.local_store()
    local store = { down = false, calls = 0 }
    function store.update(self, ...)
      self.calls = self.calls + 1
      if self.down == "raise" then error("store bug") end
      if self.down then return nil, "connection refused" end
      return inner:update(...)
    end
    return store
  end

  it("falls back to the local budget, reports it once, and tries the store again later", function()
    local store, reports = flaky_store(), {}
    local l = rate_limit.new({ requests = 4, per = 1, store = store },
      { on_store_error = function(msg) reports[#reports + 1] = msg end })
    assert.are.same({ 0, 0.25 }, run(l, times(2, 0, 0)))
    store.down = true
    -- the local budget starts where the shared one was: no burst on the switch
    assert.are.same({ 0.5, 0.75, 1, 1.25 }, run(l, times(4, 0, 0)))
    assert.are.equal(1, #reports)
    assert.matches("rate limit store failed (connection refused); using the client's own budget", reports[1], 1, true)
    local calls = store.calls
    run(l, times(3, 1, 0)) -- within STORE_RETRY: the store is left alone
    assert.are.equal(calls, store.calls)
    run(l, { rate_limit.STORE_RETRY + 1 }) -- tried again, still down: no second report
    assert.are.equal(calls + 1, store.calls)
    assert.are.equal(1, #reports)
    store.down = false
    run(l, { 2 * rate_limit.STORE_RETRY + 2 }) -- back
    assert.are.equal(calls + 2, store.calls)
    store.down = true
    run(l, { 2 * rate_limit.STORE_RETRY + 3 }) -- a new failure is reported again
    assert.are.equal(2, #reports)
  end)

  it("counts a store that raises as failed: the call still gets its turn", function()
    local store, reports = flaky_store(), {}
    store.down = "raise"
    local l = rate_limit.new({ requests = 4, per = 1, store = store },
      { on_store_error = function(msg) reports[#reports + 1] = msg end })
    assert.are.same({ 0, 0.25 }, run(l, times(2, 0, 0)))
    assert.are.equal(1, #reports)
    assert.matches("store bug", reports[1], 1, true)
  end)
end)

describe("rate_limit: options", function()
  local STORE = rate_limit.local_store()
  local cases = {
    { nil, "'rate_limit' must be a table (got nil)" },
    { {}, "'rate_limit.requests' must be a positive integer (got nil)" },
    { { requests = 0, per = 1 }, "'rate_limit.requests' must be a positive integer (got 0)" },
    { { requests = 1.5, per = 1 }, "'rate_limit.requests' must be a positive integer (got 1.5)" },
    { { requests = 10 }, "'rate_limit.per' must be a positive number of seconds, at most a year (got nil)" },
    { { requests = 10, per = 0 }, "'rate_limit.per' must be a positive number of seconds" },
    { { requests = 10, per = "60" }, "'rate_limit.per' must be a positive number of seconds" },
    { { requests = 10, per = 0 / 0 }, "'rate_limit.per' must be a positive number of seconds" },
    { { requests = 10, per = math.huge }, "'rate_limit.per' must be a positive number of seconds" },
    { { requests = 10, per = 60, burst = 11 },
      "'rate_limit.burst' must be an integer from 1 to 'rate_limit.requests' (got 11)" },
    { { requests = 10, per = 60, burst = 0 }, "'rate_limit.burst' must be an integer from 1" },
    { { requests = 10, per = 60, bulk = 5 }, "'rate_limit.bulk' must be a table (got number)" },
    { { requests = 10, per = 60, bulk = { requests = 1 } }, "'rate_limit.bulk.per' must be a positive number" },
    { { requests = 10, per = 60, bulk = { requests = 1, per = 1, store = STORE } },
      "unknown option 'rate_limit.bulk.store' (known: burst, per, requests)" },
    { { requests = 10, per = 60, store = {} },
      "'rate_limit.store' must be a store: voucherify.rate_limit.local_store()" },
    { { requests = 10, per = 60, window = 1 },
      "unknown option 'rate_limit.window' (known: bulk, burst, per, requests, store)" },
    { { requests = 10, per = 60 } },
    { { requests = 100, per = 60, burst = 100, bulk = { requests = 10, per = 60, burst = 2 }, store = STORE } },
  }
  for _, case in ipairs(cases) do
    local opts, want = case[1], case[2]
    it(want and ("refuses: %s"):format(want) or "accepts a valid option", function()
      local got = rate_limit.check(opts)
      if want then
        assert.is_string(got)
        assert.are.equal(1, got:find(want, 1, true), got)
        assert.has_error(function() rate_limit.new(opts) end, "voucherify.rate_limit.new: " .. got)
      else
        assert.is_nil(got)
      end
    end)
  end

  it("raises on a kind it does not know", function()
    local l = rate_limit.new { requests = 1, per = 1 }
    assert.has_error(function() l:turn("calls", nil, 0) end,
      "voucherify.rate_limit: unknown kind 'calls' (api_calls, bulk_api_calls)")
  end)

  it("raises when a store is made from the wrong thing", function()
    assert.has_error(function() rate_limit.shared_dict({}) end)
    assert.has_error(function() rate_limit.redis("127.0.0.1:6379") end,
      "voucherify.rate_limit.redis: expects a function that returns a connected Redis client")
  end)
end)

describe("rate_limit: a send later than its turn", function()
  it("moves the next turn to an interval after the send, so late sends never crowd the window", function()
    local l = rate_limit.new { requests = 4, per = 1 } -- interval 0.25 s
    assert.are.equal(0, l:turn("api_calls", nil, 0))
    l:sent("api_calls", 0.2) -- held back 0.2 s
    assert.is_near(0.45, 0.2 + l:turn("api_calls", nil, 0.2), 1e-9)
  end)

  it("changes nothing for a send on time (or late by less than a tenth of an interval)", function()
    local l = rate_limit.new { requests = 4, per = 1 }
    assert.are.equal(0, l:turn("api_calls", nil, 0))
    l:sent("api_calls", 0.02)
    assert.is_near(0.25, l:turn("api_calls", nil, 0.02) + 0.02, 1e-9)
  end)
end)
