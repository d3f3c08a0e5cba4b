-- Reliability and security: retries, faults, timeouts, OAuth, TLS, hostile
-- input, secrets, and errors raised from user callbacks.
local core = require "voucherify.core"
local voucherify = require "voucherify"
local fake_server = require "fake_server"

local SECRET = fake_server.APP_TOKEN

-- every error made in this file, to scan for secrets at the end
local seen_errors = {}
local function keep(err)
  if err then seen_errors[#seen_errors + 1] = err end
  return err
end

local function elapsed(fn)
  local t0 = core.monotime()
  local a, b, c = fn()
  return core.monotime() - t0, a, b, c
end

describe("reliability", function()
  local server, client
  fake_server.suite({ client = { max_retry_delay = 2 } }, function(s, c) server, client = s, c end)

  local function still_usable(c)
    local list, err = (c or client).orders:list()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
  end

  describe("retries", function()
    it("retries a 429 after Retry-After seconds", function()
      server:faults { { status = 429, headers = { ["Retry-After"] = "1" } } }
      local took, list, err, res = elapsed(function() return client.orders:list() end)
      assert.is_nil(keep(err))
      assert.are.equal("list", list.object)
      assert.are.equal(2, res.attempts)
      assert.is_true(took >= 0.9 and took < 3, "took " .. took)
    end)

    it("retries a 429 until X-Rate-Limit-Retry (epoch seconds), even a plain create", function()
      server:faults { { status = 429, headers = { ["X-Rate-Limit-Retry"] = tostring(os.time() + 1) } } }
      local order, err, res = client.orders:create { amount = 100 }
      assert.is_nil(keep(err))
      assert.truthy(order.id)
      assert.are.equal(2, res.attempts)
      assert.are.equal(1, #assert(client.orders:list()).orders)
    end)

    it("does not sleep past max_retry_delay: returns the 429 with retry_after", function()
      server:faults { { status = 429, headers = { ["Retry-After"] = "120" } } }
      local took, list, err = elapsed(function() return client.orders:list() end)
      keep(err)
      assert.is_nil(list)
      assert.are.equal("api", err.kind)
      assert.are.equal(429, err.status)
      assert.are.equal(120, err.retry_after)
      assert.are.equal(1, err.attempts)
      assert.is_true(took < 0.5, "took " .. took)
      still_usable()
    end)

    it("retries 502, 503 and 504 on GET, PUT, DELETE and upserts", function()
      assert(client.orders:create { source_id = "r1" })
      assert(client.customers:create { source_id = "c1" })
      local calls = {
        function() return client.orders:get("r1") end,
        function() return client.orders:update("r1", { status = "PAID" }) end,
        function() return client.orders:create { source_id = "r1", status = "FULFILLED" } end,
        function() return client.customers:delete("c1") end,
      }
      for i, call in ipairs(calls) do
        server:faults { { status = ({ 502, 503, 504, 503 })[i] } }
        local result, err, res = call()
        assert.is_nil(keep(err))
        assert.truthy(result)
        assert.are.equal(2, res.attempts)
      end
    end)

    it("never repeats a non-idempotent write after a 5xx", function()
      local calls = {
        function() return client.orders:create { amount = 1 } end,
        function() return client.orders:import { { source_id = "i1" } } end,
        function() return client.customers:update_in_bulk { { source_id = "b1" } } end,
        function() return client.customers:update_metadata_in_bulk { source_ids = { "b1" }, metadata = {} } end,
        function() return client.customers:import_csv { csv = "Source_id\nx\n" } end,
      }
      for _, call in ipairs(calls) do
        server:reset()
        server:faults { { status = 503 } }
        local result, err = call()
        keep(err)
        assert.is_nil(result)
        assert.are.equal(503, err.status)
        assert.are.equal(1, err.attempts)
        assert.are.equal(1, #server:requests())
      end
    end)

    it("sends imports on the kept-alive connection, and a dead connection cannot make libcurl resend them", function()
      assert(client.orders:list())
      assert(client.orders:import { { source_id = "f1" } })
      assert(client.orders:list())
      local log = server:requests()
      assert.are.equal(3, #log)
      -- no connection set-up per write: libcurl cannot rewind the body, so it cannot resend it
      assert.are.equal(log[1].connection, log[2].connection)
      assert.are.equal(log[2].connection, log[3].connection)
      server:clear_requests()
      server:faults { { path = "/v1/orders/import", close = "before" } }
      local result, err = client.orders:import { { source_id = "f2" } }
      keep(err)
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      assert.are.equal(1, #server:requests())
    end)

    it("does not retry a 500, and max_retries = 0 disables retries", function()
      server:faults { { status = 500 } }
      local _, err = client.orders:list()
      assert.are.equal(500, keep(err).status)
      assert.are.equal(1, err.attempts)
      local once = voucherify.new(server:client_options { max_retries = 0 })
      server:faults { { status = 503 } }
      _, err = once.orders:list()
      assert.are.equal(1, keep(err).attempts)
      once:close()
    end)

    it("gives up after max_retries and reports every attempt", function()
      server:faults { { status = 503 }, { status = 503 }, { status = 503 }, { status = 503 } }
      local _, err, res = client.orders:list()
      assert.are.equal(503, keep(err).status)
      assert.are.equal(3, err.attempts)
      assert.are.equal(3, res.attempts)
      assert.are.equal(3, #server:requests())
    end)
  end)

  describe("faults", function()
    local strict

    setup(function() strict = voucherify.new(server:client_options { max_retries = 0, timeout = 5 }) end)
    teardown(function() strict:close() end)

    it("an HTML 502 page from a proxy is an api error with the raw body", function()
      server:faults { { proxy_502 = true } }
      local list, err, res = strict.orders:list()
      keep(err)
      assert.is_nil(list)
      assert.are.equal("api", err.kind)
      assert.are.equal(502, err.status)
      assert.are.equal("HTTP 502", err.message)
      assert.truthy(err.body:find("<title>502 Bad Gateway</title>", 1, true))
      assert.are.equal("text/html", res.headers["content-type"])
      still_usable(strict)
      server:faults { { proxy_502 = true } }
      assert(client.orders:list()) -- a GET is retried past it
    end)

    it("a connection closed before the answer is a network error (a GET is retried)", function()
      -- on a fresh connection: libcurl itself retries once when a reused one dies unanswered
      local fresh = voucherify.new(server:client_options { max_retries = 0 })
      server:faults { { close = "before" } }
      local list, err, res = fresh.orders:list()
      keep(err)
      assert.is_nil(list)
      assert.is_nil(res)
      assert.are.equal("network", err.kind)
      still_usable(fresh)
      fresh:close()
      local retrying = voucherify.new(server:client_options { max_retry_delay = 0.01 })
      server:faults { { close = "before" } }
      local _, err2, res2 = retrying.orders:list()
      retrying:close()
      assert.is_nil(keep(err2))
      assert.are.equal(2, res2.attempts)
    end)

    it("a connection closed in the middle of the body is a network error", function()
      assert(client.orders:create { source_id = "m1" })
      server:faults { { close = "mid_body" } }
      local order, err = strict.orders:get("m1")
      keep(err)
      assert.is_nil(order)
      assert.are.equal("network", err.kind)
      still_usable(strict)
    end)

    it("a truncated JSON body is a decode error with the body", function()
      assert(client.orders:create { source_id = "t1" })
      server:faults { { truncate = true } }
      local order, err, res = strict.orders:get("t1")
      keep(err)
      assert.is_nil(order)
      assert.are.equal("decode", err.kind)
      assert.are.equal(200, err.status)
      assert.are.equal(200, res.status)
      assert.truthy(err.message:find("not valid JSON", 1, true))
      assert.is_string(err.body)
      still_usable(strict)
    end)

    it("an empty 200 body is a decode error", function()
      server:faults { { empty = true } }
      local list, err = strict.orders:list()
      keep(err)
      assert.is_nil(list)
      assert.are.equal("decode", err.kind)
      assert.are.equal("empty response body", err.message)
      still_usable(strict)
    end)

    it("an HTML body with status 200 is a decode error naming the content type", function()
      server:faults { { status = 200, body = "<html>maintenance</html>", content_type = "text/html" } }
      local list, err = strict.orders:list()
      keep(err)
      assert.is_nil(list)
      assert.are.equal("decode", err.kind)
      assert.truthy(err.message:find("text/html", 1, true))
      assert.are.equal("<html>maintenance</html>", err.body)
    end)

    it("a JSON body under a wrong content type is still decoded", function()
      server:faults { { content_type = "text/plain" } }
      local list, err = strict.orders:list()
      assert.is_nil(keep(err))
      assert.are.equal("list", list.object)
    end)

    it("a gzip-encoded body is decoded transparently", function()
      assert(client.orders:create { source_id = "g1", metadata = { note = ("long text "):rep(500) } })
      server:faults { { gzip = true } }
      local order, err, res = strict.orders:get("g1")
      assert.is_nil(keep(err))
      assert.are.equal("g1", order.source_id)
      assert.are.equal("gzip", res.headers["content-encoding"])
    end)

    it("a response over max_body_size is cut off with an error", function()
      for i = 1, 20 do assert(client.orders:create { source_id = "big" .. i }) end
      local small = voucherify.new(server:client_options { max_body_size = 2000, max_retries = 0 })
      local list, err = small.orders:list { limit = 20 }
      keep(err)
      assert.is_nil(list)
      assert.are.equal("network", err.kind)
      assert.truthy(err.message:find("2000-byte limit", 1, true), err.message)
      local order = assert(small.orders:get("big1"))
      assert.are.equal("big1", order.source_id)
      small:close()
    end)
  end)

  describe("timeouts", function()
    it("connect_timeout holds within 20% (a listener whose backlog is full)", function()
      local url, stop = fake_server.blackhole()
      local c = voucherify.new { app_id = "a", app_token = SECRET, base_url = url, connect_timeout = 0.5,
        timeout = 10, max_retries = 0 }
      local took, list, err, res = elapsed(function() return c.orders:list() end)
      stop()
      c:close()
      keep(err)
      assert.is_nil(list)
      assert.is_nil(res)
      assert.are.equal("timeout", err.kind)
      assert.is_true(took >= 0.4 and took <= 0.6, "took " .. took)
    end)

    it("timeout holds within 20% when the server accepts and never answers", function()
      server:faults { { delay = 5 } }
      local c = voucherify.new(server:client_options { timeout = 0.8, max_retries = 0 })
      local took, list, err = elapsed(function() return c.orders:list() end)
      keep(err)
      assert.is_nil(list)
      assert.are.equal("timeout", err.kind)
      assert.is_true(took >= 0.64 and took <= 0.96, "took " .. took)
      still_usable(c)
      c:close()
    end)

    it("does not retry a timed-out plain create", function()
      server:faults { { delay = 2 } }
      local c = voucherify.new(server:client_options { timeout = 0.3 })
      local order, err = c.orders:create { amount = 1 }
      keep(err)
      c:close()
      assert.is_nil(order)
      assert.are.equal("timeout", err.kind)
      assert.are.equal(1, err.attempts)
    end)
  end)

  describe("OAuth", function()
    local function oauth_client(extra)
      local o = server:client_options { oauth = { scope = "api" } }
      for k, v in pairs(extra or {}) do o[k] = v end
      return voucherify.new(o)
    end

    it("obtains a token with the app keys, then sends only the bearer token", function()
      local c = oauth_client()
      assert(c.orders:list())
      assert(c.orders:list())
      c:close()
      local log = server:requests()
      assert.are.equal(3, #log)
      local token_req = log[1]
      assert.are.equal("POST", token_req.method)
      assert.are.equal("/v1/oauth/token", token_req.path)
      assert.are.equal("application/x-www-form-urlencoded", token_req.headers["content-type"])
      assert.are.equal("grant_type=client_credentials&scope=api", token_req.body)
      assert.are.equal(SECRET, token_req.headers["x-app-token"])
      for i = 2, 3 do
        assert.truthy(log[i].headers["authorization"]:match("^Bearer oauth_"))
        assert.is_nil(log[i].headers["x-app-token"])
        assert.is_nil(log[i].headers["x-app-id"])
      end
      assert.are.equal(log[2].headers["authorization"], log[3].headers["authorization"])
    end)

    it("renews the token shortly before it expires", function()
      server:oauth_ttl(0.5)
      local c = oauth_client()
      assert(c.orders:list())
      core.sleep(0.5) -- the token's lifetime: nothing else says time has passed
      assert(c.orders:list())
      c:close()
      local log = server:requests()
      assert.are.equal(4, #log)
      assert.are.equal("/v1/oauth/token", log[3].path)
      assert.are_not.equal(log[2].headers["authorization"], log[4].headers["authorization"])
    end)

    it("renews once on a 401, then gives up", function()
      local c = oauth_client()
      assert(c.orders:list())
      server:revoke_tokens()
      server:clear_requests()
      local list, err = c.orders:list()
      assert.is_nil(keep(err))
      assert.are.equal("list", list.object)
      local paths = {}
      for i, r in ipairs(server:requests()) do paths[i] = r.method .. " " .. r.path end
      assert.are.same({ "GET /v1/orders", "POST /v1/oauth/token", "GET /v1/orders" }, paths)
      c:close()
      -- wrong app keys: the token request itself fails with a 401 error, once
      local bad = voucherify.new { app_id = fake_server.APP_ID, app_token = "wrong-" .. SECRET,
        base_url = server.url, oauth = {} }
      server:clear_requests()
      local _, err2 = bad.orders:list()
      keep(err2)
      bad:close()
      assert.are.equal(401, err2.status)
      assert.are.equal(1, #server:requests())
    end)

    it("keeps the bearer token out of errors", function()
      local c = oauth_client()
      assert(c.orders:list())
      local token = server:requests()[2].headers["authorization"]:match("Bearer (%S+)")
      local _, err = c.orders:get("missing")
      keep(err)
      c:close()
      for k, v in pairs(err) do assert.is_nil(tostring(v):find(token, 1, true), k) end
      assert.is_nil(tostring(err):find(token, 1, true))
    end)
  end)

  describe("hostile input", function()
    it("keeps ids with / ? # % & = spaces, non-ASCII and CR/LF one path segment", function()
      local ids = { "a/b", "q?x=1&y=2", "frag#ment", "100%", "sp ace", "Zoë/東京", "line\r\nX-Evil: 1" }
      for _, id in ipairs(ids) do
        server:clear_requests()
        local _, err = client.orders:get(id)
        keep(err)
        assert.are.equal(404, err.status)
        assert.are.equal(id, err.resource_id)
        local path = server:requests()[1].path
        assert.truthy(path:match("^/v1/orders/[%w%%%-%._~]+$"), path)
        assert.are.equal("", server:requests()[1].query)
      end
      assert.are.equal("/v1/orders/line%0D%0AX-Evil%3A%201", server:requests()[1].path)
    end)

    it("encodes query values with & = + # and non-ASCII", function()
      local name = "A&B=C+D#E Zoë"
      assert(client.customers:create { source_id = "h1", name = name })
      local page = assert(client.customers:list { name = name })
      assert.are.equal(1, page.total)
      local q = server:requests()[2].query
      assert.are.equal("name=A%26B%3DC%2BD%23E%20Zo%C3%AB", q)
    end)

    it("takes nested tables only where the parameter does", function()
      assert.has_error(function() client.customers:list { email = { "a" } } end)
      assert.has_error(function() client.customers:redeemables("x", { limit = { 1 } }) end)
      assert.has_error(function() client.customers:redeemables("x", { filters = "nope" } ) end)
    end)

    it("raises for CR or LF in header values, from options or headers", function()
      for _, opts in ipairs({ { channel = "a\nb" }, { api_version = "v\r1" }, { user_agent = "x\ny" },
        { headers = { ["X-Ok"] = "fine\r\nX-Injected: yes" } }, { app_token = "tok\nen" } }) do
        local o = server:client_options(opts)
        local ok, msg = pcall(voucherify.new, o)
        assert.is_false(ok)
        assert.truthy(msg:find("CR, LF or NUL", 1, true), msg)
        assert.is_nil(msg:find("tok\nen", 1, true))
      end
    end)

    it("raises for a body string that is not UTF-8, naming the field path", function()
      local ok, msg = pcall(function()
        client.orders:create { items = { { quantity = 1 }, { product = { name = "caf\233" } } } }
      end)
      assert.is_false(ok)
      assert.truthy(msg:find("items[2].product.name", 1, true), msg)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("callbacks", function()
    it("on_response reports every call, with nothing secret in it", function()
      local infos = {}
      local c = voucherify.new(server:client_options { on_response = function(info) infos[#infos + 1] = info end,
        max_retry_delay = 0.01 })
      assert(c.orders:create { source_id = "cb1" })
      server:faults { { status = 503 } }
      assert(c.orders:get("cb1"))
      local _, err = c.orders:get("nope")
      keep(err)
      c:close()
      assert.are.equal(3, #infos)
      assert.are.same({ "POST", "/v1/orders", 200, 1 }, { infos[1].method, infos[1].path, infos[1].status,
        infos[1].attempts })
      assert.are.equal(2, infos[2].attempts)
      assert.are.equal(404, infos[3].status)
      assert.are.equal("api", infos[3].error)
      assert.truthy(infos[3].request_id:match("^v%-"))
      for _, info in ipairs(infos) do
        assert.is_number(info.elapsed)
        for k, v in pairs(info) do assert.is_nil(tostring(v):find(SECRET, 1, true), k) end
      end
    end)

    it("an error raised in on_response reaches the caller, and the client stays usable", function()
      local raise = true
      local c = voucherify.new(server:client_options { on_response = function()
        if raise then error("hook failed") end
      end })
      local ok, msg = pcall(function() return c.orders:list() end)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("hook failed", 1, true))
      raise = false
      still_usable(c)
      c:close()
    end)

    it("an error raised in on_page stops the iteration cleanly", function()
      assert(client.orders:import { { source_id = "p1" }, { source_id = "p2" }, { source_id = "p3" } })
      local n = 0
      local ok, msg = pcall(function()
        for _ in client.orders:each { limit = 1, on_page = function(_, info)
          if info.page == 2 then error({ mine = true }) end
        end } do n = n + 1 end
      end)
      assert.is_false(ok)
      assert.is_true(msg.mine)
      assert.are.equal(1, n)
      still_usable()
      ok = pcall(function()
        for _ in client.customers:each { on_page = function() error("stop") end } do end
      end)
      assert.is_false(ok)
      still_usable()
    end)

    it("an error raised in on_progress reaches the caller of wait", function()
      local job = assert(client.orders:import { { source_id = "w1" } })
      local ok, msg = pcall(function()
        client.async_actions:wait(job, { interval = 0.01, on_progress = function() error("progress broke") end })
      end)
      assert.is_false(ok)
      assert.truthy(msg:find("progress broke", 1, true))
      assert(client.async_actions:wait(job, { interval = 0.01 }))
    end)
  end)

  describe("secrets", function()
    it("no error made above holds a credential", function()
      assert.is_true(#seen_errors >= 20, "only " .. #seen_errors .. " errors collected")
      for _, err in ipairs(seen_errors) do
        assert.is_true(voucherify.is_error(err))
        local line = tostring(err)
        assert.is_nil(line:find(SECRET, 1, true), line)
        assert.is_nil(line:find(fake_server.ACCESS_TOKEN, 1, true), line)
        assert.is_nil(line:find("\n", 1, true), line)
        for k, v in pairs(err) do
          if type(v) == "string" then
            assert.is_nil(v:find(SECRET, 1, true), k)
            assert.is_nil(v:find(fake_server.ACCESS_TOKEN, 1, true), k)
          end
        end
      end
    end)
  end)
end)

describe("TLS", function()
  local server

  setup(function() server = fake_server.start_tls() end)
  teardown(function() server:stop() end)

  it("verifies by default: an unknown CA is a network error about the certificate", function()
    assert.truthy(server.url:match("^https://"))
    local c = voucherify.new(server:client_options { max_retries = 0 })
    local list, err, res = c.orders:list()
    c:close()
    assert.is_nil(list)
    assert.is_nil(res)
    assert.are.equal("network", err.kind)
    assert.truthy(err.message:lower():find("certificate", 1, true), err.message)
  end)

  it("passes with ca_file", function()
    local c = voucherify.new(server:client_options { ca_file = server.ca_file })
    local list, err = c.orders:list()
    c:close()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
  end)

  it("passes with verify_tls = false", function()
    local c = voucherify.new(server:client_options { verify_tls = false })
    local list, err = c.orders:list()
    c:close()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
  end)
end)
