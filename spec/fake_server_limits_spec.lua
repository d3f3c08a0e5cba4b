-- The fake server's latency and rate limits (issue 11, section 3): Voucherify's
-- X-Rate-Limit-* headers on every API answer, its 429 for each limit type, a
-- sliding window that a client pacing at exactly N per S never trips, the
-- control API's counts, and many slow answers at once.
local core = require "voucherify.core"
local json = require "voucherify.json"
local limits = require "voucherify.fake.limits"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"

-- a clock the window tests move by hand; epoch = 1000 + monotonic
local function hand_clock()
  local clock = { t = 0 }
  clock.mono = function() return clock.t end
  clock.epoch = function(m) return 1000 + m end
  return clock
end

describe("the fake server's budgets (voucherify.fake.limits, a hand-moved clock)", function()
  -- each step: { at, kind ("api" | "bulk"), outcome ("ok" or the X-Rate-Limit-Type), remaining }
  local cases = {
    { "N per S: the N+1th within S is refused, and let in exactly S after the first",
      { rate_limit = { requests = 2, per = 1 }, grace = 0 },
      { { 0, "api", "ok", 1 }, { 0, "api", "ok", 0 }, { 0.5, "api", "api_calls" },
        { 0.999, "api", "api_calls" }, { 1, "api", "ok", 1 }, { 1, "api", "ok", 0 }, { 1.5, "api", "api_calls" } } },
    { "a client pacing at exactly N per S, its arrivals jittered by 10 ms, is never refused",
      { rate_limit = { requests = 3, per = 0.3 } },
      { { 0.00, "api", "ok" }, { 0.11, "api", "ok" }, { 0.19, "api", "ok" }, { 0.31, "api", "ok" },
        { 0.39, "api", "ok" }, { 0.51, "api", "ok" }, { 0.59, "api", "ok" }, { 0.71, "api", "ok" },
        { 0.79, "api", "ok" }, { 0.91, "api", "ok" } } },
    { "the grace (25 ms by default) lets a request in that early, no earlier",
      { rate_limit = { requests = 2, per = 1 } },
      { { 0, "api", "ok" }, { 0, "api", "ok" }, { 0.97, "api", "api_calls" }, { 0.975, "api", "ok", 1 } } },
    { "the grace is at most a tenth of the window",
      { rate_limit = { requests = 1, per = 0.1 }, grace = 0.05 },
      { { 0, "api", "ok" }, { 0.085, "api", "api_calls" }, { 0.095, "api", "ok" } } },
    { "a refused request takes nothing from the budget",
      { rate_limit = { requests = 1, per = 1 }, grace = 0 },
      { { 0, "api", "ok" }, { 0.5, "api", "api_calls" }, { 0.9, "api", "api_calls" }, { 1, "api", "ok" } } },
    { "bulk calls draw on their own budget only",
      { rate_limit = { requests = 1, per = 1 }, bulk = { requests = 1, per = 60 }, cycle = 1 },
      { { 0, "bulk", "ok", 0 }, { 0, "api", "ok", 0 }, { 0.5, "bulk", "bulk_api_calls" },
        { 30, "bulk", "bulk_api_calls" }, { 60, "bulk", "ok" } } },
    { "without a bulk budget, bulk calls are not limited",
      { rate_limit = { requests = 1, per = 1 } },
      { { 0, "api", "ok" }, { 0, "bulk", "ok" }, { 0, "bulk", "ok" }, { 0, "api", "api_calls" } } },
    { "the cycle total: refused until the next cycle, before the per-period limit",
      { rate_limit = { requests = 1, per = 1 }, cycle = { requests = 2, per = 10 } },
      { { 0, "api", "ok" }, { 1, "api", "ok" }, { 1.5, "api", "api_calls_cycle" },
        { 2, "api", "api_calls_cycle" }, { 10, "api", "ok", 0 } } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      local clock = hand_clock()
      local lim = limits.new(case[2], clock)
      for i, step in ipairs(case[3]) do
        clock.t = step[1]
        local v = lim:admit(step[2])
        local what = ("step %d (%s at %g)"):format(i, step[2], step[1])
        assert.are.equal(step[3], v.refused and limits.TYPES[v.refused] or "ok", what)
        if step[4] then assert.are.equal(step[4], v.remaining, what) end
      end
    end)
  end

  it("describes a budget in Voucherify's headers, and a refusal with Retry-After and the type", function()
    local clock = hand_clock()
    local lim = limits.new({ rate_limit = { requests = 2, per = 10 } }, clock)
    clock.t = 1.5
    local h = lim:headers(lim:admit("api"), {})
    assert.are.same({ ["X-Rate-Limit-Limit"] = "2", ["X-Rate-Limit-Remaining"] = "1",
      ["X-Rate-Limit-Retry"] = "1012" }, h)   -- the first leaves at 11.5: epoch 1011.5, rounded up
    lim:admit("api")
    clock.t = 4
    h = lim:headers(lim:admit("api"), {})
    assert.are.same({ ["X-Rate-Limit-Limit"] = "2", ["X-Rate-Limit-Remaining"] = "0",
      ["X-Rate-Limit-Retry"] = "1012", ["Retry-After"] = "8", ["X-Rate-Limit-Type"] = "api_calls" }, h)
    assert.are.same({}, lim:headers(lim:peek("bulk"), {}))   -- no bulk budget: nothing to say
  end)

  it("checks its settings", function()
    local good = {
      { { rate_limit = "100/60" }, { rate_limit = { requests = 100, per = 60 } } },
      { { bulk = { requests = 10, per = 0.5 } }, { bulk = { requests = 10, per = 0.5 } } },
      { { cycle = 5 }, { cycle = { requests = 5, per = limits.CYCLE } } },
      { { cycle = "5/60" }, { cycle = { requests = 5, per = 60 } } },
      { { latency = "0.05", jitter = 0.01, grace = 0 }, { latency = 0.05, jitter = 0.01, grace = 0 } },
      { { rate_limit = json.null, bulk = false }, { rate_limit = false, bulk = false } },
    }
    for _, case in ipairs(good) do assert.are.same(case[2], limits.check(case[1])) end
    local bad = { { rate_limit = "100" }, { rate_limit = "0/60" }, { rate_limit = "5/0" },
      { bulk = { requests = 1.5, per = 1 } }, { rate_limit = { requests = 5 } }, { cycle = -1 },
      { latency = -1 }, { jitter = "soon" }, { speed = 1 } }
    for _, settings in ipairs(bad) do
      local ok, why = limits.check(settings)
      assert.is_nil(ok, json.encode(settings))
      assert.is_string(why)
    end
  end)
end)

describe("the fake server with limits", function()
  local server, http

  setup(function()
    server = fake_server.start("--rate-limit 4/60")
    http = core.http_new()
  end)
  teardown(function()
    http:close()
    server:stop()
  end)
  before_each(function() server:reset() end)

  local auth = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN,
    "Content-Type: application/json" }

  local function call(method, path, body, headers)
    return assert(http:perform { method = method, url = server.url .. path, headers = headers or auth,
      body = body, timeout = 10 })
  end

  local function get(path, headers) return call("GET", path, nil, headers) end

  describe("X-Rate-Limit-* headers", function()
    it("come with every API answer: success, 404, 401, a scripted fault's", function()
      server:faults { { path = "/v1/orders/faulty", status = 503 } }
      local answers = { get("/v1/orders"), get("/v1/orders/ord_nope"), get("/v1/orders", {}),
        get("/v1/orders/faulty") }
      -- the 401 and the fault take nothing: the budget shows 4 - 2
      local want = { { 200, "3" }, { 404, "2" }, { 401, "2" }, { 503, "2" } }
      for i, res in ipairs(answers) do
        assert.are.equal(want[i][1], res.status)
        assert.are.equal("4", res.headers["x-rate-limit-limit"], "answer " .. i)
        assert.are.equal(want[i][2], res.headers["x-rate-limit-remaining"], "answer " .. i)
        local retry = tonumber(res.headers["x-rate-limit-retry"])
        assert.is_true(retry > os.time() and retry <= os.time() + 62, "answer " .. i)
        assert.is_nil(res.headers["x-rate-limit-type"])
        assert.is_nil(res.headers["retry-after"])
      end
    end)

    it("describe the nominal budget where no limit is set (counted, never refusing), not on the control API",
      function()
      fake_limits.set_limits(server, { rate_limit = false })
      local nominal = tostring(limits.NOMINAL.requests)
      for i = 1, 3 do
        local res = get("/v1/orders", i == 3 and {} or nil)
        assert.are.equal(i == 3 and 401 or 200, res.status)
        assert.are.equal(nominal, res.headers["x-rate-limit-limit"], "answer " .. i)
        -- the 401 takes nothing
        assert.are.equal(tostring(limits.NOMINAL.requests - math.min(i, 2)), res.headers["x-rate-limit-remaining"])
        local retry = tonumber(res.headers["x-rate-limit-retry"])
        assert.is_true(retry > os.time() and retry <= os.time() + limits.NOMINAL.per + 2, "answer " .. i)
      end
      -- bulk calls are counted apart
      local bulk = call("POST", "/v1/orders/import", "[]")
      assert.are.equal(nominal, bulk.headers["x-rate-limit-limit"])
      assert.are.equal(tostring(limits.NOMINAL.requests - 1), bulk.headers["x-rate-limit-remaining"])
      -- a scripted fault answers from in front of the API: no budget, nothing to say
      server:faults { { status = 503 } }
      local faulty = get("/v1/orders")
      assert.are.equal(503, faulty.status)
      assert.is_nil(faulty.headers["x-rate-limit-limit"])
      fake_limits.set_limits(server, { rate_limit = { requests = 4, per = 60 } })
      assert.is_nil(get("/_fake/requests").headers["x-rate-limit-limit"])
    end)

    it("of the nominal budget never refuse: past the budget, remaining stays 0", function()
      local lim = limits.new({}, hand_clock())
      for _ = 1, limits.NOMINAL.requests + 5 do
        local v = lim:admit("api")
        assert.is_nil(v.refused)
      end
      local h = lim:headers(lim:admit("api"), {})
      assert.are.equal("0", h["X-Rate-Limit-Remaining"])
      assert.is_nil(h["Retry-After"])
    end)
  end)

  describe("a 429 with Voucherify's headers and error body", function()
    local function assert_429(res, limit_type, limit, max_wait)
      assert.are.equal(429, res.status)
      assert.are.equal(limit_type, res.headers["x-rate-limit-type"])
      assert.are.equal(tostring(limit), res.headers["x-rate-limit-limit"])
      assert.are.equal("0", res.headers["x-rate-limit-remaining"])
      local after, retry = tonumber(res.headers["retry-after"]), tonumber(res.headers["x-rate-limit-retry"])
      assert.is_true(after >= 1 and after <= max_wait, "Retry-After " .. after)
      assert.is_true(retry >= os.time() + after - 1 and retry <= os.time() + after + 2, "X-Rate-Limit-Retry")
      local body = json.decode(res.body)
      assert.are.equal(429, body.code)
      assert.are.equal("too_many_requests", body.key)
      assert.are.equal("Too many requests hit the API too quickly.", body.message)
      assert.is_string(body.details)
      assert.matches("^v%-", body.request_id)
    end

    it("api_calls: over the per-period limit", function()
      for i = 1, 4 do assert.are.equal(200, get("/v1/orders").status, "request " .. i) end
      assert_429(get("/v1/orders"), "api_calls", 4, 60)
      assert.are.same({ total = 1, api_calls = 1, bulk_api_calls = 0, api_calls_cycle = 0 },
        fake_limits.stats(server).too_many_requests)
    end)

    it("bulk_api_calls: the async bulk endpoints, counted apart from the others", function()
      fake_limits.set_limits(server, { bulk = { requests = 2, per = 3600 } })
      assert.are.equal(200, call("POST", "/v1/orders/import", "[]").status)
      assert.are.equal(202, call("POST", "/v1/customers/metadata/async",
        '{"source_ids":[],"metadata":{"a":1}}').status)
      assert_429(call("POST", "/v1/customers/bulk/async", "[]"), "bulk_api_calls", 2, 3600)
      local res = get("/v1/orders")
      assert.are.equal(200, res.status)
      assert.are.equal("3", res.headers["x-rate-limit-remaining"])
    end)

    it("api_calls_cycle: the billing-cycle total", function()
      fake_limits.set_limits(server, { cycle = 2 })
      assert.are.equal(200, get("/v1/orders").status)
      assert.are.equal(200, get("/v1/orders").status)
      assert_429(get("/v1/orders"), "api_calls_cycle", 2, limits.CYCLE)
      assert.are.equal(1, fake_limits.stats(server).too_many_requests.api_calls_cycle)
    end)
  end)

  it("lets in a client pacing itself at N per S, and refuses one sending N + 1 at once", function()
    -- the exact boundary is the hand-clock cases above; on a shared machine
    -- the arrivals jitter, so this run gives itself the largest grace
    fake_limits.set_limits(server, { rate_limit = { requests = 5, per = 1 }, grace = 0.1 })
    local sent, t0 = {}, core.monotime()
    for k = 1, 16 do
      -- each request S after the fifth before it, and never ahead of the steady pace
      local at = math.max(t0 + (k - 1) * 0.2, sent[k - 5] and sent[k - 5] + 1 or 0)
      local wait = at - core.monotime()
      if wait > 0 then core.sleep(wait) end
      sent[k] = core.monotime()
      assert.are.equal(200, get("/v1/orders").status, "request " .. k)
    end
    server:reset()
    fake_limits.set_limits(server, { rate_limit = { requests = 5, per = 1 } })
    for k = 1, 5 do
      local res = get("/v1/orders")
      assert.are.equal(200, res.status)
      assert.are.equal(tostring(5 - k), res.headers["x-rate-limit-remaining"])
    end
    assert.are.equal(429, get("/v1/orders").status)
  end)

  describe("the control API", function()
    it("counts the requests and the 429s, and reset goes back to the command line's limits", function()
      local report = fake_limits.set_limits(server, { rate_limit = { requests = 1, per = 60 }, latency = 0.01 })
      assert.are.same({ requests = 1, per = 60 }, report.rate_limit)
      assert.are.equal(200, get("/v1/orders").status)
      assert.are.equal(429, get("/v1/orders").status)
      assert.are.equal(401, get("/v1/orders", {}).status)
      local stats = fake_limits.stats(server)
      assert.are.equal(3, stats.requests)
      assert.are.same({ total = 1, api_calls = 1, bulk_api_calls = 0, api_calls_cycle = 0 }, stats.too_many_requests)
      assert.are.same({ api_calls = 0 }, stats.remaining)
      assert.are.equal(0, stats.in_flight)
      assert.are.equal(1, stats.peak_in_flight)
      server:reset()
      stats = fake_limits.stats(server)
      assert.are.same({ requests = 4, per = 60 }, stats.rate_limit)
      assert.are.equal(0, stats.latency)
      assert.are.equal(0, stats.requests)
      assert.are.equal(0, stats.too_many_requests.total)
      assert.are.same({ api_calls = 4 }, stats.remaining)
    end)

    it("answers 400 to a bad setting and changes nothing", function()
      local res = call("POST", "/_fake/limits", '{"latency":0.5,"rate_limit":{"requests":0,"per":1}}')
      assert.are.equal(400, res.status)
      assert.matches("rate_limit", json.decode(res.body).message)
      assert.are.equal(0, fake_limits.stats(server).latency)
    end)
  end)

  describe("latency", function()
    it("holds each API answer (and its 429) for latency +/- jitter, not the control API's", function()
      fake_limits.set_limits(server, { latency = 0.15, jitter = 0.05, rate_limit = { requests = 3, per = 60 } })
      for i = 1, 4 do
        local t0 = core.monotime()
        local res = get("/v1/orders")
        local took = core.monotime() - t0
        assert.are.equal(i <= 3 and 200 or 429, res.status)
        assert.is_true(took >= 0.1 and took < 0.5, ("answer %d took %.3f s"):format(i, took))
      end
      local t0 = core.monotime()
      fake_limits.stats(server)
      assert.is_true(core.monotime() - t0 < 0.1)
    end)

    it("holds each connection on its own: 20 requests at once at 0.2 s take about 0.2 s, not 4", function()
      fake_limits.set_limits(server, { latency = 0.2, rate_limit = false })
      local answers, took = fake_limits.concurrent(server, 20, "/v1/orders")
      assert.are.equal(20, #answers)
      for i, res in ipairs(answers) do assert.are.equal(200, res.status, "answer " .. i) end
      assert.is_true(took >= 0.2 and took < 1.0, ("20 answers took %.3f s"):format(took))
      assert.is_true(fake_limits.stats(server).peak_in_flight > 10)
    end)
  end)
end)

describe("the fake server's command line", function()
  local function run(args)
    local p = assert(io.popen(fake_server.LUA .. " fakeserver/bin/voucherify-fake-server " .. args .. " 2>&1"))
    local out = p:read("a")
    return out, select(3, p:close())
  end

  it("takes --latency, --jitter, --rate-limit, --bulk-rate-limit, --cycle-limit, --rate-limit-grace", function()
    local server = fake_server.start("--latency 0.05 --jitter 0.01 --rate-limit 100/60 --bulk-rate-limit 10/3600"
      .. " --cycle-limit 1000/86400 --rate-limit-grace 0.01")
    local ok, stats = pcall(fake_limits.stats, server)
    server:stop()
    assert.is_true(ok, stats)
    assert.are.same({ latency = 0.05, jitter = 0.01, grace = 0.01, rate_limit = { requests = 100, per = 60 },
      bulk = { requests = 10, per = 3600 }, cycle = { requests = 1000, per = 86400 } },
      { latency = stats.latency, jitter = stats.jitter, grace = stats.grace, rate_limit = stats.rate_limit,
        bulk = stats.bulk, cycle = stats.cycle })
  end)

  it("refuses a bad value with a usage message", function()
    for _, args in ipairs({ "--rate-limit 100", "--bulk-rate-limit 0/60", "--latency soon", "--cycle-limit x" }) do
      local out, code = run(args)
      assert.are.equal(2, code, args)
      assert.matches("usage: voucherify%-fake%-server", out)
    end
  end)
end)
