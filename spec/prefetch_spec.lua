-- Iterators' `prefetch = n`: the next pages load while the caller works on
-- the current one (real HTTP against the fake server with latency).
local core = require "voucherify.core"
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"

-- the ids an iterator yields, in order, and the seconds it took with `work` seconds per item
local function walk(iterator, work)
  local ids, started = {}, core.monotime()
  for item in iterator do
    ids[#ids + 1] = item.id
    if work then core.sleep(work) end
  end
  return ids, core.monotime() - started
end

local function list_requests(server, path)
  local n = 0
  for _, r in ipairs(server:requests()) do
    if r.method == "GET" and r.path == path then n = n + 1 end
  end
  return n
end

describe("iterators with prefetch", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  before_each(function()
    local orders = {}
    for i = 1, 95 do orders[i] = { source_id = ("pf-%03d"):format(i), amount = i } end
    for _ in client:map(orders, function(c, o) return c.orders:create(o) end, { concurrency = 16 }) do end
    server:clear_requests()
  end)

  describe("orders:each (page numbers)", function()
    it("yields the same orders in the same order as without prefetch", function()
      local plain = walk(client.orders:each { limit = 10 })
      for _, n in ipairs({ 1, 2, 3, 12 }) do
        assert.are.same(plain, (walk(client.orders:each { limit = 10, prefetch = n })))
      end
      assert.are.equal(95, #plain)
    end)

    it("loads the next pages while the caller works: about max(latency, work) a page, not their sum", function()
      fake_limits.set_limits(server, { latency = 0.1 })
      -- 10 pages, 0.1 s of work per page (0.01 per order)
      local _, plain = walk(client.orders:each { limit = 10 }, 0.01)
      local _, ahead = walk(client.orders:each { limit = 10, prefetch = 2 }, 0.01)
      assert.is_true(plain > 1.9, ("without: %.2f s"):format(plain))
      assert.is_true(ahead < plain * 0.75, ("with prefetch 2: %.2f s, without %.2f s"):format(ahead, plain))
    end)

    it("has at most `prefetch` pages in flight besides the caller's", function()
      fake_limits.set_limits(server, { latency = 0.05 })
      local page = 0
      for _ in client.orders:pages { limit = 10, prefetch = 3 } do
        page = page + 1
        local asked = list_requests(server, "/v1/orders")
        assert.is_true(asked <= page + 3, ("on page %d, %d pages asked"):format(page, asked))
        core.sleep(0.06)
      end
      assert.are.equal(10, page)
      assert.are.equal(3, fake_limits.stats(server).peak_in_flight)
      -- past the last page (known only once it came) at most prefetch - 1 more were asked
      assert.is_true(list_requests(server, "/v1/orders") <= 10 + 2)
    end)

    it("fetches the first page alone, then stops at the total it reports: nothing fetched past it", function()
      local ids = walk(client.orders:each { limit = 50, prefetch = 5 })
      assert.are.equal(95, #ids)
      assert.are.equal(2, list_requests(server, "/v1/orders"))
    end)

    it("a failing page raises the error object, and the client stays usable", function()
      server:faults { { path = "/v1/orders", status = 400 } }
      local c = voucherify.new(server:client_options { max_retries = 0 })
      local ok, err = pcall(walk, c.orders:each { limit = 10, prefetch = 2 })
      assert.is_false(ok)
      assert.are.equal(400, err.status)
      assert.are.equal(95, #walk(c.orders:each { limit = 10, prefetch = 2 }))
      c:close()
    end)

    it("leaving the loop early leaves the client usable", function()
      fake_limits.set_limits(server, { latency = 0.05 })
      local c = voucherify.new(server:client_options())
      local seen = 0
      for _ in c.orders:each { limit = 10, prefetch = 4 } do
        seen = seen + 1
        if seen == 3 then break end
      end
      collectgarbage()
      collectgarbage()
      assert(c.orders:get("pf-001"))
      assert.are.equal(95, #walk(c.orders:each { limit = 10, prefetch = 4 }))
      c:close()
    end)

    it("prefetch = 0 is the plain walk; a negative or fractional one raises at the caller's line", function()
      assert.are.equal(95, #walk(client.orders:each { limit = 10, prefetch = 0 }))
      for _, bad in ipairs({ -1, 1.5 }) do
        local ok, err = pcall(function() local _ = client.orders:each { prefetch = bad } end)
        assert.is_false(ok)
        assert.matches("prefetch_spec.lua:%d+: voucherify: orders:each: .*'prefetch' must be", err)
      end
    end)
  end)

  describe("cursor walks prefetch one page ahead", function()
    it("customers:each (date cursors) yields the same customers", function()
      local customers = {}
      for i = 1, 45 do customers[i] = { source_id = ("pfc-%02d"):format(i) } end
      for _ in client:map(customers, function(c, x) return c.customers:create(x) end) do end
      local plain = walk(client.customers:each { limit = 7 })
      assert.are.equal(45, #plain)
      assert.are.same(plain, (walk(client.customers:each { limit = 7, prefetch = 3 })))
    end)

    it("customers:each_activity (id cursor) yields the same activities", function()
      assert(client.customers:create { source_id = "pfa" })
      server:seed_redeemables("pfa", 0)
      local plain = walk(client.customers:each_activity("pfa", { limit = 2 }))
      assert.are.same(plain, (walk(client.customers:each_activity("pfa", { limit = 2, prefetch = 2 }))))
    end)
  end)

  describe("leaving early drops the pages in flight at once (no garbage collection needed)", function()
    local c
    before_each(function()
      fake_limits.set_limits(server, { latency = 0.2 })
      c = voucherify.new(server:client_options())
      -- nothing may rely on a finalizer: the collector stays off until the end
      collectgarbage("stop")
    end)
    after_each(function()
      collectgarbage("restart")
      c:close()
    end)

    -- the requests of `c`'s multi handle started and not yet collected or cancelled
    local function in_flight()
      local many = c.transports.curl.many
      return many and many:pending() or 0
    end

    it("break", function()
      for _ in c.orders:each { limit = 5, prefetch = 5 } do break end -- luacheck: ignore 512
      assert.are.equal(0, in_flight())
      for _ in c.orders:pages { limit = 5, prefetch = 3 } do break end -- luacheck: ignore 512
      assert.are.equal(0, in_flight())
      assert(c.customers:create { source_id = "pf-early" })
      server:seed_redeemables("pf-early", 0)
      for _ in c.customers:each_activity("pf-early", { limit = 1, prefetch = 2 }) do break end -- luacheck: ignore 512
      assert.are.equal(0, in_flight())
    end)

    it("an error in the loop body", function()
      local ok, err = pcall(function()
        for _ in c.orders:each { limit = 5, prefetch = 5 } do error("body broke") end
      end)
      assert.is_false(ok)
      assert.matches("body broke", err)
      assert.are.equal(0, in_flight())
    end)

    it("on_page raising", function()
      local ok, err = pcall(function()
        for _ in c.orders:each { limit = 5, prefetch = 5, on_page = function() error({ mine = true }) end } do end
      end)
      assert.is_false(ok)
      assert.is_true(err.mine)
      assert.are.equal(0, in_flight())
      -- called by hand, outside a generic for (no to-be-closed variable): the same
      local it = c.orders:pages { limit = 5, prefetch = 5, on_page = function() error("stop") end }
      assert.has_error(function() it() end)
      assert.are.equal(0, in_flight())
      assert.is_nil(it())
    end)

    it("close() (the way on LuaJIT, which has no to-be-closed variables)", function()
      local it = c.orders:each { limit = 5, prefetch = 5 }
      assert.is_table(it())
      assert.is_true(in_flight() > 0)
      it:close()
      assert.are.equal(0, in_flight())
      assert.is_nil(it())
      -- nothing more reaches the server, and the handle pool does not grow
      local _, handles = c.transports.curl.many:pending()
      for _ = 1, 10 do
        for _ in c.orders:each { limit = 5, prefetch = 4 } do break end -- luacheck: ignore 512
      end
      assert.are.equal(handles, select(2, c.transports.curl.many:pending()))
      -- and no request left behind is sent later, by the next map on the client
      -- (the server logs a request once it has answered: let those cancelled end first)
      core.sleep(0.25)
      local asked = list_requests(server, "/v1/orders")
      for _ in c:map({ "pf-001" }, function(cl, id) return cl.orders:get(id) end) do end
      core.sleep(0.25)
      assert.are.equal(asked, list_requests(server, "/v1/orders"))
    end)
  end)

  describe("inside a map task", function()
    it("a task walking with prefetch lets the other tasks run meanwhile", function()
      fake_limits.set_limits(server, { latency = 0.1 })
      local started, at = core.monotime(), {}
      for i, took in client:map({ "walk", "get" }, function(c, kind)
        if kind == "walk" then
          for _ in c.orders:each { limit = 20, prefetch = 1 } do end
        else
          assert(c.orders:get("pf-001"))
        end
        return core.monotime() - started
      end) do
        at[i] = took
      end
      -- 5 pages at 0.1 s each; the other task's one GET is not held up by them
      assert.is_true(at[1] >= 0.5, ("the walk ended at %.2f s"):format(at[1]))
      assert.is_true(at[2] < 0.3, ("the other task's one GET ended at %.2f s"):format(at[2]))
    end)

    it("an iterator with prefetch in each task", function()
      local counts = {}
      for i, n in client:map({ 10, 20, 30 }, function(c, limit)
        local k = 0
        for _ in c.orders:each { limit = limit, prefetch = 2 } do k = k + 1 end
        return k
      end) do
        counts[i] = n
      end
      assert.are.same({ 95, 95, 95 }, counts)
    end)
  end)
end)
