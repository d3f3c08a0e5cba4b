-- libcurl transport (csrc/http.c) promises that need a process of their own
-- or the handle's insides: environment proxies and `proxy = false`, receive
-- buffers released after a large response, the output file never created
-- nor blocked on.
local core = require "voucherify.core"
local process = require "support.process"
local raw_server = require "support.raw_server"

local LUA = os.getenv("LUA") or "lua5.4"

-- Records each request and answers it with a small JSON object.
local RECORDER = [[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { method = req.method, target = req.target, token = req.headers["x-app-token"] }
    conn:write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"o1"}')
    conn:flush()
  end
end
]]

describe("proxies from the environment", function()
  local proxy, origin, script

  before_each(function()
    proxy = raw_server.start(RECORDER)
    origin = raw_server.start(RECORDER)
    script = os.tmpname()
  end)

  after_each(function()
    proxy:stop()
    origin:stop()
    os.remove(script)
  end)

  -- Runs a client in a child process whose environment names `proxy` in
  -- http_proxy (and nothing in no_proxy); returns what it printed.
  local function child(options)
    local f = assert(io.open(script, "w"))
    f:write(([[
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local voucherify = require "voucherify"
local c = voucherify.new { app_id = "app", app_token = "token-123", base_url = %q, max_retries = 0,
  transport = "curl" %s }
local order, err = c.orders:get("o1")
io.write(order and order.id or tostring(err))
]]):format(origin.url, options))
    f:close()
    local _, out = process.sh(("env http_proxy=%s HTTP_PROXY= https_proxy= HTTPS_PROXY= all_proxy= ALL_PROXY="
      .. " no_proxy= NO_PROXY= %s %s"):format(proxy.url, LUA, script))
    return out
  end

  it("http_proxy is used by default, as with curl (the proxy sees the app token)", function()
    assert.are.equal("o1", child(""))
    local seen = proxy:requests()
    assert.are.equal(1, #seen)
    assert.are.equal(origin.url .. "/v1/orders/o1", seen[1].target) -- absolute-form: a proxy request
    assert.are.equal("token-123", seen[1].token)
    assert.are.equal(0, #origin:requests())
  end)

  it("proxy = false ignores it: the request goes straight to the API", function()
    assert.are.equal("o1", child(", proxy = false"))
    assert.are.equal(0, #proxy:requests())
    local seen = origin:requests()
    assert.are.equal(1, #seen)
    assert.are.equal("/v1/orders/o1", seen[1].target)
  end)

  it("the core takes proxy = false, and a proxy URL string as before", function()
    -- the proxy is a setting of the handle, given once when it is made
    local h = core.http_new { proxy = false }
    local res = assert(h:perform { method = "GET", url = origin.url .. "/a", idempotent = true, timeout = 5 })
    assert.are.equal(200, res.status)
    h:close()
    h = core.http_new { proxy = proxy.url }
    res = assert(h:perform { method = "GET", url = origin.url .. "/b", idempotent = true, timeout = 5 })
    assert.are.equal(200, res.status)
    assert.are.equal(origin.url .. "/b", proxy:requests()[1].target)
    h:close()
    assert.has_error(function() core.http_new { proxy = true } end,
      "voucherify.core: settings.proxy must be a string or false")
  end)
end)

describe("receive buffers", function()
  local srv

  -- Answers GET /<n> with a body of n bytes.
  local SIZED = [[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    local n = tonumber(req.target:match("%d+"))
    conn:write("HTTP/1.1 200 OK\r\nContent-Length: " .. n .. "\r\n\r\n")
    local piece = ("x"):rep(65536)
    while n > 0 do
      conn:write(n >= #piece and piece or piece:sub(1, n))
      n = n - #piece
    end
    conn:flush()
  end
end
]]

  setup(function() srv = raw_server.start(SIZED) end)
  teardown(function() srv:stop() end)

  local function get(h, n)
    local res = assert(h:perform { method = "GET", url = ("%s/%d"):format(srv.url, n), idempotent = true,
      timeout = 30 })
    assert.are.equal(n, #res.body)
  end

  local function new_handle()
    return core.http_new { max_body_size = 64 * 1024 * 1024 }
  end

  it("a handle keeps no more than 1 MB after a 16 MB response", function()
    local h = new_handle()
    get(h, 16 * 1024 * 1024)
    assert.is_true(h:retained_bytes() <= 1024 * 1024, "retained " .. h:retained_bytes())
    h:close()
  end)

  it("and keeps its small buffer between small responses", function()
    local h = new_handle()
    get(h, 1000)
    local kept = h:retained_bytes()
    assert.is_true(kept > 0 and kept <= 64 * 1024)
    get(h, 500)
    assert.are.equal(kept, h:retained_bytes())
    h:close()
  end)

  it("the process gives the memory of a 48 MB response back (resident size)", function()
    local _, size = process.sh("getconf PAGESIZE")
    local page = tonumber(size)
    local function rss()
      collectgarbage("collect")
      collectgarbage("collect")
      local f = assert(io.open("/proc/self/statm"))
      local _, resident = f:read("n", "n")
      f:close()
      return resident * page
    end
    local h = new_handle()
    get(h, 1000)
    local before = rss()
    get(h, 48 * 1024 * 1024)
    local grown = rss() - before
    h:close()
    -- before: the handle kept the 48 MB it had touched; malloc may keep a few
    -- MB of the smaller steps the buffer grew through, never that much
    assert.is_true(grown < 32 * 1024 * 1024, ("resident size grew by %.1f MB"):format(grown / 2 ^ 20))
  end)
end)

describe("the output file", function()
  local srv, dir

  before_each(function()
    srv = raw_server.start([[
return function(conn, ctx)
  local req = ctx.read_request(conn)
  if req then ctx.record { target = req.target } end
  conn:write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew")
end
]])
    dir = process.temp_dir("curl")
  end)

  after_each(function()
    srv:stop()
    os.execute("rm -rf " .. dir)
  end)

  it("a FIFO at the output path fails at once, unsent, instead of blocking", function()
    local path = dir .. "/out"
    assert(os.execute("mkfifo " .. path))
    local h = core.http_new()
    local t0 = core.monotime()
    local res, err = h:perform { method = "GET", url = srv.url .. "/f", output_path = path, idempotent = true,
      timeout = 5 }
    h:close()
    assert.is_nil(res)
    assert.is_false(err.sent)
    assert.matches("cannot write the response to", err.message)
    assert.is_true(core.monotime() - t0 < 1)
    assert.are.equal(0, #srv:requests())
  end)

  it("a directory at the output path fails, unsent", function()
    local h = core.http_new()
    local res, err = h:perform { method = "GET", url = srv.url .. "/f", output_path = dir, idempotent = true,
      timeout = 5 }
    h:close()
    assert.is_nil(res)
    assert.matches("cannot write the response to", err.message)
    assert.are.equal(0, #srv:requests())
  end)
end)
