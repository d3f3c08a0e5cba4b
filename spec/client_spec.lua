local core = require "voucherify.core"
local voucherify = require "voucherify"
local fake_server = require "fake_server"

describe("voucherify.new", function()
  local creds = { app_id = "id", app_token = "token" }
  local function with(extra)
    local o = { app_id = "id", app_token = "token" }
    for k, v in pairs(extra) do o[k] = v end
    return o
  end

  it("exposes the module constants", function()
    assert.are.equal("0.1.0", voucherify.VERSION)
    assert.are.equal(require("cjson").null, voucherify.null)
    assert.is_table(voucherify.array_mt)
    assert.are.equal(voucherify.array_mt, getmetatable(voucherify.array()))
    local t = {}
    assert.are.equal(t, voucherify.array(t))
    assert.is_false(voucherify.is_error({ kind = "api" }))
    assert.is_false(voucherify.is_error(nil))
  end)

  it("defaults to the EU API and picks regional clusters", function()
    assert.are.equal("https://api.voucherify.io", voucherify.new(creds).config.base_url)
    assert.are.equal("https://us1.api.voucherify.io", voucherify.new(with { cluster = "us1" }).config.base_url)
    assert.are.equal("https://as1.api.voucherify.io", voucherify.new(with { cluster = "as1" }).config.base_url)
    assert.are.equal("https://api.voucherify.io", voucherify.new(with { cluster = "eu" }).config.base_url)
    assert.are.equal("http://localhost:1/base",
      voucherify.new(with { base_url = "http://localhost:1/base/" }).config.base_url)
  end)

  local bad = {
    { with { colour = "red" }, "unknown option 'colour'" },
    { { app_id = "id" }, "'app_id' and 'app_token' go together" },
    { {}, "credentials missing" },
    { with { timeout = "5" }, "option 'timeout' must be a number" },
    { with { timeout = 0 }, "'timeout' must be a positive number" },
    { with { cluster = "mars" }, "unknown cluster 'mars'" },
    { with { cluster = "eu", base_url = "http://x" }, "not both" },
    { with { base_url = "ftp://x" }, "must start with http:// or https://" },
    { with { max_retries = -1 }, "'max_retries' must be a non-negative integer" },
    { with { headers = { ["X-Evil"] = "a\r\nX-Injected: 1" } }, "header 'X-Evil' contains CR, LF or NUL" },
    { with { channel = "web\nshop" }, "contains CR, LF or NUL" },
    { with { headers = { ["bad name"] = "x" } }, "is not a valid HTTP token" },
  }
  for _, case in ipairs(bad) do
    it("raises at the caller's line: " .. case[2], function()
      local ok, msg = pcall(function() voucherify.new(case[1]) end)
      assert.is_false(ok)
      assert.truthy(msg:find("client_spec.lua:%d+: voucherify.new: "), msg)
      assert.truthy(msg:find(case[2], 1, true), msg)
    end)
  end

  it("raises when options are not a table", function()
    assert.has_error(function() voucherify.new() end)
    assert.has_error(function() voucherify.new("id") end)
  end)
end)

describe("a client against the fake server", function()
  local server

  fake_server.suite(function(s) server = s end)

  it("sends identification, channel, version, user agent and extra headers", function()
    local client = voucherify.new(server:client_options {
      channel = "pos-7", api_version = "v2018-08-01", headers = { ["X-Trace"] = "abc", ["X-Num"] = 5 },
    })
    assert(client.orders:list())
    client:close()
    local h = server:requests()[1].headers
    assert.are.equal("pos-7", h["x-voucherify-channel"])
    assert.are.equal("v2018-08-01", h["x-voucherify-api-version"])
    assert.are.equal("abc", h["x-trace"])
    assert.are.equal("5", h["x-num"])
    assert.are.equal("application/json", h["accept"])
    assert.truthy(h["user-agent"]:match("^voucherify%-lua/0%.1%.0 %(Lua 5%.4; libcurl/"), h["user-agent"])
    assert.truthy(h["accept-encoding"]:find("gzip", 1, true))
  end)

  it("lets a custom user_agent and headers replace the defaults", function()
    local client = voucherify.new(server:client_options { user_agent = "my-sync/2",
      headers = { accept = "application/json; q=1" } })
    assert(client.orders:list())
    client:close()
    local h = server:requests()[1].headers
    assert.are.equal("my-sync/2", h["user-agent"])
    assert.are.equal("application/json; q=1", h["accept"])
  end)

  it("authenticates with an OAuth access token", function()
    local client = voucherify.new { access_token = fake_server.ACCESS_TOKEN, base_url = server.url }
    local list, err = client.orders:list()
    client:close()
    assert.is_nil(err)
    assert.are.equal(0, list.total)
    local h = server:requests()[1].headers
    assert.are.equal("Bearer " .. fake_server.ACCESS_TOKEN, h["authorization"])
    assert.is_nil(h["x-app-token"])
  end)

  it("returns a 401 api error that contains no credential", function()
    local secret = "wrong-s3cret-value"
    local client = voucherify.new { app_id = fake_server.APP_ID, app_token = secret, base_url = server.url }
    local list, err, res = client.orders:list()
    client:close()
    assert.is_nil(list)
    assert.are.equal("api", err.kind)
    assert.are.equal(401, err.status)
    assert.are.equal("unauthorized", err.key)
    assert.are.equal(401, res.status)
    for k, v in pairs(err) do
      assert.is_nil(tostring(v):find(secret, 1, true), "secret in err." .. k)
    end
    assert.is_nil(tostring(err):find(secret, 1, true))
  end)

  it("returns response headers with lower-case names", function()
    local client = voucherify.new(server:client_options())
    local _, _, res = client.orders:list()
    client:close()
    assert.are.equal(200, res.status)
    assert.is_string(res.headers["content-type"])
    assert.is_string(res.headers["content-length"])
    for name in pairs(res.headers) do assert.are.equal(name:lower(), name) end
  end)

  it("returns a timeout error when the answer is slower than `timeout`, and stays usable", function()
    server:faults { { delay = 2 } }
    local client = voucherify.new(server:client_options { timeout = 0.3, max_retries = 0 })
    local t0 = core.monotime()
    local list, err, res = client.orders:list()
    local elapsed = core.monotime() - t0
    assert.is_nil(list)
    assert.is_nil(res)
    assert.are.equal("timeout", err.kind)
    assert.is_nil(err.status)
    assert.are.equal("GET", err.method)
    assert.is_true(elapsed < 1.5, "took " .. elapsed)
    local again = client.orders:list()
    client:close()
    assert.are.equal("list", again.object)
  end)

  it("returns a network error when nothing listens, after retrying the connect", function()
    -- a port that was free a moment ago: bind, read the port, close
    local probe = fake_server.start()
    local dead_url = probe.url
    probe:stop()
    local client = voucherify.new { app_id = "a", app_token = "b", base_url = dead_url,
      max_retries = 1, max_retry_delay = 0.05 }
    local list, err, res = client.orders:get("x")
    client:close()
    assert.is_nil(list)
    assert.is_nil(res)
    assert.are.equal("network", err.kind)
    assert.are.equal(2, err.attempts)
    assert.truthy(tostring(err):find("network", 1, true))
  end)

  it("retries a 503 on a GET and reports the attempts", function()
    server:faults { { status = 503 } }
    local client = voucherify.new(server:client_options { max_retry_delay = 0.05 })
    local list, err, res = client.orders:list()
    client:close()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
    assert.are.equal(2, res.attempts)
  end)

  it("does not retry a 503 on a plain create", function()
    server:faults { { status = 503 } }
    local client = voucherify.new(server:client_options { max_retry_delay = 0.05 })
    local order, err = client.orders:create { amount = 5 }
    client:close()
    assert.is_nil(order)
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, #server:requests())
  end)

  it("sends through a transport given as a function", function()
    local seen
    local client = voucherify.new { app_id = "a", app_token = "b", base_url = "http://example.invalid",
      transport = function(req)
        seen = req
        return { status = 200, headers = { ["content-type"] = "application/json" }, body = '{"id":"ord_1"}' }
      end }
    local order, err, res = client.orders:get("ord_1")
    assert.is_nil(err)
    assert.are.equal("ord_1", order.id)
    assert.are.equal(200, res.status)
    assert.are.equal("GET", seen.method)
    assert.are.equal("http://example.invalid/v1/orders/ord_1", seen.url)
    assert.truthy(table.concat(seen.headers, "\n"):find("X-App-Token: b", 1, true))
    assert.has_error(function() voucherify.new { app_id = "a", app_token = "b", transport = "carrier pigeon" } end)
  end)

  it("closes with <close>", function()
    local handle
    do
      local client <close> = voucherify.new(server:client_options())
      handle = client.transports.curl.handle
      assert(client.orders:list())
    end
    assert.truthy(tostring(handle):find("closed", 1, true))
    assert.has_error(function() handle:perform { method = "GET", url = server.url } end)
  end)
end)
