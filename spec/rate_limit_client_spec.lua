-- The client under a rate limit, against the fake server's limits: every
-- request waits for its turn (so a job at full speed sees no 429), the API's
-- answers resync it, a billing-cycle 429 stops every later call at once, and
-- `response.rate_limit` / `on_response` expose the budget.
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"
local core = require "voucherify.core"

describe("a client with rate_limit", function()
  local server
  fake_server.suite(function(s) server = s end)

  local function client(extra)
    local opts = { max_retries = 0 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return voucherify.new(server:client_options(opts))
  end

  -- (the server's grace is the most it allows, a tenth of the window: on a loaded
  -- machine a request may leave a little after its turn, closer to the next one)
  it("sends a burst at the plan's pace: the server sees no 429", function()
    fake_limits.set_limits(server, { rate_limit = { requests = 20, per = 1 }, grace = 0.1 })
    local c = client { rate_limit = { requests = 20, per = 1 } }
    local started = core.monotime()
    for i = 1, 45 do
      local _, err = c.orders:list { limit = 1 }
      assert.is_nil(err, i .. ": " .. tostring(err))
    end
    local elapsed = core.monotime() - started
    c:close()
    assert.are.equal(0, fake_limits.stats(server).too_many_requests.total)
    -- 45 calls at 20 per second cannot take less than about 2 s
    assert.is_true(elapsed >= 1.9, ("took %.2f s"):format(elapsed))
  end)

  it("... which the same burst without the limiter does not (the server's limit is real)", function()
    fake_limits.set_limits(server, { rate_limit = { requests = 20, per = 1 } })
    local c = client()
    local limited = 0
    for _ = 1, 45 do
      local _, err = c.orders:list { limit = 1 }
      if err and err.status == 429 then limited = limited + 1 end
    end
    c:close()
    assert.is_true(limited > 0)
    assert.are.equal(limited, fake_limits.stats(server).too_many_requests.total)
  end)

  it("exposes the API's budget in response.rate_limit and on_response", function()
    fake_limits.set_limits(server, { rate_limit = { requests = 100, per = 60 } })
    local infos = {}
    local c = client { rate_limit = { requests = 100, per = 60 },
      on_response = function(info) infos[#infos + 1] = info end }
    local _, _, res = c.orders:list()
    c:close()
    assert.are.equal(100, res.rate_limit.limit)
    assert.are.equal(99, res.rate_limit.remaining)
    assert.are.same(res.rate_limit, infos[1].rate_limit)
  end)

  it("resyncs from X-Rate-Limit-Remaining: another client's calls count too", function()
    fake_limits.set_limits(server, { rate_limit = { requests = 10, per = 1 }, grace = 0.1 })
    local other = client()
    for _ = 1, 8 do assert(other.orders:list { limit = 1 }) end
    other:close()
    local c = client { rate_limit = { requests = 10, per = 1 } }
    for i = 1, 12 do
      local _, err = c.orders:list { limit = 1 }
      assert.is_nil(err, i .. ": " .. tostring(err))
    end
    c:close()
    assert.are.equal(0, fake_limits.stats(server).too_many_requests.total)
  end)

  it("stops every later call at once after a billing-cycle 429, and says so", function()
    fake_limits.set_limits(server, { cycle = 3 })
    local c = client { rate_limit = { requests = 100, per = 1 }, max_retries = 2 }
    for _ = 1, 3 do assert(c.orders:list { limit = 1 }) end
    local _, err = c.orders:list { limit = 1 }
    assert.are.equal(429, err.status)
    assert.are.equal("api_calls_cycle", err.limit_type)
    assert.are.equal(1, err.attempts) -- never retried
    local sent = fake_limits.stats(server).requests
    local started = core.monotime()
    local _, again = c.orders:get("x")
    assert.is_true(core.monotime() - started < 0.1)
    assert.are.equal(sent, fake_limits.stats(server).requests) -- nothing sent
    assert.are.equal("api_calls_cycle", again.limit_type)
    assert.truthy(tostring(again):find("billing-cycle", 1, true), tostring(again))
    c:close()
  end)

  it("fails a call at once, unsent, when its turn would come after its timeout", function()
    local c = client { rate_limit = { requests = 1, per = 10 }, timeout = 0.5 }
    assert(c.orders:list { limit = 1 })
    local started = core.monotime()
    local _, err = c.orders:list { limit = 1 }
    assert.is_true(core.monotime() - started < 0.1)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(0, err.attempts)
    assert.are.equal(1, #server:requests())
    c:close()
  end)

  it("counts imports and bulk updates in the bulk budget, apart from the plain one", function()
    local c = client { rate_limit = { requests = 1, per = 10, bulk = { requests = 10, per = 1 } }, timeout = 0.5 }
    assert(c.orders:list { limit = 1 })
    -- the plain budget is spent for 10 s; the bulk one is not
    assert(c.orders:import { { source_id = "b1" } })
    assert(c.customers:update_in_bulk { { source_id = "c1" } })
    local _, err = c.orders:list { limit = 1 }
    assert.are.equal("timeout", err.kind)
    c:close()
  end)

  it("raises at the caller's line on a bad rate_limit option", function()
    local ok, msg = pcall(function() local c = voucherify.new(server:client_options {
      rate_limit = { requests = 0, per = 1 } }) return c end)
    assert.is_false(ok)
    assert.truthy(msg:find("rate_limit.requests", 1, true), msg)
    assert.truthy(msg:find("rate_limit_client_spec.lua", 1, true), msg)
  end)
end)
