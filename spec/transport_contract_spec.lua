-- The transport contract (lua/voucherify/transport/init.lua): which transport
-- a client gets, the options a transport cannot honour, settings given once
-- to the libcurl handle, start / wait / collect, and failures reported as
-- named reasons.  The cosocket transport keeps the same contract: the hostile
-- table (spec/hostile_transport_spec.lua) runs through both.
local core = require "voucherify.core"
local raw_server = require "support.raw_server"
local transport = require "voucherify.transport"
local voucherify = require "voucherify"

local OK = [[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { method = req.method, target = req.target, conn = ctx.index }
    conn:write('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"id":"o1"}')
    conn:flush()
  end
end
]]

describe("transport.check", function()
  local function fn() end
  -- the options, and nil or a pattern the usage error must match
  local cases = {
    { "no transport option: auto", {}, nil },
    { "auto", { transport = "auto" }, nil },
    { "curl (the core is installed here)", { transport = "curl" }, nil },
    { "ngx", { transport = "ngx" }, nil },
    { "ngx with proxy = false (cosockets never read the environment)", { transport = "ngx", proxy = false }, nil },
    { "a function", { transport = fn }, nil },
    { "a table with send", { transport = { send = fn } }, nil },
    { "auto with ca_file: it applies to the calls libcurl sends", { ca_file = "/ca.pem" }, nil },
    { "auto with a proxy likewise", { transport = "auto", proxy = "http://proxy:3128" }, nil },
    { "curl with ca_file and a proxy", { transport = "curl", ca_file = "/ca.pem", proxy = "http://p:1" }, nil },
    { "ngx with ca_file", { transport = "ngx", ca_file = "/ca.pem" },
      "^'ca_file' cannot be used with transport \"ngx\": .*lua_ssl_trusted_certificate" },
    { "ngx with a proxy URL", { transport = "ngx", proxy = "http://proxy:3128" },
      "^'proxy' cannot be used with transport \"ngx\": .*transport \"curl\"" },
    { "an unknown name", { transport = "carrier pigeon" }, "^'transport' must be" },
    { "a table without send", { transport = {} }, "^'transport' must be" },
    { "a number", { transport = 1 }, "^'transport' must be" },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      local why = transport.check(case[2])
      if case[3] then
        assert.is_string(why)
        assert.matches(case[3], why)
      else
        assert.is_nil(why)
      end
    end)
  end

  it("voucherify.new raises the usage error, naming the option", function()
    assert.has_error(function()
      voucherify.new { app_id = "a", app_token = "b", transport = "ngx", ca_file = "/ca.pem" }
    end)
    local ok, err = pcall(voucherify.new, { app_id = "a", app_token = "b", transport = "ngx", proxy = "http://p:1" })
    assert.is_false(ok)
    assert.matches("voucherify.new: 'proxy' cannot be used with transport \"ngx\"", err)
  end)
end)

describe("a client's transports", function()
  it("outside nginx, auto picks libcurl, made once", function()
    local set = transport.for_client { transport = "auto", timeout = 5 }
    local t = set:pick()
    assert.are.equal("curl", t.name)
    assert.are.equal(t, set:pick())
    set:close()
  end)

  it("a function transport gets start, wait and collect, the work done in wait", function()
    local calls = 0
    local set = transport.for_client { transport = function(req)
      calls = calls + 1
      return { status = 200, headers = {}, body = req.url }
    end }
    local t = set:pick()
    assert.are.equal("custom", t.name)
    local job = t:start { method = "GET", url = "http://x/a" }
    assert.are.equal(0, calls)
    assert.has_error(function() t:collect(job) end, "voucherify: collect before wait")
    t:wait(job)
    t:wait(job)
    assert.are.equal(1, calls)
    assert.are.equal("http://x/a", t:collect(job).body)
    assert.are.equal("http://x/b", t:send({ method = "GET", url = "http://x/b" }).body)
    set:close()
  end)

  it("a table transport's close is called by the client's", function()
    local closed = false
    local set = transport.for_client { transport = { send = function() end, close = function() closed = true end } }
    set:close()
    assert.is_true(closed)
  end)
end)

describe("the libcurl handle", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("start, wait and collect give what perform gives", function()
    srv = raw_server.start(OK)
    local h = core.http_new()
    local req = { method = "GET", url = srv.url .. "/a", idempotent = true, timeout = 5 }
    local direct = assert(h:perform(req))
    h:start { method = "GET", url = srv.url .. "/a", idempotent = true, timeout = 5 }
    assert.are.equal(1, #srv:requests()) -- start does no I/O
    h:wait()
    local split = assert(h:collect())
    assert.are.equal(2, #srv:requests())
    assert.are.same(direct.body, split.body)
    assert.are.same(direct.status, split.status)
    assert.is_false(direct.reused)
    assert.is_true(split.reused) -- the second request on the kept-alive connection
    h:close()
  end)

  it("refuses collect before wait, wait before start; a new start drops the one not collected", function()
    srv = raw_server.start(OK)
    local h = core.http_new()
    assert.has_error(function() h:wait() end, "voucherify.core: no request was started")
    h:start { method = "GET", url = srv.url .. "/dropped", idempotent = true, timeout = 5 }
    assert.has_error(function() h:collect() end,
      "voucherify.core: no finished request to collect (start, wait, then collect)")
    h:start { method = "GET", url = srv.url .. "/kept", idempotent = true, timeout = 5 }
    h:wait()
    assert.are.equal(200, assert(h:collect()).status)
    assert.has_error(function() h:collect() end)
    local reqs = srv:requests()
    assert.are.equal(1, #reqs)
    assert.are.equal("/kept", reqs[1].target)
    h:close()
  end)

  it("takes its settings once: a request naming none gets the handle's timeout", function()
    srv = raw_server.start([[
return function(conn, ctx)
  ctx.read_request(conn)
  ctx.sleep(3)
end
]])
    local h = core.http_new { timeout = 0.3 }
    local t0 = core.monotime()
    local res, failure = h:perform { method = "GET", url = srv.url .. "/slow", idempotent = true }
    assert.is_nil(res)
    assert.are.equal("timeout", failure.reason)
    assert.is_true(core.monotime() - t0 < 2)
    h:close()
  end)

  it("refuses a setting in a request instead of ignoring it", function()
    local h = core.http_new()
    for _, name in ipairs { "verify_tls", "ca_file", "proxy", "max_body_size" } do
      assert.has_error(function() h:perform { method = "GET", url = "http://127.0.0.1:1/", [name] = false } end,
        ("voucherify.core: request.%s is a setting of the handle: give it to http_new"):format(name))
    end
    h:close()
  end)

  it("a request that fails before its transfer is unsent, even after one that was sent", function()
    srv = raw_server.start(OK)
    local h = core.http_new()
    assert(h:perform { method = "GET", url = srv.url .. "/a", idempotent = true, timeout = 5 })
    local res, failure = h:perform { method = "GET", url = srv.url .. "/b", output_path = "/nonexistent/dir/file",
      idempotent = true, timeout = 5 }
    assert.is_nil(res)
    assert.are.equal("write", failure.reason)
    assert.is_false(failure.sent)
    h:close()
  end)
end)

describe("failures are named reasons", function()
  -- the server's script (nil: nothing listens), handle settings, the reason, sent
  local cases = {
    { "nothing listens", nil, {}, "connect", false },
    { "an empty reply", { reply = "" }, {}, "reset", true },
    { "a status line that is not HTTP", { reply = "garbage\r\n\r\n{}" }, {}, "protocol", true },
    { "a header with a CR inside", { reply = "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\n{}" }, {},
      "protocol", true },
    { "a body over max_body_size", { reply = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" .. ("a"):rep(5000) },
      { max_body_size = 1000 }, "too_large", true },
    { "headers over the limit", { reply = "HTTP/1.1 200 OK\r\n" .. ("X-A: b\r\n"):rep(1000) .. "\r\n" }, {},
      "too_large", true },
    { "a URL without a host", { url = "http://" }, {}, "url", false },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. ": " .. case[4], function()
      local spec = case[2]
      local url, srv
      if spec and spec.reply then
        srv = raw_server.start(([[
return function(conn, ctx)
  ctx.read_request(conn)
  conn:write(%q)
  conn:flush()
end]]):format(spec.reply))
        url = srv.url .. "/x"
      elseif spec and spec.url then
        url = spec.url
      else
        srv = raw_server.start("return function() end")
        url = srv.url .. "/x"
        srv:stop() -- its port is closed now
        srv = nil
      end
      local h = core.http_new(case[3])
      local res, failure = h:perform { method = "GET", url = url, idempotent = true, timeout = 5 }
      h:close()
      if srv then srv:stop() end
      assert.is_nil(res)
      assert.are.equal(case[4], failure.reason, failure.message)
      assert.is_string(transport.REASONS[failure.reason])
      assert.are.equal(case[5], failure.sent)
      assert.is_string(failure.message)
      assert.is_number(failure.curl_code)
    end)
  end
end)
