-- client:map in plain Lua: many calls at once over libcurl's multi interface,
-- against the fake server with latency (real HTTP).
local core = require "voucherify.core"
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"

local function orders(n, prefix)
  local list = {}
  for i = 1, n do list[i] = { source_id = (prefix or "map-") .. i, amount = 100 + i } end
  return list
end

local function create(c, order) return c.orders:create(order) end

-- the in-flight requests of a client's multi handle (0 when it made none)
local function pending(c)
  local t = c.transports.curl
  return t.many and t.many:pending() or 0
end

describe("client:map", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  describe("runs at most `concurrency` calls at once", function()
    it("40 creates at 100 ms latency, 8 at once: every item once, correct, well under 40 x 0.1 s", function()
      fake_limits.set_limits(server, { latency = 0.1 })
      local seen, started = {}, core.monotime()
      for i, order, err, res in client:map(orders(40), create, { concurrency = 8 }) do
        assert.is_nil(err)
        assert.is_nil(seen[i], "item " .. i .. " twice")
        seen[i] = true
        assert.are.equal("map-" .. i, order.source_id)
        assert.are.equal(100 + i, order.amount)
        assert.are.equal(200, res.status)
      end
      local took = core.monotime() - started
      for i = 1, 40 do assert.is_true(seen[i], "item " .. i .. " missing") end
      assert.is_true(took < 1.5, ("took %.2f s"):format(took))
      assert.are.equal(8, fake_limits.stats(server).peak_in_flight)
      assert.are.equal(0, pending(client))
    end)

    it("yields results as they finish, not in input order", function()
      local c = voucherify.new(server:client_options())
      for i = 1, 3 do assert(c.orders:create { source_id = "order-" .. i }) end
      server:faults { { path = "/v1/orders/order-1", delay = 0.4 } }
      local order_seen = {}
      for i in c:map({ "order-1", "order-2", "order-3" }, function(cl, id) return cl.orders:get(id) end) do
        order_seen[#order_seen + 1] = i
      end
      c:close()
      assert.are.equal(1, order_seen[3])
    end)

    it("defaults to 8 at once", function()
      fake_limits.set_limits(server, { latency = 0.05 })
      for _ in client:map(orders(20), create) do end
      assert.are.equal(8, fake_limits.stats(server).peak_in_flight)
    end)

    it("reuses the multi handle's connections and a small pool of easy handles", function()
      fake_limits.set_limits(server, { latency = 0.02 })
      local c = voucherify.new(server:client_options())
      server:clear_requests()
      for _ = 1, 3 do
        for _, order in c:map(orders(12), create, { concurrency = 4 }) do assert(order) end
      end
      assert.are.equal(4, select(2, c.transports.curl.many:pending()))
      c:close()
      local connections, n = {}, 0
      for _, r in ipairs(server:requests()) do
        if not connections[r.connection] then n = n + 1 end
        connections[r.connection] = true
      end
      -- (creates without an id go on fresh connections: see csrc/http.c; these have a source_id)
      assert.are.equal(4, n)
    end)
  end)

  describe("errors", function()
    it("an error object for one item does not stop the others", function()
      local c = voucherify.new(server:client_options { max_retries = 0 })
      for i = 1, 10 do assert(c.orders:create { source_id = "e-" .. i }) end
      server:faults { { path = "/v1/orders/e-4", status = 500 } }
      local ok, failed = 0, {}
      for i, order, err in c:map({ "e-1", "e-2", "e-3", "e-4", "e-5", "e-6", "e-7", "e-8", "e-9", "e-10" },
        function(cl, id) return cl.orders:get(id) end, { concurrency = 3 }) do
        if order then ok = ok + 1 else failed[#failed + 1] = { i, err } end
      end
      c:close()
      assert.are.equal(9, ok)
      assert.are.equal(1, #failed)
      assert.are.equal(4, failed[1][1])
      assert.is_true(voucherify.is_error(failed[1][2]))
      assert.are.equal(500, failed[1][2].status)
    end)

    it("a Lua error in fn propagates out of the loop, after in-flight requests are cancelled", function()
      fake_limits.set_limits(server, { latency = 0.3 })
      local c = voucherify.new(server:client_options())
      local ok, err = pcall(function()
        for _ in c:map(orders(20), function(cl, order, i)
          if i == 5 then error({ mine = true }) end
          return cl.orders:create(order)
        end, { concurrency = 8 }) do end
      end)
      assert.is_false(ok)
      assert.is_true(err.mine)
      assert.are.equal(0, pending(c))
      fake_limits.set_limits(server, { latency = 0 })
      -- usable after: a plain call and another map
      assert(c.orders:create { source_id = "after-error" })
      local n = 0
      for _, order in c:map(orders(5, "again-"), create) do
        assert(order)
        n = n + 1
      end
      assert.are.equal(5, n)
      c:close()
    end)

    it("a string error keeps its message and position", function()
      local ok, err = pcall(function()
        for _ in client:map({ 1 }, function() error("boom") end) do end
      end)
      assert.is_false(ok)
      assert.matches("map_spec.lua:%d+: boom", err)
    end)
  end)

  describe("leaving the loop early", function()
    it("break cancels what is in flight; the client stays usable", function()
      fake_limits.set_limits(server, { latency = 0.3 })
      local c = voucherify.new(server:client_options())
      for i = 1, 4 do assert(c.orders:create { source_id = "b-" .. i }) end
      server:clear_requests()
      local count = 0
      for _ in c:map(orders(40, "brk-"), create, { concurrency = 4 }) do
        count = count + 1
        if count == 1 then break end
      end
      assert.are.equal(1, count)
      -- nothing left in flight, nothing more started
      assert.are.equal(0, pending(c))
      core.sleep(0.4)
      assert.is_true(#server:requests() <= 4, #server:requests() .. " requests")
      fake_limits.set_limits(server, { latency = 0 })
      assert(c.orders:get("b-1"))
      local n = 0
      for _ in c:map(orders(3, "brk2-"), create) do n = n + 1 end
      assert.are.equal(3, n)
      c:close()
    end)

    it("it:close() cancels too (the way on LuaJIT, which has no to-be-closed variables)", function()
      fake_limits.set_limits(server, { latency = 0.3 })
      local c = voucherify.new(server:client_options())
      local it = c:map(orders(10, "cl-"), create, { concurrency = 5 })
      local i = it()
      assert.is_number(i)
      assert.is_true(pending(c) > 0)
      it:close()
      assert.are.equal(0, pending(c))
      assert.is_nil(it())
      c:close()
    end)
  end)

  describe("every call works unchanged inside it", function()
    it("a retry after a 429 sleeps without holding up the other tasks", function()
      fake_limits.set_limits(server, { latency = 0.05 })
      local c = voucherify.new(server:client_options())
      for i = 1, 12 do assert(c.orders:create { source_id = "r-" .. i }) end
      server:faults { { path = "/v1/orders/r-1", status = 429, headers = { ["Retry-After"] = "1" } } }
      local ids = {}
      for i = 1, 12 do ids[i] = "r-" .. i end
      local started, finished = core.monotime(), {}
      for i, order, err, res in c:map(ids, function(cl, id) return cl.orders:get(id) end, { concurrency = 4 }) do
        assert(order, tostring(err))
        finished[#finished + 1] = { i = i, at = core.monotime() - started, attempts = res.attempts }
      end
      c:close()
      local last = finished[#finished]
      assert.are.equal(1, last.i)
      assert.are.equal(2, last.attempts)
      assert.is_true(last.at >= 1, "the retried call ended after " .. last.at)
      -- the other eleven went on meanwhile: 3 slots for 11 items at 50 ms is about 0.2 s
      assert.is_true(finished[#finished - 1].at < 0.8, "the others ended at " .. finished[#finished - 1].at)
    end)

    it("OAuth: every call authenticated, one token request shared by every task", function()
      local c = voucherify.new(server:client_options { oauth = {} })
      local n = 0
      for _, order, err in c:map(orders(12, "oauth-"), create, { concurrency = 4 }) do
        assert(order, tostring(err))
        n = n + 1
      end
      local tokens = 0
      for _, r in ipairs(server:requests()) do
        if r.path == "/v1/oauth/token" then tokens = tokens + 1 end
      end
      -- the first task asks for it; the others wait for that one
      assert.are.equal(1, tokens)
      local after = #server:requests()
      assert(c.orders:get("oauth-1"))
      assert.are.equal(after + 1, #server:requests())
      c:close()
      assert.are.equal(12, n)
    end)

    it("iterators run inside tasks", function()
      local c = voucherify.new(server:client_options())
      for i = 1, 25 do assert(c.customers:create { source_id = ("it-%02d"):format(i) }) end
      local counts = {}
      for i, count in c:map({ 5, 7, 10 }, function(cl, limit)
        local n = 0
        for _ in cl.customers:each { limit = limit } do n = n + 1 end
        return n
      end) do
        counts[i] = count
      end
      c:close()
      assert.are.same({ 25, 25, 25 }, counts)
    end)

    it("a view's options apply inside its map", function()
      local c = voucherify.new(server:client_options())
      local view = c:with { headers = { ["X-Trace"] = "map" } }
      for _ in view:map({ "v-1", "v-2" }, function(v, id) return v.orders:create { source_id = id } end) do end
      c:close()
      local traced = 0
      for _, r in ipairs(server:requests()) do
        if r.headers["x-trace"] == "map" then traced = traced + 1 end
      end
      assert.are.equal(2, traced)
    end)

    it("a map inside a task", function()
      local total = 0
      for _, n in client:map({ 3, 4 }, function(c, k)
        local sum = 0
        for _, order in c:map(orders(k, "inner-" .. k .. "-"), create, { concurrency = 2 }) do
          sum = sum + (order and 1 or 0)
        end
        return sum
      end) do
        total = total + n
      end
      assert.are.equal(7, total)
    end)

    it("a task running a map of its own lets the other tasks run meanwhile", function()
      local c = voucherify.new(server:client_options())
      assert(c.orders:create { source_id = "nest-slow" })
      assert(c.orders:create { source_id = "nest-fast" })
      server:faults { { path = "/v1/orders/nest-slow", delay = 0.6 } }
      local started, at = core.monotime(), {}
      for i, order, err in c:map({ "inner", "get" }, function(cl, kind)
        if kind == "inner" then
          -- two levels deep: the innermost wait must not hold up the outer task either
          for _, o in cl:map({ "nest-slow" }, function(c2, id)
            local get = function(c3, id3) return c3.orders:get(id3) end
            for _, x in c2:map({ id }, get) do return x end -- luacheck: ignore 512
          end) do assert(o) end
        else
          assert(cl.orders:get("nest-fast"))
        end
        return core.monotime() - started
      end) do
        assert(order, tostring(err))
        at[i] = order
      end
      assert.are.equal(0, pending(c))
      c:close()
      assert.is_true(at[1] >= 0.6, ("the nested map ended at %.2f s"):format(at[1]))
      assert.is_true(at[2] < 0.4, ("the other task's one GET ended at %.2f s"):format(at[2]))
    end)
  end)

  describe("checks its arguments at the caller's line", function()
    local function raised(f)
      local ok, err = pcall(f)
      assert.is_false(ok)
      return err
    end
    it("unknown options, a bad concurrency, no function, no list", function()
      assert.matches("map_spec.lua:%d+: voucherify: client:map: unknown option 'paralel'",
        raised(function() local _ = client:map({}, create, { paralel = 2 }) end))
      for _, bad in ipairs({ 0, -1, 1.5, "4", math.huge }) do
        assert.matches("map_spec.lua:%d+: voucherify: client:map: 'concurrency' must be a positive integer",
          raised(function() local _ = client:map({}, create, { concurrency = bad }) end))
      end
      assert.matches("map_spec.lua:%d+: voucherify: client:map: 'fn' must be a function",
        raised(function() local _ = client:map({}, "create") end))
      assert.matches("map_spec.lua:%d+: voucherify: client:map: 'items' must be a table",
        raised(function() local _ = client:map(nil, create) end))
      assert.matches("map_spec.lua:%d+: voucherify: client:map: called with '.'",
        raised(function() local _ = client.map({}, create) end))
    end)

    it("an empty list yields nothing", function()
      for _ in client:map({}, create) do error("nothing to yield") end
    end)
  end)

  describe("outside a task nothing changes", function()
    it("a call made in the loop body blocks as before, on the client's own handle", function()
      local n = 0
      for _, order in client:map(orders(4, "body-"), create, { concurrency = 2 }) do
        local again = assert(client.orders:get(order.id))
        assert.are.equal(order.id, again.id)
        n = n + 1
      end
      assert.are.equal(4, n)
    end)
  end)
end)
