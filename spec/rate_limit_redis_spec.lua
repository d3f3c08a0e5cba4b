-- The rate limiter's Redis store against a real redis-server (started here
-- on a random loopback port) through Debian's redis-lua: one budget shared by
-- limiters and by processes, the decision atomic inside Redis, and Redis
-- going away and coming back mid-run.
local clock = require "voucherify.clock"
local rate_limit = require "voucherify.rate_limit"
local in_nginx = require "support.in_nginx"
local redis_server = require "support.redis_server"

local PREFIX = "voucherify:rate_limit:"

-- The most times within any half-open window [a, a + width).
local busiest_window = require("support.rate_window").busiest

describe("rate_limit with a Redis store", function()
  local server, side -- the server, and a connection of the spec's own to look inside

  setup(function()
    assert(redis_server.available(), "redis-server and lua-redis are needed: run `make deps`")
    server = redis_server.start()
    side = server:connect()
  end)

  teardown(function()
    if server then server:close() end
  end)

  local function connect()
    return server:connect()
  end

  local function limiter(opts, hooks)
    opts.store = opts.store or rate_limit.redis(connect)
    return rate_limit.new(opts, hooks)
  end

  it("keeps two limiters (two clients) under one budget together", function()
    local a = limiter({ requests = 10, per = 1 }, { namespace = "two-limiters" })
    local b = limiter({ requests = 10, per = 1 }, { namespace = "two-limiters" })
    local sends = {}
    for i = 1, 40 do
      local now = clock.now()
      local wait = assert((i % 2 == 0 and a or b):turn("api_calls", nil, now))
      sends[i] = now + wait
    end
    -- the waits come from Redis' clock, read a round trip after `now`: allow
    -- up to half an interval of it (a turn too many would need a whole one)
    assert.are.equal(10, busiest_window(sends, 1 - 0.05))
    assert.is_near(3.9, sends[40] - sends[1], 0.05) -- and the whole budget is used
    assert.is_truthy(side:get(PREFIX .. "two-limiters:api_calls"))
  end)

  it("keeps two processes under one budget together", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local clock = require "voucherify.clock"
local rate_limit = require "voucherify.rate_limit"
local redis = assert(require("support.redis_server").client())
local port, start, n = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local limiter = rate_limit.new({ requests = 10, per = 0.2, store = rate_limit.redis(function()
  return redis.connect { host = "127.0.0.1", port = port, timeout = 1 }
end) }, { namespace = "two-processes" })
while clock.now() < start do clock.sleep(0.001) end
for _ = 1, n do
  local now = clock.now()
  local wait = assert(limiter:turn("api_calls", nil, now))
  clock.sleep(wait)
  print(("%.6f %.6f"):format(now + wait, clock.now()))
end
]])
    f:close()
    -- both start at the same moment of the monotonic clock, which every process shares
    local start = clock.now() + 0.5
    local cmd = ("lua5.4 %s %d %.6f 30"):format(script, server.port, start)
    local p1, p2 = assert(io.popen(cmd)), assert(io.popen(cmd))
    local out1, out2 = p1:read("a"), p2:read("a")
    local ok1, ok2 = p1:close(), p2:close()
    os.remove(script)
    assert(ok1 and ok2, "a process failed:\n" .. out1 .. out2)
    local reserved, sent = {}, {}
    for line in (out1 .. out2):gmatch("[^\n]+") do
      local r, s = line:match("^(%S+) (%S+)$")
      reserved[#reserved + 1], sent[#sent + 1] = tonumber(r), tonumber(s)
    end
    assert.are.equal(60, #reserved)
    -- 10 per 0.2 s together (each alone would take 10 per 0.2 s: 20 in a window)
    assert.are.equal(10, busiest_window(reserved, 0.2 - 0.01))
    table.sort(sent)
    assert.is_near(59 * 0.02, sent[60] - sent[1], 0.1)
  end)

  it("refuses a turn after the deadline at once, reserving nothing", function()
    local l = limiter({ requests = 2, per = 10 }, { namespace = "deadline" })
    local now = clock.now()
    assert.are.equal(0, l:turn("api_calls", nil, now))
    local wait, why = l:turn("api_calls", now + 1, now)
    assert.is_nil(wait)
    assert.are.equal("timeout", why.kind)
    wait = assert(l:turn("api_calls", now + 6, now))
    assert.is_near(5, wait, 0.1) -- the slot the refused turn did not take
  end)

  it("shares a 429's pause and a billing-cycle stop with every limiter of the store", function()
    local a = limiter({ requests = 100, per = 1 }, { namespace = "shared-429" })
    local b = limiter({ requests = 100, per = 1 }, { namespace = "shared-429" })
    a:observe("api_calls", 429, { ["retry-after"] = "2" }, clock.now())
    assert.is_near(2, b:turn("api_calls", nil, clock.now()), 0.1)
    a:observe("api_calls", 429, { ["x-rate-limit-type"] = "api_calls_cycle", ["retry-after"] = "600" }, clock.now())
    local wait, why = b:turn("bulk_api_calls", nil, clock.now())
    assert.is_nil(wait)
    assert.are.same({ "api", 429, "api_calls_cycle" }, { why.kind, why.status, why.limit_type })
    assert.is_near(600, why.retry_after, 1)
  end)

  it("sends the script again when Redis has forgotten it (NOSCRIPT), with no error reported", function()
    local reports = 0
    local l = limiter({ requests = 100, per = 1 }, { namespace = "noscript",
      on_store_error = function() reports = reports + 1 end })
    assert(l:turn("api_calls", nil, clock.now()))
    side:script("flush")
    local sha = l.store.sha
    assert.are.same({ 0 }, side:script("exists", sha))
    assert(l:turn("api_calls", nil, clock.now()))
    assert.are.same({ 1 }, side:script("exists", sha))
    assert.are.equal(0, reports)
  end)

  it("falls back to the local budget when Redis goes away mid-run, says so once, and uses Redis again once back",
    function()
      local reports = {}
      local l = limiter({ requests = 100, per = 1 }, { namespace = "outage",
        on_store_error = function(msg) reports[#reports + 1] = msg end })
      local key = PREFIX .. "outage:api_calls"
      local now = 1000 -- the limiter's own clock: it times the retries of the store (Redis has its own)
      for _ = 1, 5 do assert(l:turn("api_calls", nil, now)) end
      assert.is_truthy(side:get(key))

      server:stop()
      for i = 1, 50 do
        local wait, why = l:turn("api_calls", nil, now + i / 100)
        assert(wait, why and why.message)
      end
      l:observe("api_calls", 200, { ["x-rate-limit-remaining"] = "0" }, now + 0.5)
      assert.are.equal(1, #reports)
      assert.matches("rate limit store failed %(redis: .+%); using the client's own budget", reports[1])

      server:restart() -- empty: whatever the key holds next, the limiter wrote
      side = server:connect()
      assert(l:turn("api_calls", nil, now + 1)) -- within STORE_RETRY: still local
      assert.is_nil(side:get(key))
      assert(l:turn("api_calls", nil, now + rate_limit.STORE_RETRY + 1))
      assert.is_truthy(side:get(key))
      assert.are.equal(1, #reports)
    end)

  it("reconnects at once when its connection died with a Redis restart, without falling back", function()
    local reports = 0
    local l = limiter({ requests = 100, per = 1 }, { namespace = "restart",
      on_store_error = function() reports = reports + 1 end })
    assert(l:turn("api_calls", nil, clock.now()))
    server:restart()
    side = server:connect()
    assert(l:turn("api_calls", nil, clock.now()))
    assert.is_truthy(side:get(PREFIX .. "restart:api_calls"))
    assert.are.equal(0, reports)
  end)

  it("falls back when Redis cannot be reached at all", function()
    local reports = 0
    local l = rate_limit.new({ requests = 4, per = 1, store = rate_limit.redis(function()
      return nil, "connection refused"
    end) }, { on_store_error = function() reports = reports + 1 end })
    local waits = {}
    for i = 1, 5 do waits[i] = assert(l:turn("api_calls", nil, 0)) end
    assert.are.same({ 0, 0.25, 0.5, 0.75, 1 }, waits)
    assert.are.equal(1, reports)
  end)

  it("runs the same in LuaJIT inside nginx (redis-lua on LuaSocket for 5.1)", function()
    local result = in_nginx.run(([[
      local redis = require "redis"
      local rate_limit = require "voucherify.rate_limit"
      local l = rate_limit.new({ requests = 4, per = 1, store = rate_limit.redis(function()
        return redis.connect("127.0.0.1", %d)
      end) }, { namespace = "luajit" })
      local waits = {}
      for i = 1, 5 do waits[i] = l:turn("api_calls", nil, 0) end
      return { waits = waits, jit = jit and jit.version }
    ]]):format(server.port))
    assert.matches("^LuaJIT", result.jit)
    for i, want in ipairs({ 0, 0.25, 0.5, 0.75, 1 }) do assert.is_near(want, result.waits[i], 0.02) end
    assert.is_truthy(side:get(PREFIX .. "luajit:api_calls"))
  end)

  it("keeps the budgets of its key prefixes and namespaces apart", function()
    local store = rate_limit.redis(connect, { prefix = "other-app:" })
    local a = rate_limit.new({ requests = 1, per = 60, store = store }, { namespace = "p1" })
    local b = rate_limit.new({ requests = 1, per = 60, store = store }, { namespace = "p2" })
    local c = limiter({ requests = 1, per = 60 }, { namespace = "p1" })
    for _, l in ipairs({ a, b, c }) do assert.are.equal(0, l:turn("api_calls", nil, clock.now())) end
    assert.is_truthy(side:get("other-app:p1:api_calls"))
    assert.is_truthy(side:get("other-app:p2:api_calls"))
    assert.is_truthy(side:get(PREFIX .. "p1:api_calls"))
  end)
end)
