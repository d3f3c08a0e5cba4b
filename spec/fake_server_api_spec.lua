-- The fake server behaves like the API where the official JS SDKs, driven
-- against it and compared with the OpenAPI spec, found it did not (issue 13,
-- section 4): its clock, the customers orders make, the shapes of redeemables,
-- activities and async-action results, metadata updates, the email filter,
-- 401 bodies, no null for a field the API leaves out, and X-Rate-Limit-*
-- headers on every answer.
local core = require "voucherify.core"
local json = require "voucherify.json"
local fake_server = require "fake_server"

-- epoch milliseconds of the real clock (os.time() has whole seconds only)
local function real_ms()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns // 1000000
end

local function ms_of(iso)
  local datetime = require "voucherify.datetime"
  return assert(datetime.parse(iso), iso)
end

describe("the fake server, as the API", function()
  local server, http
  fake_server.suite(function(s) server = s end)
  setup(function() http = core.http_new() end)
  teardown(function() http:close() end)

  local auth = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN,
    "Content-Type: application/json" }

  -- status, decoded body, headers
  local function call(method, path, body, headers)
    local res = assert(http:perform { method = method, url = server.url .. path, headers = headers or auth,
      body = body and (type(body) == "string" and body or assert(json.encode(body))) or nil, timeout = 10 })
    local decoded = res.body ~= "" and json.decode(res.body) or nil
    return res.status, decoded, res.headers, res.body
  end

  local function ok(method, path, body)
    local status, decoded, _, raw = call(method, path, body)
    assert(status < 300, method .. " " .. path .. ": " .. status .. " " .. raw)
    return decoded
  end

  -- polls an async action until it is DONE
  local function finished(id)
    for _ = 1, 10 do
      local action = ok("GET", "/v1/async-actions/" .. id)
      if action.status == "DONE" or action.status == "FAILED" then return action end
    end
    error("async action " .. id .. " never finished")
  end

  -- no field of `t` (nested) is null: the API leaves an absent optional field out
  local function assert_no_null(t, where)
    for k, v in pairs(t) do
      local at = where .. "." .. tostring(k)
      assert.are_not.equal(json.null, v, at .. " is null")
      if type(v) == "table" then assert_no_null(v, at) end
    end
  end

  -- the fields the spec's customer (CustomerWithSummaryLoyaltyReferrals) requires, and what they hold
  local function assert_full_customer(c, where)
    assert.are.equal("customer", c.object, where)
    assert.is_string(c.id, where)
    assert.is_table(c.metadata, where)
    assert.is_string(c.created_at, where)
    assert.is_string(c.updated_at, where)
    for _, f in ipairs({ "total_redeemed", "total_failed", "total_succeeded", "total_rolled_back",
      "total_rollback_failed", "total_rollback_succeeded" }) do
      assert.are.equal(0, c.summary.redemptions[f], where .. " summary.redemptions." .. f)
    end
    assert.are.same({ redeemed_amount = 0, amount_to_go = 0 }, c.summary.redemptions.gift)
    assert.are.same({ redeemed_points = 0, points_to_go = 0 }, c.summary.redemptions.loyalty_card)
    assert.are.equal(0, c.summary.orders.total_count, where)
    assert.are.equal(0, c.loyalty.points, where)
    assert.is_table(c.loyalty.campaigns, where)
    assert.are.equal(0, c.referrals.total, where)
    assert.are.equal(getmetatable(json.array()), getmetatable(c.referrals.campaigns), where)
    assert_no_null(c, where)
  end

  describe("its clock", function()
    it("is the real time to the millisecond: take a timestamp, create, list created_at[after] it", function()
      for round = 1, 3 do
        local before = real_ms()
        local c = ok("POST", "/v1/customers", { source_id = "t" .. round })
        local after = real_ms()
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", c.created_at)
        local created = ms_of(c.created_at)
        -- never behind the real clock, and only as far ahead as `date` took to answer
        assert.is_true(created >= before, ("created_at %d is %d ms before the request"):format(created,
          before - created))
        assert.is_true(created <= after + 50, ("created_at %d is %d ms after the answer"):format(created,
          created - after))
        local stamp = require("voucherify.datetime").format(before - 1)
        local list = ok("GET", "/v1/customers?created_at%5Bafter%5D=" .. stamp)
        assert.are.equal(1, list.total, "round " .. round)
        assert.are.equal(c.id, list.customers[1].id)
        server:reset()
      end
    end)
  end)

  describe("a customer an order names", function()
    it("is a full customer with the order's inline fields, made by an order", function()
      local order = ok("POST", "/v1/orders", { source_id = "o1", amount = 100, customer = { source_id = "ann",
        name = "Ann", email = "ann@example.com", phone = "+48 1", metadata = { tier = "gold" } } })
      local c = ok("GET", "/v1/customers/ann")
      assert.are.equal(order.customer_id, c.id)
      assert.are.same({ id = c.id, object = "customer" }, order.customer)
      assert.are.equal("ann", c.source_id)
      assert.are.equal("Ann", c.name)
      assert.are.equal("ann@example.com", c.email)
      assert.are.equal("+48 1", c.phone)
      assert.are.same({ tier = "gold" }, c.metadata)
      assert_full_customer(c, "customer")
      -- the API records its creation
      local events = ok("GET", "/v1/customers/ann/activities").data
      assert.are.equal("customer.created", events[1].type)
    end)

    it("is a full customer too when an orders import makes it, and its referrer", function()
      local job = ok("POST", "/v1/orders/import", { { source_id = "o1", amount = 100,
        customer = { source_id = "bob", name = "Bob" }, referrer = { source_id = "eve", email = "eve@example.com" } } })
      finished(job.async_action_id)
      local bob, eve = ok("GET", "/v1/customers/bob"), ok("GET", "/v1/customers/eve")
      assert.are.equal("Bob", bob.name)
      assert.are.equal("eve@example.com", eve.email)
      assert_full_customer(bob, "bob")
      assert_full_customer(eve, "eve")
    end)

    it("keeps its fields when a later order names it by source_id alone", function()
      ok("POST", "/v1/orders", { source_id = "o1", customer = { source_id = "ann", name = "Ann" } })
      ok("POST", "/v1/orders", { source_id = "o2", customer = { source_id = "ann" } })
      assert.are.equal("Ann", ok("GET", "/v1/customers/ann").name)
    end)
  end)

  describe("customers", function()
    it("leave out the optional fields not given, rather than sending null", function()
      local _, _, _, raw = call("POST", "/v1/customers", { source_id = "plain" })
      assert.is_nil(raw:find("null", 1, true), raw)
      local c = ok("GET", "/v1/customers/plain")
      for _, f in ipairs({ "name", "email", "phone", "description", "birthdate", "address" }) do
        assert.is_nil(c[f], f)
      end
      assert_full_customer(c, "customer")
    end)

    it("update sets metadata as given (the API does not merge it)", function()
      ok("POST", "/v1/customers", { source_id = "m", metadata = { a = 1, b = 2 } })
      local c = ok("PUT", "/v1/customers/m", { metadata = { b = 3 } })
      assert.are.same({ b = 3 }, c.metadata)
      assert.are.same({ b = 3 }, ok("GET", "/v1/customers/m").metadata)
      -- a change that does not name metadata keeps it
      assert.are.same({ b = 3 }, ok("PUT", "/v1/customers/m", { name = "M" }).metadata)
    end)

    it("the email filter ignores case, as the API's", function()
      ok("POST", "/v1/customers", { source_id = "a", email = "Ann.Smith@Example.COM" })
      ok("POST", "/v1/customers", { source_id = "b", email = "bob@example.com" })
      for _, q in ipairs({ "ann.smith@example.com", "ANN.SMITH@EXAMPLE.COM", "Ann.Smith@Example.COM" }) do
        local list = ok("GET", "/v1/customers?email=" .. q)
        assert.are.equal(1, list.total, q)
        assert.are.equal("a", list.customers[1].source_id)
      end
    end)
  end)

  describe("redeemables and activities", function()
    it("seeded redeemables have the shape of the spec's customer redeemable", function()
      local c = ok("POST", "/v1/customers", { source_id = "r" })
      server:seed_redeemables(c.id, 4)
      local page = ok("GET", "/v1/customers/r/redeemables?limit=10")
      assert.are.equal(4, page.total)
      assert.is_false(page.has_more)
      local voucher_types = {}
      for i, r in ipairs(page.data) do
        local where = "redeemable " .. i
        for _, f in ipairs({ "id", "created_at", "redeemable_id", "redeemable_object", "customer_id",
          "holder_role", "campaign_id", "campaign_type", "voucher_type" }) do
          assert.is_string(r[f], where .. " " .. f)
        end
        assert.are.equal(c.id, r.customer_id)
        assert.are.equal("voucher", r.redeemable.type, where)
        assert.are.equal("ACTIVE", r.redeemable.status, where)
        local v = r.redeemable.voucher
        assert.are.equal(r.redeemable_id, v.id, where)
        assert.is_string(v.code, where)
        assert.are.equal(r.voucher_type, v.type, where)
        assert.are.equal(r.campaign_id, v.campaign_id, where)
        assert.are.equal("voucher", v.object, where)
        assert.is_nil(r.redeemable.code, where .. ": the old flat shape")
        voucher_types[v.type] = true
        assert_no_null(r, where)
      end
      assert.is_true(voucher_types.GIFT_VOUCHER and voucher_types.LOYALTY_CARD and voucher_types.DISCOUNT_VOUCHER)
    end)

    it("activity events nest the customer in data.data and say their data.event_source", function()
      ok("POST", "/v1/customers", { source_id = "ev", name = "Before" })
      ok("PUT", "/v1/customers/ev", { name = "After" })
      for _, path in ipairs({ "/v1/customers/ev/activities?order=created_at",
        "/v1/customers/ev/activity?order=created_at" }) do
        local events = ok("GET", path).data
        assert.are.equal(2, #events, path)
        assert.are.same({ "customer.created", "customer.updated" }, { events[1].type, events[2].type })
        -- each holds the customer as it was then
        assert.are.equal("Before", events[1].data.data.customer.name, path)
        assert.are.equal("After", events[2].data.data.customer.name, path)
        assert.are.equal("API", events[1].data.event_source.channel, path)
        assert.is_nil(events[1].data.customer, path .. ": the old flat shape")
        assert_full_customer(events[2].data.data.customer, path)
      end
    end)
  end)

  describe("async-action results", function()
    it("an orders import: message, done_count, failed_count, and a SUCCESS operation_status", function()
      local job = ok("POST", "/v1/orders/import", { { source_id = "i1" }, { source_id = "i2" } })
      local action = finished(job.async_action_id)
      assert.are.equal("SUCCESS", action.operation_status)
      assert.are.equal(2, action.result.done_count)
      assert.are.equal(0, action.result.failed_count)
      assert.is_string(action.result.message)
      assert.is_nil(action.result.results)
      assert.is_nil(action.result.failed)
    end)

    it("an orders import names the orders that failed", function()
      local job = ok("POST", "/v1/orders/import", { { source_id = "i1" }, { id = "ord_missing", source_id = "i2" } })
      local result = finished(job.async_action_id).result
      assert.are.equal(1, result.done_count)
      assert.are.equal(1, result.failed_count)
      assert.are.equal("i2", result.failed[1].source_id)
      assert.is_string(result.failed[1].reason)
    end)

    it("a bulk update: operation_status, errors with source_id, and a report to download", function()
      local job = ok("POST", "/v1/customers/bulk/async", { { source_id = "b1", name = "B" },
        { source_id = "b2", email = "not an email" } })
      local action = finished(job.async_action_id)
      assert.are.equal("SUCCESS", action.operation_status)
      local r = action.result
      assert.are.equal(1, r.done_count)
      assert.are.equal(1, r.failed_count)
      assert.are.equal("b2", r.errors[1].source_id)
      for _, f in ipairs({ "message", "details", "key" }) do assert.is_string(r.errors[1][f]) end
      assert.is_string(r.reports_available_till)
      assert.are.equal(1, #r.reports)
      local report = assert(http:perform { method = "GET", url = r.reports[1], timeout = 10 })
      assert.are.equal(200, report.status)
      assert.matches("^source_id,status,details\r?\nb1,SUCCESS,\r?\nb2,FAILED,", report.body)
      -- the link's token is the key
      local wrong = assert(http:perform { method = "GET", url = r.reports[1]:gsub("token=%x+", "token=00"),
        timeout = 10 })
      assert.are.equal(401, wrong.status)
    end)

    it("a bulk update in which everything failed has operation_status FAILED", function()
      local job = ok("POST", "/v1/customers/bulk/async", { { source_id = "x", email = "not an email" } })
      assert.are.equal("FAILED", finished(job.async_action_id).operation_status)
    end)

    it("a metadata bulk update: errors name their source_id, and the keys given are added", function()
      ok("POST", "/v1/customers", { source_id = "k1", metadata = { keep = true } })
      local job = ok("POST", "/v1/customers/metadata/async", { source_ids = { "k1", "nobody" },
        metadata = { segment = "b2b" } })
      local r = finished(job.async_action_id).result
      assert.are.equal(1, r.done_count)
      assert.are.equal(1, #r.errors)
      assert.are.equal("nobody", r.errors[1].source_id)
      assert.are.same({ keep = true, segment = "b2b" }, ok("GET", "/v1/customers/k1").metadata)
    end)
  end)

  describe("every answer", function()
    it("a 401 carries details, as the API's", function()
      local status, body = call("GET", "/v1/orders", nil, {})
      assert.are.equal(401, status)
      assert.are.equal("unauthorized", body.key)
      assert.is_string(body.details)
      assert.is_string(body.request_id)
    end)

    it("carries X-Rate-Limit-* headers though no limit is configured: 200, 404, 400, 401", function()
      local answers = { { call("GET", "/v1/orders") }, { call("GET", "/v1/orders/nope") },
        { call("GET", "/v1/orders?limit=0") }, { call("GET", "/v1/customers", nil, {}) } }
      local limit
      for i, a in ipairs(answers) do
        local h = a[3]
        limit = limit or h["x-rate-limit-limit"]
        assert.matches("^%d+$", h["x-rate-limit-limit"] or "", "answer " .. i)
        assert.are.equal(limit, h["x-rate-limit-limit"])
        assert.matches("^%d+$", h["x-rate-limit-remaining"] or "", "answer " .. i)
        assert.matches("^%d+$", h["x-rate-limit-retry"] or "", "answer " .. i)
      end
      -- the calls let in count; the 401 takes nothing
      assert.are.equal(tonumber(limit) - 3, tonumber(answers[4][3]["x-rate-limit-remaining"]))
    end)
  end)
end)
