local voucherify = require "voucherify"
local fake_server = require "fake_server"

describe("client.orders against the fake server", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  local function sample(extra)
    local o = { status = "PAID", items = { { source_id = "sku-1", quantity = 2, price = 1500,
      product = { name = "Vase – Boho" } } }, metadata = { channel = "web" } }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  describe("create", function()
    it("creates an order and returns it with the API's fields", function()
      local order, err, res = client.orders:create(sample { source_id = "web-1" })
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal(1, res.attempts)
      assert.truthy(order.id:match("^ord_"))
      assert.are.equal("order", order.object)
      assert.are.equal("web-1", order.source_id)
      assert.are.equal("PAID", order.status)
      assert.are.equal(3000, order.amount)
      assert.are.equal("integer", math.type(order.amount))
      assert.are.equal("Vase – Boho", order.items[1].product.name)
      assert.are.equal("order_item", order.items[1].object)
      assert.are.equal("application/json; charset=utf-8", res.headers["content-type"])
    end)

    it("upserts by source_id: the second create updates the same order", function()
      local first = assert(client.orders:create(sample { source_id = "web-2" }))
      local second = assert(client.orders:create { source_id = "web-2", status = "FULFILLED" })
      assert.are.equal(first.id, second.id)
      assert.are.equal("FULFILLED", second.status)
      local list = assert(client.orders:list())
      assert.are.equal(1, list.total)
    end)

    it("upserts by id", function()
      local first = assert(client.orders:create(sample()))
      local again = assert(client.orders:create { id = first.id, status = "CANCELED" })
      assert.are.equal(first.id, again.id)
      assert.are.equal("CANCELED", again.status)
    end)

    it("sends the JSON body and the credentials", function()
      assert(client.orders:create(sample { source_id = "web-3" }))
      local req = server:requests()[1]
      assert.are.equal("POST", req.method)
      assert.are.equal("/v1/orders", req.path)
      assert.are.equal("application/json", req.headers["content-type"])
      assert.are.equal(fake_server.APP_ID, req.headers["x-app-id"])
      assert.are.equal(fake_server.APP_TOKEN, req.headers["x-app-token"])
      local sent = voucherify.json.decode(req.body)
      assert.are.equal("web-3", sent.source_id)
      assert.are.equal(1500, sent.items[1].price)
    end)

    it("returns a 400 api error for a body the API rejects", function()
      local order, err, res = client.orders:create { status = "NOT_A_STATUS" }
      assert.is_nil(order)
      assert.are.equal("api", err.kind)
      assert.are.equal(400, err.status)
      assert.are.equal(400, res.status)
      assert.are.equal("invalid_payload", err.key)
    end)

    it("raises at the caller's line for a body that is not a table", function()
      local ok, msg = pcall(function() client.orders:create("nope") end)
      assert.is_false(ok)
      assert.truthy(msg:find("orders_spec.lua:%d+: voucherify: orders:create: 'order' must be a table"), msg)
      assert.are.equal(0, #server:requests())
    end)

    it("raises naming the field path for a string that is not UTF-8", function()
      local ok, msg = pcall(function()
        client.orders:create { items = { {}, { product = { name = "bad\255" } } } }
      end)
      assert.is_false(ok)
      assert.truthy(msg:find("orders_spec.lua:%d+:"), msg)
      assert.truthy(msg:find("items[2].product.name", 1, true), msg)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("get", function()
    it("gets by id and by source_id", function()
      local created = assert(client.orders:create(sample { source_id = "web-4" }))
      local by_id = assert(client.orders:get(created.id))
      local by_source = assert(client.orders:get("web-4"))
      assert.are.equal(created.id, by_id.id)
      assert.are.equal(created.id, by_source.id)
      assert.are.equal(3000, by_source.amount)
    end)

    it("returns a structured 404 error", function()
      local order, err, res = client.orders:get("ord_missing")
      assert.is_nil(order)
      assert.is_true(voucherify.is_error(err))
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal(404, err.code)
      assert.are.equal("not_found", err.key)
      assert.are.equal("Resource not found", err.message)
      assert.are.equal("Cannot find order with id ord_missing", err.details)
      assert.are.equal("ord_missing", err.resource_id)
      assert.are.equal("order", err.resource_type)
      assert.truthy(err.request_id:match("^v%-"))
      assert.are.equal("GET", err.method)
      assert.are.equal(server.url .. "/v1/orders/ord_missing", err.url)
      assert.truthy(err.body:find('"not_found"', 1, true))
      assert.are.equal(404, res.status)
      local line = tostring(err)
      assert.is_nil(line:find("\n"))
      assert.truthy(line:find("404", 1, true))
      assert.truthy(line:find("Cannot find order with id ord_missing", 1, true))
      assert.is_nil(line:find(fake_server.APP_TOKEN, 1, true))
    end)

    it("percent-encodes the id as one path segment", function()
      local _, err = client.orders:get("a/b c?d")
      assert.are.equal(404, err.status)
      assert.are.equal("a/b c?d", err.resource_id)
      local req = server:requests()[1]
      assert.are.equal("/v1/orders/a%2Fb%20c%3Fd", req.path)
      assert.are.equal("", req.query)
      assert.truthy(err.url:find("/v1/orders/a%2Fb%20c%3Fd", 1, true))
    end)

    it("finds an order whose source_id needs encoding", function()
      local created = assert(client.orders:create(sample { source_id = "shop/42 #1?x=y&z" }))
      local got = assert(client.orders:get("shop/42 #1?x=y&z"))
      assert.are.equal(created.id, got.id)
    end)

    it("raises for an id that is not a non-empty string", function()
      for _, bad in ipairs({ {}, 42, "" }) do
        local ok, msg = pcall(function() client.orders:get(bad) end)
        assert.is_false(ok)
        assert.truthy(msg:find("orders_spec.lua:%d+: voucherify: orders:get: 'id' must be a non%-empty string"), msg)
      end
      local ok = pcall(function() client.orders:get() end)
      assert.is_false(ok)
    end)
  end)

  describe("update", function()
    it("updates an order by id and by source_id", function()
      local created = assert(client.orders:create(sample { source_id = "web-5" }))
      local updated, err, res = client.orders:update(created.id, { status = "CANCELED",
        metadata = { reason = "customer" } })
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal("CANCELED", updated.status)
      assert.are.equal("customer", updated.metadata.reason)
      assert.truthy(updated.updated_at)
      local again = assert(client.orders:update("web-5", { status = "FULFILLED" }))
      assert.are.equal(created.id, again.id)
      assert.are.equal("FULFILLED", assert(client.orders:get(created.id)).status)
      assert.are.equal("PUT", server:requests()[2].method)
    end)

    it("returns a 404 error for an unknown order", function()
      local _, err = client.orders:update("ord_nope", { status = "PAID" })
      assert.are.equal(404, err.status)
      assert.are.equal("not_found", err.key)
    end)

    it("raises when changes is not a table", function()
      assert.has_error(function() client.orders:update("x", nil) end,
        "voucherify: orders:update: 'changes' must be a table (got nil)")
    end)
  end)

  describe("list", function()
    it("returns the list object with limit, page and order applied", function()
      for i = 1, 5 do assert(client.orders:create(sample { source_id = "L" .. i })) end
      local page, err, res = client.orders:list { limit = 2, page = 2 }
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal("list", page.object)
      assert.are.equal("orders", page.data_ref)
      assert.are.equal(5, page.total)
      assert.are.equal(2, #page.orders)
      assert.are.equal("L3", page.orders[1].source_id)
      assert.are.equal("L4", page.orders[2].source_id)
      local desc = assert(client.orders:list { limit = 1, order = "-created_at" })
      assert.are.equal("L5", desc.orders[1].source_id)
      local q = server:requests()
      assert.are.equal("limit=2&page=2", q[#q - 1].query)
      assert.are.equal("limit=1&order=-created_at", q[#q].query)
    end)

    it("defaults to 10 orders per page", function()
      assert(client.orders:import((function()
        local t = {}
        for i = 1, 12 do t[i] = { source_id = "D" .. i } end
        return t
      end)()))
      local page = assert(client.orders:list())
      assert.are.equal(10, #page.orders)
      assert.are.equal(12, page.total)
      assert.are.equal(voucherify.array_mt, getmetatable(page.orders))
    end)

    it("returns a 400 error for limit = 101", function()
      local page, err, res = client.orders:list { limit = 101 }
      assert.is_nil(page)
      assert.are.equal("api", err.kind)
      assert.are.equal(400, err.status)
      assert.are.equal(400, res.status)
      assert.truthy(err.details:find("limit", 1, true))
    end)

    it("returns a 400 error for page = 101 and an unknown order", function()
      local _, err = client.orders:list { page = 101 }
      assert.are.equal(400, err.status)
      _, err = client.orders:list { order = "amount" }
      assert.are.equal(400, err.status)
    end)

    it("raises for unknown parameter names and wrong types", function()
      assert.has_error(function() client.orders:list { lmit = 5 } end,
        "voucherify: orders:list: unknown parameter 'lmit' (expected one of: limit, order, page)")
      assert.has_error(function() client.orders:list { limit = 2.5 } end,
        "voucherify: orders:list: parameter 'limit' must be an integer (got number)")
      assert.has_error(function() client.orders:list("x") end)
    end)
  end)

  describe("import", function()
    it("returns the async action id and creates the orders", function()
      local result, err, res = client.orders:import { { source_id = "I1", amount = 100 },
        { source_id = "I2", amount = 200 } }
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.truthy(result.async_action_id:match("^aa_"))
      assert.are.equal(200, assert(client.orders:get("I2")).amount)
      local sent = voucherify.json.decode(server:requests()[1].body)
      assert.are.equal(voucherify.array_mt, getmetatable(sent))
    end)

    it("raises for more than 2000 orders, before any request", function()
      local many = {}
      for i = 1, 2001 do many[i] = { source_id = "x" .. i } end
      assert.has_error(function() client.orders:import(many) end)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("export", function()
    it("sends { parameters = params } and returns the export object", function()
      local exp, err = client.orders:export { fields = { "id", "source_id", "status" },
        order = "-created_at" }
      assert.is_nil(err)
      assert.truthy(exp.id:match("^exp_"))
      assert.are.equal("export", exp.object)
      assert.are.equal("SCHEDULED", exp.status)
      assert.are.equal("order", exp.exported_object)
      assert.are.same({ "id", "source_id", "status" }, exp.parameters.fields)
      local sent = voucherify.json.decode(server:requests()[1].body)
      assert.are.same({ fields = { "id", "source_id", "status" }, order = "-created_at" },
        sent.parameters)
    end)

    it("returns a 400 error for an unknown field", function()
      local _, err = client.orders:export { fields = { "nope" } }
      assert.are.equal(400, err.status)
      assert.are.equal("invalid_payload", err.key)
    end)
  end)

  describe("each and pages", function()
    local function import_orders(n)
      local batch = {}
      for i = 1, n do batch[#batch + 1] = { source_id = ("E%04d"):format(i), amount = i } end
      assert(client.orders:import(batch))
      server:clear_requests()
    end

    it("walks 250 orders with limit = 100 in exactly 3 requests", function()
      import_orders(250)
      local seen, pages = {}, {}
      for order in client.orders:each { limit = 100, on_page = function(page, info)
        pages[#pages + 1] = { count = #page.orders, page = info.page, total = info.total }
      end } do
        seen[#seen + 1] = order.source_id
      end
      assert.are.equal(250, #seen)
      assert.are.equal("E0001", seen[1])
      assert.are.equal("E0250", seen[250])
      local requests = server:requests()
      assert.are.equal(3, #requests)
      assert.are.equal("limit=100&page=1", requests[1].query)
      assert.are.equal("limit=100&page=3", requests[3].query)
      assert.are.same({ { count = 100, page = 1, total = 250 }, { count = 100, page = 2, total = 250 },
        { count = 50, page = 3, total = 250 } }, pages)
    end)

    it("stops without an extra request when the last page is full", function()
      import_orders(200)
      local n = 0
      for _ in client.orders:each { limit = 100 } do n = n + 1 end
      assert.are.equal(200, n)
      assert.are.equal(2, #server:requests())
    end)

    it("fetches lazily: breaking out early makes no further requests", function()
      import_orders(30)
      for order in client.orders:each { limit = 10 } do
        if order.source_id == "E0005" then break end
      end
      assert.are.equal(1, #server:requests())
    end)

    it("pages yields each list page with its info", function()
      import_orders(25)
      local counts = {}
      for page, info in client.orders:pages { limit = 10, order = "-created_at" } do
        counts[#counts + 1] = #page.orders
        assert.are.equal(#counts, info.page)
      end
      assert.are.same({ 10, 10, 5 }, counts)
    end)

    it("iterates an empty list without error", function()
      local n = 0
      for _ in client.orders:each() do n = n + 1 end
      assert.are.equal(0, n)
      assert.are.equal(1, #server:requests())
    end)

    it("raises a clear error when orders remain past the 100-page cap", function()
      import_orders(101)
      local n = 0
      local ok, err = pcall(function()
        for _ in client.orders:each { limit = 1 } do n = n + 1 end
      end)
      assert.is_false(ok)
      assert.are.equal(100, n)
      assert.is_true(voucherify.is_error(err))
      assert.are.equal("page_limit", err.kind)
      assert.truthy(err.message:find("100 pages", 1, true), err.message)
      assert.truthy(err.message:find("orders:export", 1, true), err.message)
      assert.are.equal(100, #server:requests())
    end)

    it("raises the error object when a page fails", function()
      import_orders(15)
      server:faults { {}, { status = 503 } } -- the second page fails every attempt
      local n = 0
      local strict = voucherify.new(server:client_options { max_retries = 0 })
      local ok, err = pcall(function()
        for _ in strict.orders:each { limit = 10 } do n = n + 1 end
      end)
      strict:close()
      assert.is_false(ok)
      assert.are.equal(10, n)
      assert.is_true(voucherify.is_error(err))
      assert.are.equal("api", err.kind)
      assert.are.equal(503, err.status)
    end)

    it("raises for unknown parameters", function()
      assert.has_error(function() client.orders:each { size = 10 } end)
      assert.has_error(function() client.orders:pages { on_page = "x" } end)
    end)
  end)
end)
