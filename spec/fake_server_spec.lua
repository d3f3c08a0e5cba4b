local core = require "voucherify.core"
local json = require "voucherify.json"
local voucherify = require "voucherify"
local fake_server = require "fake_server"

describe("the fake server", function()
  local server, http

  fake_server.suite(function(s) server = s end)
  setup(function() http = core.http_new() end)
  teardown(function() http:close() end)

  local function get(path, headers)
    return assert(http:perform { method = "GET", url = server.url .. path, headers = headers,
      timeout = 10 })
  end

  local auth = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN }

  it("answers 401 with Voucherify's error body without valid credentials", function()
    for _, headers in ipairs({ {}, { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: wrong" },
      { "Authorization: Bearer wrong" } }) do
      local res = get("/v1/orders", headers)
      assert.are.equal(401, res.status)
      local body = json.decode(res.body)
      assert.are.equal(401, body.code)
      assert.are.equal("unauthorized", body.key)
      assert.are.equal("Unauthorized", body.message)
    end
  end)

  it("accepts app keys and bearer tokens", function()
    assert.are.equal(200, get("/v1/orders", auth).status)
    assert.are.equal(200, get("/v1/orders", { "Authorization: Bearer " .. fake_server.ACCESS_TOKEN }).status)
  end)

  it("answers 404 for unknown paths and 405 for known paths with another method", function()
    assert.are.equal(404, get("/v1/nothing-here", auth).status)
    local res = assert(http:perform { method = "DELETE", url = server.url .. "/v1/orders",
      headers = auth, timeout = 10 })
    assert.are.equal(405, res.status)
  end)

  it("answers 400 invalid_payload for a body that is not JSON", function()
    local res = assert(http:perform { method = "POST", url = server.url .. "/v1/orders",
      headers = { auth[1], auth[2], "Content-Type: application/json" }, body = "{nope", timeout = 10 })
    assert.are.equal(400, res.status)
    assert.are.equal("invalid_payload", json.decode(res.body).key)
  end)

  it("answers other connections while one answer is slow", function()
    server:faults { { path = "/v1/orders/slow-one", delay = 1.5 } }
    server:clear_requests()
    -- a second process makes the slow request
    local script = ([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = "build/?.so;" .. package.cpath
      local core = require "voucherify.core"
      local h = core.http_new()
      local t0 = core.monotime()
      local res = h:perform { method = "GET", url = %q, timeout = 10,
        headers = { "X-App-Id: %s", "X-App-Token: %s" } }
      io.write(res and res.status or "failed", " ", core.monotime() - t0)
    ]]):format(server.url .. "/v1/orders/slow-one", fake_server.APP_ID, fake_server.APP_TOKEN)
    local child = assert(io.popen(fake_server.LUA .. " -e '" .. script .. "'", "r"))
    -- wait until the server has the slow request in hand (it logs before delaying)
    local started
    for _ = 1, 500 do
      local log = server:requests()
      if #log > 0 then started = core.monotime() break end
      core.sleep(0.01)
    end
    assert.truthy(started, "the slow request never reached the server")
    local client = voucherify.new(server:client_options())
    local t0 = core.monotime()
    local list, err = client.orders:list()
    local fast = core.monotime() - t0
    client:close()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
    assert.is_true(fast < 0.5, "fast request took " .. fast .. " s")
    local out = child:read("a")
    child:close()
    local status, slow = out:match("^(%d+) ([%d.]+)$")
    assert.are.equal("404", status)
    assert.is_true(tonumber(slow) >= 1.4, "slow request took " .. tostring(slow))
    -- the fast one finished while the slow one was still waiting
    assert.is_true(t0 + fast < started + 1.4)
  end)

  it("sees one connection per client: the client keeps it alive", function()
    server:clear_requests()
    local a = voucherify.new(server:client_options())
    local b = voucherify.new(server:client_options())
    for _ = 1, 3 do
      assert(a.orders:list())
      assert(b.orders:list())
    end
    a:close()
    b:close()
    local log = server:requests()
    assert.are.equal(6, #log)
    assert.are.equal(log[1].connection, log[3].connection)
    assert.are.equal(log[1].connection, log[5].connection)
    assert.are.equal(log[2].connection, log[6].connection)
    assert.are_not.equal(log[1].connection, log[2].connection)
  end)
end)
