-- `select`: list calls and iterators decode only the fields asked for.
-- Each item holds exactly the selected paths (those it has) with the values
-- a full decode gives; the page envelope stays whole; `select` is never sent;
-- iterators keep what their cursor reads; bad values raise naming `select`.
-- Real HTTP against the fake server (libcurl, one request at a time and on
-- the multi handle), and a transport that hands the body over as a string
-- (how the cosocket transport and user transports answer).
local core = require "voucherify.core"
local json = require "voucherify.json"
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local in_nginx = require "support.in_nginx"

-- what a `select` of `paths` keeps of a fully decoded item (the rule the
-- items must follow, written independently of the library's code)
local function expected(item, paths)
  local out = {}
  for _, path in ipairs(paths) do
    local names = {}
    for name in path:gmatch("[^.]+") do names[#names + 1] = name end
    local function copy(src, dst, i)
      local name = names[i]
      local v = src[name]
      if v == nil then return end
      if i == #names or type(v) ~= "table" then
        dst[name] = v
      elseif getmetatable(v) == json.array_mt then
        local arr = type(dst[name]) == "table" and dst[name] or setmetatable({}, json.array_mt)
        for k, e in ipairs(v) do
          if type(e) == "table" and getmetatable(e) ~= json.array_mt then
            arr[k] = type(arr[k]) == "table" and arr[k] or {}
            copy(e, arr[k], i + 1)
          else
            arr[k] = e
          end
        end
        dst[name] = arr
      else
        dst[name] = type(dst[name]) == "table" and dst[name] or {}
        copy(v, dst[name], i + 1)
      end
    end
    copy(item, out, 1)
  end
  return out
end

local function count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- the query strings of the list requests the server received
local function list_queries(server, path)
  local out = {}
  for _, r in ipairs(server:requests()) do
    if r.method == "GET" and r.path == path then out[#out + 1] = r.query or "" end
  end
  return out
end

describe("select", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  before_each(function()
    local orders = {}
    for i = 1, 25 do
      orders[i] = { source_id = ("sel-%02d"):format(i), status = i % 2 == 0 and "PAID" or "CREATED",
        items = { { source_id = "sku-" .. i, quantity = i, price = 100, product = { name = "Vase " .. i } },
          { source_id = "sku-x", quantity = 1, price = 5 } },
        metadata = { channel = "web", n = i },
        customer = i <= 20 and { source_id = ("cust-%02d"):format(i), email = ("c%02d@example.com"):format(i) }
          or nil }
    end
    for _ in client:map(orders, function(c, o) return c.orders:create(o) end, { concurrency = 8 }) do end
    server:clear_requests()
  end)

  describe("orders:list", function()
    local SELECT = { "id", "amount", "status", "customer.id" }

    it("items hold only the selected fields, equal to the full decode's; the envelope stays whole", function()
      local full = assert(client.orders:list { limit = 100 })
      local part, err, res = client.orders:list { limit = 100, select = SELECT }
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal(25, #part.orders)
      -- everything but the items: the same as without select
      for k, v in pairs(full) do
        if k ~= "orders" then assert.are.same(v, part[k], k) end
      end
      assert.are.equal(count_keys(full), count_keys(part))
      assert.are.equal(json.array_mt, getmetatable(part.orders))
      for i, item in ipairs(part.orders) do
        assert.are.same(expected(full.orders[i], SELECT), item)
        assert.is_nil(item.items)
        assert.is_nil(item.metadata)
      end
      -- the nested path: only `id` of the customer object
      assert.are.same({ id = full.orders[1].customer.id }, part.orders[1].customer)
    end)

    it("a path missing from an item is absent; a missing nested object is not made up", function()
      local full = assert(client.orders:list { limit = 100 })
      local part = assert(client.orders:list { limit = 100, select = { "id", "no_such_field", "customer.id",
        "metadata.absent" } })
      local without_customer = 0
      for i, item in ipairs(part.orders) do
        assert.is_nil(item.no_such_field)
        if full.orders[i].customer == nil then
          without_customer = without_customer + 1
          assert.is_nil(item.customer)
        end
        -- the object is there, the member is not: an empty object
        assert.are.same({}, item.metadata)
        assert.are.same(expected(full.orders[i], { "id", "customer.id", "metadata.absent" }), item)
      end
      assert.are.equal(5, without_customer)
    end)

    it("a path through an array applies to each element", function()
      local full = assert(client.orders:list { limit = 100 })
      local paths = { "id", "items.product.name", "items.quantity" }
      local part = assert(client.orders:list { limit = 100, select = paths })
      for i, item in ipairs(part.orders) do
        assert.are.same(expected(full.orders[i], paths), item)
        assert.are.equal(json.array_mt, getmetatable(item.items))
        assert.are.equal(2, #item.items)
        assert.is_nil(item.items[1].source_id)
      end
    end)

    it("a whole object and one of its members: the whole object wins, in any order", function()
      local full = assert(client.orders:list { limit = 100 })
      local a = assert(client.orders:list { limit = 100, select = { "customer.id", "customer" } })
      local b = assert(client.orders:list { limit = 100, select = { "customer", "customer.id" } })
      for i = 1, #full.orders do
        assert.are.same({ customer = full.orders[i].customer }, a.orders[i])
        assert.are.same(a.orders[i], b.orders[i])
      end
    end)

    it("is never sent to the server", function()
      assert(client.orders:list { limit = 7, page = 1, select = { "id" } })
      assert.are.same({ "limit=7&page=1" }, list_queries(server, "/v1/orders"))
    end)

    it("each call compiles its own selection: the same client serves full and partial pages in turn", function()
      for _ = 1, 3 do
        local part = assert(client.orders:list { limit = 5, select = { "status" } })
        local full = assert(client.orders:list { limit = 5 })
        assert.are.same({ status = full.orders[1].status }, part.orders[1])
        assert.is_string(full.orders[1].source_id)
      end
    end)
  end)

  describe("iterators", function()
    local function walk(iterator)
      local items = {}
      for item in iterator do items[#items + 1] = item end
      return items
    end

    it("orders:each walks every page; items keep `id` (what the cursor reads) and the selected fields", function()
      local full = walk(client.orders:each { limit = 10 })
      local part = walk(client.orders:each { limit = 10, select = { "status", "customer.id" } })
      assert.are.equal(25, #full)
      assert.are.equal(#full, #part)
      for i, item in ipairs(part) do
        assert.are.same(expected(full[i], { "id", "status", "customer.id" }), item)
      end
      for _, q in ipairs(list_queries(server, "/v1/orders")) do assert.is_nil(q:find("select")) end
    end)

    it("with prefetch (pages on libcurl's multi handle) the items are the same", function()
      local plain = walk(client.orders:each { limit = 4, select = { "amount" } })
      for _, n in ipairs { 1, 3 } do
        assert.are.same(plain, walk(client.orders:each { limit = 4, prefetch = n, select = { "amount" } }))
      end
      assert.are.equal(25, #plain)
      assert.are.same({ id = plain[1].id, amount = plain[1].amount }, plain[1])
    end)

    it("orders:pages: the pages keep their envelope, the items are partial", function()
      local n = 0
      for page, info in client.orders:pages { limit = 10, select = { "id" } } do
        n = n + 1
        assert.are.equal("list", page.object)
        assert.are.equal(25, page.total)
        assert.are.equal(25, info.total)
        for _, item in ipairs(page.orders) do
          assert.are.equal(1, count_keys(item))
          assert.is_string(item.id)
        end
      end
      assert.are.equal(3, n)
    end)

    it("customers:each (the date cursor) keeps created_at and updated_at too, and walks the same", function()
      local full = walk(client.customers:each { limit = 6 })
      local part = walk(client.customers:each { limit = 6, select = { "email" } })
      assert.are.equal(20, #full)
      assert.are.equal(#full, #part)
      for i, item in ipairs(part) do
        assert.are.same(expected(full[i], { "id", "created_at", "updated_at", "email" }), item)
        assert.is_string(item.email)
      end
    end)

    it("customers:each_redeemable (the id cursor) keeps `id`", function()
      local customer = assert(client.customers:get("cust-01"))
      server:seed_redeemables(customer.id, 23)
      local full = walk(client.customers:each_redeemable(customer.id, { limit = 5 }))
      local part = walk(client.customers:each_redeemable(customer.id, { limit = 5, select = { "object" } }))
      assert.are.equal(23, #full)
      for i, item in ipairs(part) do
        assert.are.same(expected(full[i], { "id", "object" }), item)
      end
    end)

    it("inside client:map (the multi handle) each task's pages are partial", function()
      local full = assert(client.orders:list { limit = 5, page = 2 })
      local seen = 0
      for _, page, err in client:map({ 1, 2, 3 }, function(c, p)
        return c.orders:list { limit = 5, page = p, select = { "source_id" } }
      end, { concurrency = 3 }) do
        assert.is_nil(err)
        for _, item in ipairs(page.orders) do
          assert.are.equal(1, count_keys(item))
          assert.is_string(item.source_id)
        end
        if page.orders[1].source_id == full.orders[1].source_id then
          for i, item in ipairs(page.orders) do assert.are.same({ source_id = full.orders[i].source_id }, item) end
        end
        seen = seen + 1
      end
      assert.are.equal(3, seen)
    end)
  end)

  describe("a transport that answers with the body as a string (cosocket, user transports)", function()
    it("gets the same partial items: the Lua layer decodes with the selector", function()
      local handle = core.http_new()
      local strings = voucherify.new(server:client_options { transport = function(req)
        local copy = {}
        for k, v in pairs(req) do copy[k] = v end
        copy.json, copy.select = nil, nil -- answer with `body`, as a user's transport does
        local raw, failure = handle:perform(copy)
        assert(raw == nil or raw.body ~= nil)
        return raw, failure
      end })
      local paths = { "id", "customer.id", "items.quantity" }
      local a = assert(client.orders:list { limit = 100, select = paths })
      local b = assert(strings.orders:list { limit = 100, select = paths })
      assert.are.same(a, b)
      handle:close()
      strings:close()
    end)
  end)

  describe("inside nginx (LuaJIT)", function()
    local it_nginx = in_nginx.available() and it or pending
    local PATHS = { "id", "customer.id", "items.quantity" }

    it_nginx("the LuaJIT build of the core selects the same (libcurl transport, init phase)", function()
      local here = assert(client.orders:list { limit = 100, select = PATHS })
      local there = in_nginx.run(([[
        local voucherify = require "voucherify"
        local c = voucherify.new { app_id = %q, app_token = %q, base_url = %q }
        local page = assert(c.orders:list { limit = 100, select = { "id", "customer.id", "items.quantity" } })
        return { codec = require("voucherify.json").codec, orders = page.orders, total = page.total }
      ]]):format(fake_server.APP_ID, fake_server.APP_TOKEN, server.url))
      assert.are.equal("voucherify.core", there.codec)
      assert.are.equal(here.total, there.total)
      assert.are.equal(#here.orders, #there.orders)
      for i, item in ipairs(here.orders) do
        -- (arrays come back as plain tables: compare without metatables)
        assert.are.same(json.decode(assert(json.encode(item))), there.orders[i])
      end
    end)

    it_nginx("without the core, lua-cjson decodes and the selection is applied in Lua", function()
      local full = assert(client.orders:list { limit = 100 })
      local text = assert(json.encode(full))
      local expected_items = {}
      for i, item in ipairs(full.orders) do expected_items[i] = expected(item, PATHS) end
      local there = in_nginx.run(([[
        local voucherify = require "voucherify"
        local text = %q
        local c = voucherify.new { app_id = "a", app_token = "b", base_url = "http://127.0.0.1:9",
          transport = function() return { status = 200, headers = {}, body = text } end }
        local page = assert(c.orders:list { limit = 100, select = { "id", "customer.id", "items.quantity" } })
        return { codec = require("voucherify.json").codec, orders = page.orders, total = page.total }
      ]]):format(text), { core = false })
      assert.are.equal("cjson", there.codec)
      assert.are.equal(full.total, there.total)
      assert.are.same(json.decode(assert(json.encode(expected_items))), there.orders)
    end)
  end)

  describe("the selection applied in Lua (lua-cjson, when the C core is absent)", function()
    it("gives what the C decoder's selection gives", function()
      local full = assert(client.orders:list { limit = 100 })
      local text = assert(json.encode(full))
      local trees = {
        { ["*"] = true, orders = { id = true, customer = { id = true } } },
        { orders = { items = { product = { name = true } }, metadata = true } },
        { total = true, orders = { ["*"] = true, items = { quantity = true } } },
        { nothing = true },
      }
      for _, tree in ipairs(trees) do
        local in_c = assert(core.json_decode(text, core.json_select(tree)))
        assert.are.same(in_c, json.select_decoded(assert(json.decode(text)), tree))
      end
    end)
  end)

  describe("bad values raise at the caller's line, naming `select`, before any request", function()
    local BAD = {
      { 5, "'select' must be a non-empty list of field names" },
      { "id", "'select' must be a non-empty list of field names" },
      { false, "'select' must be a non-empty list of field names" },
      { {}, "(got an empty table)" },
      { { id = true }, "(got the key \"id\")" },
      { { "id", 7 }, "'select[2]' must be a non-empty string (got number)" },
      { { "" }, "'select[1]' must be a non-empty string" },
      { { "a..b" }, "'select[1]' has an empty field name" },
      { { ".a" }, "'select[1]' has an empty field name" },
      { { "a." }, "'select[1]' has an empty field name" },
      { { ("a."):rep(40) .. "a" }, "'select[1]' names more than 32 nested fields" },
    }
    local function raised(call)
      local ok, err = pcall(call)
      assert.is_false(ok, "did not raise")
      local at = ("spec/select_spec.lua:%d: "):format(debug.getinfo(call, "S").linedefined)
      assert.are.equal(at, err:sub(1, #at), "blames another line: " .. tostring(err))
      return err
    end
    for n, case in ipairs(BAD) do
      it(("refuses bad value %d: %s"):format(n, case[2]), function()
        local bad = case[1]
        local calls = {
          function() local _ = client.orders:list { select = bad } end,
          function() local _ = client.orders:each { select = bad } end,
          function() local _ = client.customers:list { select = bad } end,
          function() local _ = client.customers:pages { select = bad } end,
          function() local _ = client.customers:each_activity("cust", { select = bad }) end,
        }
        for _, call in ipairs(calls) do
          local err = raised(call)
          assert.truthy(err:find(case[2], 1, true), err)
        end
        assert.are.same({}, server:requests())
      end)
    end
  end)
end)
