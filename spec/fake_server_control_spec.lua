-- The fake server's control API (/_fake/*, issue 13 section 4): bodies are
-- JSON whatever the Content-Type; a body that is not JSON, not an object, or
-- that has a key the endpoint does not know (a fault's `dealy`) is a 400
-- naming it, and changes nothing.
local core = require "voucherify.core"
local json = require "voucherify.json"
local fake_server = require "fake_server"

describe("the fake server's control API", function()
  local server, http
  fake_server.suite(function(s) server = s end)
  setup(function() http = core.http_new() end)
  teardown(function() http:close() end)

  local auth = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN,
    "Content-Type: application/json" }

  -- a control call with a raw body and the given headers (none by default: no Content-Type)
  local function control(method, path, body, headers)
    local res = assert(http:perform { method = method, url = server.url .. path, body = body,
      headers = headers, timeout = 10 })
    return res.status, res.body ~= "" and json.decode(res.body) or nil, res.body
  end

  local function api(method, path, body)
    return assert(http:perform { method = method, url = server.url .. path, headers = auth,
      body = body and assert(json.encode(body)) or nil, timeout = 10 })
  end

  describe("takes JSON whatever the Content-Type", function()
    for _, content_type in ipairs({ false, "text/plain", "application/x-www-form-urlencoded" }) do
      local label = content_type or "no Content-Type"
      it("/_fake/clock and /_fake/faults with " .. label, function()
        local headers = content_type and { "Content-Type: " .. content_type } or nil
        assert.are.equal(204, (control("POST", "/_fake/clock", '{"now":"2024-05-06T07:08:09.123Z"}', headers)))
        local order = json.decode(api("POST", "/v1/orders", { source_id = "o1" }).body)
        assert.are.equal("2024-05-06T07:08:09.123Z", order.created_at)
        assert.are.equal(204, (control("POST", "/_fake/faults", '{"faults":[{"status":503}]}', headers)))
        assert.are.equal(503, api("GET", "/v1/orders").status)
        assert.are.equal(200, api("GET", "/v1/orders").status)
      end)
    end

    it("every control endpoint that takes a body", function()
      local c = json.decode(api("POST", "/v1/customers", { source_id = "c1" }).body)
      local calls = {
        { "/_fake/customers", '{"customers":[{"source_id":"seeded","name":"S"}]}', 200 },
        { "/_fake/customers/" .. c.id .. "/redeemables", '{"count":2}', 204 },
        { "/_fake/customers/" .. c.id .. "/segments", '{"segments":[{"id":"seg_1","name":"VIP"}]}', 204 },
        { "/_fake/oauth", '{"ttl":60}', 204 },
        { "/_fake/limits", '{"latency":0}', 200 },
      }
      for _, call in ipairs(calls) do
        local status, _, raw = control("POST", call[1], call[2], { "Content-Type: text/plain" })
        assert.are.equal(call[3], status, call[1] .. ": " .. raw)
      end
      assert.are.equal(200, api("GET", "/v1/customers/seeded").status)
      assert.are.equal(2, json.decode(api("GET", "/v1/customers/c1/redeemables").body).total)
      assert.are.equal("VIP", json.decode(api("GET", "/v1/customers/c1/segments").body).data[1].name)
    end)
  end)

  describe("answers 400, naming the problem, and changes nothing", function()
    it("for a body that is not JSON", function()
      for _, path in ipairs({ "/_fake/clock", "/_fake/faults", "/_fake/customers", "/_fake/limits", "/_fake/reset" }) do
        local status, body = control("POST", path, "{now: soon")
        assert.are.equal(400, status, path)
        assert.matches("not valid JSON", body.message, 1, true)
      end
      assert.are.equal(200, api("GET", "/v1/orders").status)
    end)

    it("for a fault with an unknown key (dealy), queueing none of the list", function()
      local status, body = control("POST", "/_fake/faults", '{"faults":[{"status":500},{"dealy":2}]}')
      assert.are.equal(400, status)
      assert.matches("faults[1]: unknown key(s) dealy", body.message, 1, true)
      assert.matches("delay", body.message, 1, true) -- the keys a fault has
      assert.are.equal(200, api("GET", "/v1/orders").status)
    end)

    it("for a fault field of the wrong kind, or a header that would split the answer", function()
      for _, fault in ipairs({
        { { delay = "1" }, "faults[0].delay" }, { { delay = -1 }, "faults[0].delay" },
        { { status = 42 }, "faults[0].status" }, { { status = 500.5 }, "faults[0].status" },
        { { close = "after" }, "faults[0].close" }, { { gzip = 1 }, "faults[0].gzip" },
        { { headers = { ["X-A"] = "1\r\nX-Injected: 1" } }, "faults[0].headers" },
        { { headers = { ["Bad Name"] = "1" } }, "faults[0].headers" },
        { { content_type = "text/plain\r\nX-Injected: 1" }, "faults[0].content_type" },
        { { path = 1 }, "faults[0].path" },
      }) do
        local text = assert(json.encode({ faults = json.array { fault[1] } }))
        local status, body = control("POST", "/_fake/faults", text)
        assert.are.equal(400, status, text)
        assert.matches(fault[2], body.message, 1, true)
      end
      local status, body = control("POST", "/_fake/faults", '{"faults":{"status":500}}')
      assert.are.equal(400, status)
      assert.matches("expected { faults = [...] }", body.message, 1, true)
      assert.are.equal(200, api("GET", "/v1/orders").status)
    end)

    it("for an unknown key in any other control body", function()
      local c = json.decode(api("POST", "/v1/customers", { source_id = "c1" }).body)
      for _, call in ipairs({
        { "/_fake/clock", '{"now":null,"tz":"UTC"}', "tz" },
        { "/_fake/faults", '{"faults":[],"also":1}', "also" },
        { "/_fake/customers", '{"customers":[],"count":1}', "count" },
        { "/_fake/customers", '{"customers":[{"source_id":"x","nmae":"typo"}]}', "nmae" },
        { "/_fake/customers/" .. c.id .. "/redeemables", '{"count":1,"type":"gift"}', "type" },
        { "/_fake/customers/" .. c.id .. "/segments", '{"segments":[{"id":"s","nme":"x"}]}', "nme" },
        { "/_fake/oauth", '{"ttl":5,"ttI":6}', "ttI" },
        { "/_fake/limits", '{"latncy":1}', "latncy" },
        { "/_fake/reset", '{"hard":true}', "hard" },
        { "/_fake/oauth/revoke", '{"all":true}', "all" },
      }) do
        local status, body, raw = control("POST", call[1], call[2])
        assert.are.equal(400, status, call[1] .. " " .. call[2] .. ": " .. raw)
        assert.matches(call[3], body.message, 1, true)
      end
      assert.are.equal(0, json.decode(api("GET", "/v1/customers/c1/redeemables").body).total)
      assert.are.equal(404, api("GET", "/v1/customers/x").status)
    end)

    it("for a body that is not an object", function()
      for _, body in ipairs({ "[]", '"now"', "42", "null" }) do
        local status, decoded = control("POST", "/_fake/clock", body)
        assert.are.equal(400, status, body)
        assert.matches("expected { now", decoded.message, 1, true)
      end
    end)
  end)

  it("sends a fault's headers, numbers as their digits", function()
    local status = control("POST", "/_fake/faults",
      '{"faults":[{"status":429,"headers":{"Retry-After":2,"X-Rate":0.5,"X-Note":"slow down"}}]}')
    assert.are.equal(204, status)
    local res = api("GET", "/v1/orders")
    assert.are.equal(429, res.status)
    assert.are.same({ "2", "0.5", "slow down" },
      { res.headers["retry-after"], res.headers["x-rate"], res.headers["x-note"] })
  end)

  it("seeds customers with the ids given", function()
    local status = control("POST", "/_fake/customers", '{"customers":[{"id":"cust_fixed","source_id":"f"}]}')
    assert.are.equal(200, status)
    assert.are.equal("f", json.decode(api("GET", "/v1/customers/cust_fixed").body).source_id)
    local again, body = control("POST", "/_fake/customers", '{"customers":[{"id":"cust_fixed"}]}')
    assert.are.equal(400, again)
    assert.matches("id cust_fixed exists", body.message, 1, true)
  end)

  it("logs each API request with the status it was answered with", function()
    server:faults { { path = "/v1/orders/x", close = "before" } }
    api("GET", "/v1/orders")
    api("GET", "/v1/orders/nope")
    http:perform { method = "GET", url = server.url .. "/v1/orders/x", headers = auth, timeout = 10 }
    local log = server:requests()
    assert.are.same({ 200, 404, json.null }, { log[1].status, log[2].status, log[3].status })
    assert.are.same({ "GET", "/v1/orders", "api" }, { log[1].method, log[1].path, log[1].listener })
  end)
end)
