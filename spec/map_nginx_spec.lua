-- client:map inside nginx: light threads over the cosocket transport, at most
-- `concurrency` at once, never blocking the worker (handlers in
-- spec/nginx/map_test.lua; needs the LuaJIT build: `make LUA=luajit`).
local core = require "voucherify.core"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"
local nginx_server = require "support.nginx"
local in_nginx = require "support.in_nginx"

local describe_nginx = nginx_server.available() and describe or pending

describe_nginx("client:map inside nginx", function()
  local server, nginx

  setup(function()
    server = fake_server.start()
    nginx = nginx_server.start { conf = "spec/nginx/map.conf.in", env = { VOUCHERIFY_BASE_URL = server.url },
      ready = "/ping" }
  end)

  teardown(function()
    if nginx then nginx:stop() end
    if server then server:stop() end
  end)

  before_each(function() server:reset() end)

  it("runs the items as light threads, `concurrency` at once, each once", function()
    fake_limits.set_limits(server, { latency = 0.1 })
    local status, body = nginx:get("/map?n=40&concurrency=8")
    assert.are.equal(200, status)
    assert.is_nil(body.failed)
    assert.are.equal("ngx", body.transport)
    assert.are.equal(40, #body.seen)
    assert.are.equal(40, body.correct)
    local once = {}
    for _, i in ipairs(body.seen) do
      assert.is_nil(once[i])
      once[i] = true
    end
    assert.is_true(body.took < 1.5, ("took %.2f s"):format(body.took))
    assert.are.equal(8, fake_limits.stats(server).peak_in_flight)
  end)

  it("never blocks the worker: a /ping is answered while a map waits on the API", function()
    fake_limits.set_limits(server, { latency = 1 })
    local child = assert(io.popen(("%s -e 'package.cpath = \"build/?.so;\" .. package.cpath; "
      .. "local h = require(\"voucherify.core\").http_new(); "
      .. "local r = h:perform { method = \"GET\", url = \"%s/map?n=4&concurrency=4&prefix=ping-\", timeout = 10 }; "
      .. "io.write(r and r.status or \"failed\")'"):format(fake_server.LUA, nginx.base)))
    -- the map's requests have reached the fake server
    for _ = 1, 300 do
      if fake_limits.stats(server).in_flight >= 4 then break end
      core.sleep(0.01)
    end
    assert.are.equal(4, fake_limits.stats(server).in_flight)
    local started = core.monotime()
    local status = nginx:get("/ping")
    local took = core.monotime() - started
    assert.are.equal("200", child:read("a"))
    child:close()
    assert.are.equal(200, status)
    assert.is_true(took < 0.5, ("the ping took %.2f s"):format(took))
  end)

  it("a Lua error in one item propagates after the others are killed; the client works after", function()
    local status, body = nginx:get("/error")
    assert.are.equal(200, status)
    assert.is_true(body.raised)
    assert.matches("boom in item 2", body.message)
    assert.are.equal("ngx-after-error", body.after)
  end)

  it("close after break kills what is in flight; the client works after", function()
    fake_limits.set_limits(server, { latency = 0.3 })
    local status, body = nginx:get("/break")
    assert.are.equal(200, status)
    assert.are.equal(1, body.count)
    assert.are.equal("ngx-after-break", body.after)
    -- 4 started, 1 came back; no other was started
    local creates = 0
    for _, r in ipairs(server:requests()) do
      if r.method == "POST" and r.path == "/v1/orders" then creates = creates + 1 end
    end
    assert.are.equal(5, creates)
  end)

  it("on LuaJIT outside a yieldable phase: coroutines over libcurl's multi handle; break, then gc, cancels", function()
    fake_limits.set_limits(server, { latency = 0.2 })
    local result = in_nginx.run(([[
      local voucherify = require "voucherify"
      local c = voucherify.new { app_id = "test-app-id", app_token = "test-app-token-s3cr3t", base_url = %q }
      local function create(cl, order) return cl.orders:create(order) end
      local items = {}
      for i = 1, 16 do items[i] = { source_id = "jit-" .. i, amount = i } end
      local correct, started = 0, require("voucherify.clock").now()
      for i, order in c:map(items, create, { concurrency = 8 }) do
        if order and order.amount == i then correct = correct + 1 end
      end
      local took = require("voucherify.clock").now() - started
      local n = 0
      for _ in c:map(items, create, { concurrency = 4 }) do
        n = n + 1
        if n == 1 then break end
      end
      local multi = c.transports.curl.many
      local before_gc = multi:pending()
      collectgarbage()
      collectgarbage()
      local after_gc = multi:pending()
      local again = c.orders:get("jit-1")
      c:close()
      return { transport = c.transports:pick().name, correct = correct, took = took, before_gc = before_gc,
        after_gc = after_gc, again = again and again.amount }
    ]]):format(server.url))
    assert.are.equal("curl", result.transport)
    assert.are.equal(16, result.correct)
    assert.is_true(result.took < 1.2, ("took %.2f s"):format(result.took))
    -- (3 in flight and the 5th item, started as the first came back)
    assert.are.equal(4, result.before_gc)
    assert.are.equal(0, result.after_gc)
    assert.are.equal(1, result.again)
  end)

  it("iterators with prefetch run inside the light threads", function()
    local status = nginx:get("/map?n=30&concurrency=8&prefix=it-")
    assert.are.equal(200, status)
    local body
    status, body = nginx:get("/iterate?prefetch=2")
    assert.are.equal(200, status)
    assert.is_nil(body.failed)
    assert.are.same({ 30, 30 }, body.counts)
  end)
end)
