-- One budget shared for real: two plain-Lua processes (each a client running
-- `map` with a Redis store) and four nginx workers (each a client running
-- `map` with a shared-dictionary store) create orders as fast as they can
-- against the fake server's limit, and the server sends no 429.
local clock = require "voucherify.clock"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"
local nginx_server = require "support.nginx"
local process = require "support.process"
local redis_server = require "support.redis_server"

-- the plan, enforced by the fake server with the most grace it allows (a tenth of the
-- window), for the moments a loaded machine holds a request back between its turn and its send
local REQUESTS, PER, GRACE = 20, 1, 0.1

local read = process.read_file

describe("one rate-limit budget shared by several clients, against the fake server's limit", function()
  local server
  fake_server.suite(function(s) server = s end)

  it("two processes sharing it through Redis: no 429, the whole budget used", function()
    local redis = redis_server.start()
    fake_limits.set_limits(server, { rate_limit = { requests = REQUESTS, per = PER }, grace = GRACE })
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local voucherify = require "voucherify"
local redis = assert(require("support.redis_server").client())
local base_url, port, tag = arg[1], tonumber(arg[2]), arg[3]
local client = voucherify.new { app_id = arg[4], app_token = arg[5], base_url = base_url, max_retries = 0,
  rate_limit = { requests = ]] .. REQUESTS .. [[, per = ]] .. PER .. [[,
    store = voucherify.rate_limit.redis(function()
      return redis.connect { host = "127.0.0.1", port = port, timeout = 1 }
    end) } }
local orders = {}
for i = 1, 20 do orders[i] = { source_id = tag .. "-" .. i, status = "PAID" } end
local ok, failed = 0, 0
for _, order, err in client:map(orders, function(c, o) return c.orders:create(o) end, { concurrency = 8 }) do
  if order then ok = ok + 1 else failed = failed + 1 io.stderr:write(tostring(err), "\n") end
end
print(ok, failed)
]])
    f:close()
    local function cmd(tag)
      return ("lua5.4 %s %s %d %s %s %s"):format(script, server.url, redis.port, tag, fake_server.APP_ID,
        fake_server.APP_TOKEN)
    end
    local started = clock.now()
    local p1, p2 = assert(io.popen(cmd("p1"))), assert(io.popen(cmd("p2")))
    local out1, out2 = p1:read("a"), p2:read("a")
    p1:close()
    p2:close()
    local elapsed = clock.now() - started
    os.remove(script)
    redis:close()
    assert.are.equal("20\t0\n", out1)
    assert.are.equal("20\t0\n", out2)
    local stats = fake_limits.stats(server)
    assert.are.equal(0, stats.too_many_requests.total)
    assert.are.equal(40, stats.requests)
    -- 40 calls at 20 per second: about 2 s (each process alone would have taken 1)
    assert.is_true(elapsed > 1.8 and elapsed < 3.5, ("took %.2f s"):format(elapsed))
  end)

  it("four nginx workers sharing it through a shared dictionary: no 429", function()
    assert(nginx_server.available(), "nginx with the lua module is needed: run `make deps`")
    fake_limits.set_limits(server, { rate_limit = { requests = REQUESTS, per = PER }, grace = GRACE })
    local dir = process.temp_dir("nginx")
    local conf = assert(io.open(dir .. "/shared.conf.in", "w"))
    conf:write(nginx_server.LUA_MODULES .. [[
user @USER@;
worker_processes 4;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
events { worker_connections 64; }
http {
]] .. nginx_server.HTTP_BASE .. [[
  lua_shared_dict rate_limit 1m;
  init_worker_by_lua_block {
    ngx.timer.at(0, function()
      local ok, result = pcall(function()
        local voucherify = require "voucherify"
        local client = voucherify.new { app_id = "@APP_ID@", app_token = "@APP_TOKEN@", base_url = "@BASE_URL@",
          max_retries = 0, rate_limit = { requests = @REQUESTS@, per = @PER@,
            store = voucherify.rate_limit.shared_dict(ngx.shared.rate_limit) } }
        local orders = {}
        for i = 1, 10 do orders[i] = { source_id = "w" .. ngx.worker.id() .. "-" .. i, status = "PAID" } end
        local created, failed = 0, 0
        local it = client:map(orders, function(c, o) return c.orders:create(o) end, { concurrency = 4 })
        for _, order in it do
          if order then created = created + 1 else failed = failed + 1 end
        end
        return created .. " " .. failed
      end)
      local name = string.format("@PREFIX@/worker-%d.%s", ngx.worker.id(), ok and "txt" or "err")
      local f = io.open(name .. ".part", "w")
      f:write(tostring(result))
      f:close()
      os.rename(name .. ".part", name)
    end)
  }
}
]])
    conf:close()
    local nginx = nginx_server.start { conf = dir .. "/shared.conf.in", port = false,
      vars = { REQUESTS = REQUESTS, PER = PER, BASE_URL = server.url, APP_ID = fake_server.APP_ID,
        APP_TOKEN = fake_server.APP_TOKEN } }
    os.execute("rm -rf " .. dir)
    local outputs, errs = {}, {}
    local give_up = clock.now() + 30
    while #outputs + #errs < 4 and clock.now() < give_up do
      clock.sleep(0.05)
      outputs, errs = {}, {}
      for id = 0, 3 do
        outputs[#outputs + 1] = read(("%s/worker-%d.txt"):format(nginx.prefix, id))
        errs[#errs + 1] = read(("%s/worker-%d.err"):format(nginx.prefix, id))
      end
    end
    local log = nginx:file("error.log")
    nginx:stop()
    assert(#errs == 0, "a worker failed: " .. table.concat(errs, "\n"))
    assert(#outputs == 4, "the workers did not finish:\n" .. log)
    for _, text in ipairs(outputs) do assert.are.equal("10 0", text) end
    local stats = fake_limits.stats(server)
    assert.are.equal(0, stats.too_many_requests.total)
    assert.are.equal(40, stats.requests)
  end)
end)
