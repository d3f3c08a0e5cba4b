-- client:request (any endpoint through the same pipeline) and client:with
-- (a view with per-call options), against the fake server.
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local core = require "voucherify.core"

local ORDER = { source_id = "web-1", status = "PAID", items = { { source_id = "sku-1", quantity = 1, price = 100 } } }

describe("client:request", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  it("gets what the resource method gets, through the same pipeline", function()
    local order = assert(client.orders:create(ORDER))
    local via_request, err, res = client:request { method = "GET", path = { "v1", "orders", order.id } }
    assert.is_nil(err)
    assert.are.equal(200, res.status)
    assert.are.same(client.orders:get(order.id), via_request)
    local log = server:requests()
    assert.are.equal("/v1/orders/" .. order.id, log[#log - 1].path)
    assert.are.equal(fake_server.APP_TOKEN, log[#log - 1].headers["x-app-token"])
  end)

  it("takes a string path, sends the query sorted with lists repeated, and a table body as JSON", function()
    assert(client:request { method = "POST", path = "/v1/orders", body = ORDER })
    local list = assert(client:request { method = "GET", path = "/v1/orders", query = { limit = 1, page = 1 } })
    assert.are.equal(1, #list.orders)
    local log = server:requests()
    assert.are.equal("POST", log[1].method)
    assert.are.equal("web-1", require("voucherify.json").decode(log[1].body).source_id)
    assert.are.equal("application/json", log[1].headers["content-type"])
    assert.are.equal("limit=1&page=1", log[2].query)
    client:request { method = "GET", path = "/v1/orders", query = { limit = 1, x = { "a", "b" } } }
    assert.are.equal("limit=1&x=a&x=b", server:requests()[3].query)
  end)

  it("keeps an id with '/', '?', '..' in one path segment", function()
    local _, err = client:request { method = "GET", path = { "v1", "orders", "a/b?c" } }
    assert.are.equal(404, err.status)
    _, err = client:request { method = "GET", path = { "v1", "orders", ".." } }
    assert.are.equal(404, err.status)
    local log = server:requests()
    assert.are.equal("/v1/orders/a%2Fb%3Fc", log[1].path)
    assert.are.equal("/v1/orders/%2E%2E", log[2].path)
  end)

  it("returns the API's error object, and repeats only idempotent calls", function()
    local _, err = client:request { method = "GET", path = { "v1", "orders", "nope" } }
    assert.is_true(voucherify.is_error(err))
    assert.are.equal("api", err.kind)
    assert.are.equal(404, err.status)
    server:faults { { status = 503 }, { status = 503 } }
    _, err = client:request { method = "POST", path = "/v1/orders", body = ORDER }
    assert.are.equal(1, err.attempts)
    server:reset()
    server:faults { { status = 503 } }
    local _, _, res = client:request { method = "GET", path = "/v1/orders" }
    assert.are.equal(2, res.attempts)
    server:reset()
    server:faults { { status = 503 } }
    _, _, res = client:request { method = "POST", path = "/v1/orders", body = ORDER, idempotent = true }
    assert.are.equal(2, res.attempts)
  end)

  it("reports to on_response and uses OAuth like every call", function()
    local infos = {}
    local c = voucherify.new(server:client_options { oauth = { scope = "api" },
      on_response = function(info) infos[#infos + 1] = info end })
    assert(c:request { method = "GET", path = "/v1/orders" })
    c:close()
    local log = server:requests()
    assert.are.equal("/v1/oauth/token", log[1].path)
    assert.truthy(log[2].headers["authorization"]:match("^Bearer "))
    assert.is_nil(log[2].headers["x-app-token"])
    assert.are.equal("/v1/orders", infos[#infos].path)
  end)

  local BAD = {
    { "not a table", "x", "'request' must be a table" },
    { "an unknown field", { method = "GET", path = "/v1/orders", headers = {} }, "unknown field 'headers'" },
    { "a lower-case method", { method = "get", path = "/v1/orders" }, "'method' must be an HTTP method" },
    { "no method", { path = "/v1/orders" }, "'method' must be an HTTP method" },
    { "a relative string path", { method = "GET", path = "v1/orders" }, "'path' must start with '/'" },
    { "an empty segment", { method = "GET", path = "/v1//orders" }, "segment 2 must be a non-empty" },
    { "an empty list path", { method = "GET", path = {} }, "at least one segment" },
    { "a table segment", { method = "GET", path = { "v1", {} } }, "segment 2 must be a non-empty" },
    { "a table query value", { method = "GET", path = "/v1/orders", query = { a = { {} } } },
      "'query.a' values must be" },
    { "a body that is not a table", { method = "POST", path = "/v1/orders", body = "{}" }, "'body' must be a table" },
    { "a body that cannot be JSON", { method = "POST", path = "/v1/orders", body = { f = print } }, "body" },
    { "a non-boolean idempotent", { method = "GET", path = "/v1/orders", idempotent = 1 }, "'idempotent'" },
  }
  for _, case in ipairs(BAD) do
    it("raises at the caller's line, before any request: " .. case[1], function()
      local ok, msg = pcall(function() local r = client:request(case[2]) return r end)
      assert.is_false(ok)
      assert.truthy(msg:find("client:request: ", 1, true), msg)
      assert.truthy(msg:find(case[3], 1, true), msg)
      assert.truthy(msg:find("request_with_spec.lua", 1, true), msg)
      assert.are.equal(0, #server:requests())
    end)
  end

  it("says so when called with '.'", function()
    local ok, msg = pcall(client.request, { method = "GET", path = "/v1/orders" })
    assert.is_false(ok)
    assert.truthy(msg:find("called with '.' instead of ':'", 1, true), msg)
  end)
end)

describe("client:with", function()
  local server, client
  fake_server.suite({ client = { timeout = 5 } }, function(s, c) server, client = s, c end)

  it("overrides timeout for the calls made through it; the client keeps its own", function()
    local order = assert(client.orders:create(ORDER))
    server:faults { { delay = 1 } }
    local started = core.monotime()
    local _, err = client:with { timeout = 0.3, max_retries = 0 }.orders:get(order.id)
    local elapsed = core.monotime() - started
    assert.are.equal("timeout", err.kind)
    assert.is_true(elapsed < 0.6, ("took %.2f s"):format(elapsed))
    server:faults { { delay = 1 } }
    assert(client.orders:get(order.id)) -- the client's 5 s are enough
    assert.are.equal(5, client.config.timeout)
  end)

  it("overrides max_retries for one call while the client keeps its own", function()
    server:faults { { status = 503 } }
    local _, err = client:with { max_retries = 0 }.orders:list()
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    server:faults { { status = 503 } }
    local _, _, res = client.orders:list()
    assert.are.equal(2, res.attempts)
  end)

  it("adds headers, replacing the client's of the same name whatever the case", function()
    local c = voucherify.new(server:client_options { headers = { ["X-Trace"] = "client", ["X-Keep"] = "k" } })
    local view = c:with { headers = { ["x-trace"] = "view" }, channel = "ch" }
    assert(view:request { method = "GET", path = "/v1/orders" })
    assert(c.orders:list())
    c:close()
    local log = server:requests()
    assert.are.equal("view", log[1].headers["x-trace"])
    assert.are.equal("k", log[1].headers["x-keep"])
    assert.are.equal("ch", log[1].headers["x-voucherify-channel"])
    assert.are.equal("client", log[2].headers["x-trace"])
    assert.is_nil(log[2].headers["x-voucherify-channel"])
  end)

  it("shares the client's connection and OAuth tokens, and closing it closes nothing", function()
    local c = voucherify.new(server:client_options { oauth = { scope = "api" } })
    assert(c.orders:list())
    local view = c:with { timeout = 2 }
    assert(view.orders:list())
    assert(view:with { max_retries = 1 }.orders:list())
    view:close()
    assert(c.orders:list())
    c:close()
    local log = server:requests()
    local tokens = 0
    for _, r in ipairs(log) do if r.path == "/v1/oauth/token" then tokens = tokens + 1 end end
    assert.are.equal(1, tokens)
    for i = 2, #log do assert.are.equal(log[1].connection, log[i].connection) end
  end)

  it("keeps secrets out of the view's errors, headers it adds included", function()
    server:faults { { status = 400, body = { message = "echo sekret-view-token and " .. fake_server.APP_TOKEN } } }
    local _, err = client:with { headers = { Authorization = "Bearer sekret-view-token" } }.orders:list()
    assert.is_nil(tostring(err):find("sekret-view-token", 1, true))
    assert.is_nil(tostring(err):find(fake_server.APP_TOKEN, 1, true))
  end)

  local BAD = {
    { "an unknown key", { tiemout = 1 }, "unknown option 'tiemout'" },
    { "a connection setting", { base_url = "http://127.0.0.1:1" }, "'base_url' cannot be changed in a view" },
    { "a credential", { app_token = "x" }, "'app_token' cannot be changed in a view" },
    { "a bad value", { timeout = -1 }, "'timeout' must be a positive number" },
    { "not a table", "x", "options must be a table" },
  }
  for _, case in ipairs(BAD) do
    it("raises at the caller's line like voucherify.new: " .. case[1], function()
      local ok, msg = pcall(function() local v = client:with(case[2]) return v end)
      assert.is_false(ok)
      assert.truthy(msg:find("client:with: ", 1, true), msg)
      assert.truthy(msg:find(case[3], 1, true), msg)
      assert.truthy(msg:find("request_with_spec.lua", 1, true), msg)
    end)
  end
end)

describe("client:request and client:with, hardened", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)
  local in_nginx = require "support.in_nginx"

  local function raises(fn, text)
    local ok, msg = pcall(fn)
    assert.is_false(ok)
    assert.truthy(tostring(msg):find(text, 1, true), tostring(msg))
    assert.are.equal(0, #server:requests())
    return msg
  end

  it("takes a string path under LuaJIT too (inside nginx)", function()
    if not in_nginx.available() then return pending("no nginx with the lua module") end
    local got = in_nginx.run(([[
      local v = require "voucherify"
      local c = v.new { app_id = %q, app_token = %q, base_url = %q }
      local list, err = c:request { method = "GET", path = "/v1/orders", query = { limit = 1 } }
      return { ok = list ~= nil, err = err and tostring(err) or "" }
    ]]):format(fake_server.APP_ID, fake_server.APP_TOKEN, server.url))
    assert.is_true(got.ok, got.err)
    assert.are.equal("/v1/orders", server:requests()[1].path)
  end)

  it("answers a HEAD with true, and refuses a body with GET or HEAD", function()
    local raw_server = require "support.raw_server"
    local srv = raw_server.start([[
      return function(conn, ctx)
        local req = ctx.read_request(conn); ctx.record(req)
        conn:write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n")
        conn:flush()
      end
    ]])
    local c = voucherify.new { app_id = "id", app_token = "token", base_url = srv.url }
    local ok, err, res = c:request { method = "HEAD", path = "/v1/orders" }
    c:close()
    local seen = srv:requests()
    srv:stop()
    assert.is_nil(err)
    assert.is_true(ok)
    assert.are.equal(200, res.status)
    assert.are.equal("HEAD", seen[1].method)
    raises(function() local r = client:request { method = "GET", path = "/v1/orders", body = {} } return r end,
      "'body' cannot be sent with GET")
  end)

  it("refuses tables that are not lists in path and query, and numbers that are not plain", function()
    raises(function() local r = client:request { method = "GET", path = { "v1", x = "y" } } return r end,
      "'path' must be a list")
    raises(function() local r = client:request { method = "GET", path = "/v1/orders", query = { f = { a = 1 } } }
      return r end, "'query.f' must be a value or a list")
    for _, bad in ipairs { 3.5, 0 / 0, math.huge, 2 ^ 63 } do
      raises(function() local r = client:request { method = "GET", path = { "v1", "orders", bad } } return r end,
        "segment 3 must be a non-empty string or an integer")
    end
    for _, bad in ipairs { 0 / 0, math.huge, -math.huge } do
      raises(function() local r = client:request { method = "GET", path = "/v1/orders", query = { limit = bad } }
        return r end, "'query.limit' values must be")
    end
    assert(client:request { method = "GET", path = { "v1", "orders" }, query = { limit = 2.0, page = 1 } })
    assert.are.equal("limit=2&page=1", server:requests()[1].query)
  end)

  it("never shows a string given as body (it may be a credential)", function()
    local msg = raises(function() local r = client:request { method = "POST", path = "/v1/orders",
      body = '{"app_token":"tok-SECRET-123"}' } return r end, "'body' must be a table (got string)")
    assert.is_nil(msg:find("tok-SECRET-123", 1, true))
  end)

  it("refuses headers that frame the message, in the client and in a view", function()
    for _, name in ipairs { "Content-Length", "transfer-encoding", "Host", "Connection", "Expect", "Upgrade" } do
      raises(function() local c = voucherify.new(server:client_options { headers = { [name] = "9" } }) return c end,
        "cannot be set: the transport frames the message")
      raises(function() local v = client:with { headers = { [name] = "9" } } return v end,
        "cannot be set: the transport frames the message")
    end
  end)

  it("sends the OAuth token as the one Authorization, whatever a view's headers say", function()
    local c = voucherify.new(server:client_options { oauth = { scope = "api" } })
    assert(c:with { headers = { Authorization = "Bearer caller-given" } }.orders:list())
    c:close()
    local req = server:requests()[2]
    assert.truthy(req.headers["authorization"]:match("^Bearer "))
    assert.is_nil(req.headers["authorization"]:find("caller-given", 1, true))
  end)

  it("makes a view from what the client was given, not from the caller's table as it is now", function()
    local headers = { ["X-Tenant"] = "a" }
    local c = voucherify.new(server:client_options { headers = headers })
    headers["X-Tenant"] = "b"
    headers["X-Extra"] = "later"
    assert(c:with { timeout = 5 }.orders:list())
    c:close()
    local req = server:requests()[1]
    assert.are.equal("a", req.headers["x-tenant"])
    assert.is_nil(req.headers["x-extra"])
  end)

  it("adds nothing to the client's secrets per view", function()
    local before = #client.auth.secrets
    for _ = 1, 100 do client:with { timeout = 5 } end
    assert.are.equal(before, #client.auth.secrets)
  end)
end)
