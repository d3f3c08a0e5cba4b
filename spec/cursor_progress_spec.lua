-- Iterators against servers that lie about pagination (ignore the cursor or
-- the page number, cycle cursors, repeat items, go backwards): a walk that
-- stops making progress raises a "no_progress" error object after a few
-- requests, and no item is ever yielded twice.
local voucherify = require "voucherify"
local raw_server = require "support.raw_server"

-- A scripted server: `answer` is Lua source for function(q, n, state) -> the JSON
-- body (a table) for the nth request, whose decoded query is `q`.
local function list_server(answer)
  return raw_server.start([[
    local answer = ]] .. answer .. [[

    local function unescape(s)
      return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
    end
    return function(conn, ctx)
      while true do
        local req = ctx.read_request(conn)
        if not req then return end
        local q = {}
        for k, v in (req.target:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do
          q[unescape(k)] = unescape(v)
        end
        ctx.state.n = (ctx.state.n or 0) + 1
        ctx.record({ target = req.target, query = q })
        -- a walk that never stops gets a 400 at last, so a regression fails instead of hanging
        local status, body = "200 OK", nil
        if ctx.state.n > 500 then
          status, body = "400 Bad Request", ctx.json.encode({ code = 400, message = "request cap reached" })
        else
          body = ctx.json.encode(answer(q, ctx.state.n, ctx.state))
        end
        conn:write(("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")
          :format(status, #body, body))
      end
    end
  ]])
end

describe("iterators against a server that lies about pagination", function()
  local srv, client

  after_each(function()
    if client then client:close() end
    if srv then srv:stop() end
    client, srv = nil, nil
  end)

  local function start(answer)
    srv = list_server(answer)
    client = voucherify.new { app_id = "id", app_token = "token", base_url = srv.url, timeout = 5,
      max_retries = 0 }
  end

  -- runs the loop; fails on an item yielded twice; returns the count and the error raised
  local function drain(iter)
    local seen, count = {}, 0
    local ok, err = pcall(function()
      for item in iter do
        assert(not seen[item.id], "yielded twice: " .. tostring(item.id))
        seen[item.id] = true
        count = count + 1
      end
    end)
    if not ok and not voucherify.is_error(err) then error(err, 0) end
    return count, not ok and err or nil, seen
  end

  local function assert_no_progress(err, what)
    assert.is_true(voucherify.is_error(err), tostring(err))
    assert.are.equal("pagination", err.kind)
    assert.truthy(err.message:find(what, 1, true), err.message)
    assert.truthy(tostring(err):find("pagination error", 1, true))
  end

  describe("customers:each (date cursor)", function()
    -- 100 customers, one per second, newest first, whatever the query says
    local SAME_PAGE = [[function(q)
      local list = {}
      for i = 1, tonumber(q.limit) do
        list[i] = { id = "c" .. i, created_at = ("2024-01-01T00:%02d:%02d.000Z"):format((60 - i) // 60 % 60,
          (60 - i) % 60) }
      end
      return { object = "list", customers = list, total = 1000000, has_more = true }
    end]]

    it("raises a pagination error after 2 requests when the server ignores the cursor", function()
      start(SAME_PAGE)
      local count, err = drain(client.customers:each { limit = 50 })
      assert_no_progress(err, "customers:each")
      assert.truthy(err.message:find("starting_after=", 1, true), err.message)
      assert.are.equal(50, count)
      assert.are.equal(2, #srv:requests())
      assert.is_string(err.cursor)
    end)

    it("raises a pagination error within a few requests when every answer is one millisecond's same page"
      .. " (an iterator step never makes unbounded requests)", function()
      start([[function(q)
        local list = {}
        for i = 1, tonumber(q.limit) do list[i] = { id = "c" .. i, created_at = "2024-01-01T00:00:00.000Z" } end
        return { object = "list", customers = list, total = 1000000, has_more = true }
      end]])
      local count, err = drain(client.customers:each { limit = 20 })
      assert_no_progress(err, "customers:each")
      assert.are.equal(20, count)
      assert.is_true(#srv:requests() <= 5, #srv:requests() .. " requests")
    end)

    it("raises a pagination error when the server goes backwards (newer customers after the cursor)", function()
      -- request n answers customers from minute n: newer each time, though the walk is newest first
      start([[function(q, n)
        local list = {}
        for i = 1, tonumber(q.limit) do
          list[i] = { id = ("c%d-%d"):format(n, i), created_at = ("2024-01-01T%02d:%02d:00.000Z"):format(n, 60 - i) }
        end
        return { object = "list", customers = list, total = 1000000, has_more = true }
      end]])
      local count, err = drain(client.customers:each { limit = 10 })
      assert_no_progress(err, "customers:each")
      assert.are.equal(10, count)
      assert.are.equal(2, #srv:requests())
    end)

    it("never yields a repeated or out-of-order customer twice, and ends when the list does", function()
      start([[function(q, n)
        local function c(id, s) return { id = id, created_at = ("2024-01-01T00:00:%02d.000Z"):format(s) } end
        if n == 1 then return { customers = { c("a", 50), c("b", 40), c("a", 50), c("c", 30) }, has_more = true } end
        if n == 2 then return { customers = { c("c", 30), c("b", 40), c("a", 50), c("d", 20) }, has_more = true } end
        return { customers = { c("d", 20), c("e", 10), c("b", 40) }, has_more = false }
      end]])
      local count, err, seen = drain(client.customers:each { limit = 4 })
      assert.is_nil(err)
      assert.are.equal(5, count)
      for _, id in ipairs({ "a", "b", "c", "d", "e" }) do assert.is_true(seen[id], id) end
      local q = srv:requests()[2].query
      assert.are.equal("2024-01-01T00:00:30.001Z", q.starting_after)
    end)

    it("raises a pagination error when the pages of one millisecond's group cycle", function()
      -- the group at T: the walk's inclusive cursor gets set A again; the window's pages cycle B, A, B, ...
      start([[function(q, n)
        local set = (n <= 2 or (q.page and tonumber(q.page) % 2 == 0)) and "a" or "b"
        local list = {}
        for i = 1, tonumber(q.limit) do list[i] = { id = set .. i, created_at = "2024-01-01T00:00:00.000Z" } end
        return { customers = list, total = 1000000, has_more = true }
      end]])
      local count, err = drain(client.customers:each { limit = 10 })
      assert_no_progress(err, "customers:each")
      assert.are.equal(20, count)
      assert.is_true(#srv:requests() <= 10, #srv:requests() .. " requests")
    end)
  end)

  describe("each_activity and each_redeemable (id cursor)", function()
    it("raises a pagination error naming the cursor when cursors cycle a, b, a, b", function()
      start([[function(q, n)
        local nxt = ({ [""] = "a", a = "b", b = "a" })[q.starting_after_id or ""]
        return { object = "list", data = { { id = "e" .. n } }, has_more = true, more_starting_after = nxt }
      end]])
      local count, err = drain(client.customers:each_activity("cust_1"))
      assert_no_progress(err, "customers:each_activity")
      assert.truthy(err.message:find('"a"', 1, true), err.message)
      assert.are.equal("a", err.cursor)
      assert.are.equal(3, count)
      assert.are.equal(3, #srv:requests())
    end)

    it("raises a pagination error when the server ignores the cursor", function()
      start([[function()
        return { data = { { id = "e1" }, { id = "e2" } }, has_more = true, more_starting_after = "e2" }
      end]])
      local count, err = drain(client.customers:each_activity("cust_1"))
      assert_no_progress(err, "customers:each_activity")
      assert.are.equal(2, count)
      assert.are.equal(2, #srv:requests())
    end)

    it("raises a pagination error when fresh cursors bring the same items again", function()
      start([[function(_, n)
        return { data = { { id = "r1" }, { id = "r2" } }, has_more = true, more_starting_after = "cur" .. n }
      end]])
      local count, err = drain(client.customers:each_redeemable("cust_1"))
      assert_no_progress(err, "customers:each_redeemable")
      assert.are.equal(2, count)
      assert.are.equal(4, #srv:requests())
    end)

    it("yields items that come again under new cursors only once, and ends with has_more = false", function()
      start([[function(_, n)
        local more = { has_more = true, more_starting_after = "x" .. (n + 1) }
        if n == 1 then more.data = { { id = "x1" }, { id = "x2" } } return more end
        if n == 2 then more.data = { { id = "x2" }, { id = "x3" } } return more end
        return { data = { { id = "x1" }, { id = "x4" } }, has_more = false }
      end]])
      local count, err = drain(client.customers:each_activity("cust_1"))
      assert.is_nil(err)
      assert.are.equal(4, count)
    end)
  end)

  describe("orders:each and customers:each by source_id (page numbers)", function()
    it("raises a pagination error when the server ignores the page number", function()
      start([[function(q)
        local list = {}
        for i = 1, tonumber(q.limit) do list[i] = { id = "o" .. i } end
        return { object = "list", orders = list, total = 1000000 }
      end]])
      local count, err = drain(client.orders:each { limit = 10 })
      assert_no_progress(err, "orders:each")
      assert.truthy(err.message:find("page 2", 1, true), err.message)
      assert.are.equal(10, count)
      assert.are.equal(2, #srv:requests())
    end)

    it("raises a pagination error when pages cycle A, B, A, B", function()
      start([[function(q)
        local set = tonumber(q.page) % 2 == 1 and "a" or "b"
        local list = {}
        for i = 1, tonumber(q.limit) do list[i] = { id = set .. i } end
        return { object = "list", orders = list, total = 1000000 }
      end]])
      local count, err = drain(client.orders:each { limit = 10 })
      assert_no_progress(err, "orders:each")
      assert.are.equal(20, count)
      assert.are.equal(5, #srv:requests())
    end)

    it("customers:each by source_id raises a pagination error when the page number is ignored", function()
      start([[function(q)
        local list = {}
        for i = 1, tonumber(q.limit) do list[i] = { id = "c" .. i, source_id = "s" .. i } end
        return { object = "list", customers = list, total = 1000000, has_more = true }
      end]])
      local count, err = drain(client.customers:each { order = "source_id", limit = 5 })
      assert_no_progress(err, "customers:each")
      assert.are.equal(5, count)
      assert.are.equal(2, #srv:requests())
    end)

    it("yields orders repeated by shifted pages once, and pages() shows only new ones", function()
      start([[function(q)
        local p = tonumber(q.page)
        local list = {}
        for i = 1, 10 do list[i] = { id = "o" .. ((p - 1) * 5 + i) } end
        return { object = "list", orders = list, total = p < 3 and 100 or 25 }
      end]])
      local count, err = drain(client.orders:each { limit = 10 })
      assert.is_nil(err)
      assert.are.equal(20, count)
      local counts = {}
      for page, info in client.orders:pages { limit = 10 } do
        counts[#counts + 1] = #page.orders
        assert.are.equal(#page.orders, info.count)
      end
      assert.are.same({ 10, 5, 5 }, counts)
    end)
  end)
end)
