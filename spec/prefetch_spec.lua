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

  describe("inside a map task", function()
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
