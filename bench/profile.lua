--- A loop to profile one operation of the library against the bench's nginx:
--   LUA_PATH=... LUA_CPATH=... perf record -g lua5.4 bench/profile.lua BUILD_DIR OP COUNT
-- OP: get (orders:get), list (orders:list{limit=100}), select (the same with
-- `select` of 3 fields), decode (json.decode of the page alone).
-- Prints the time per operation (microseconds).  OP serve: start nginx, print
-- its base URL and leave it running (BENCH_BASE=that URL then reuses it; stop
-- it with `kill $(cat BUILD_DIR/bench/profile/nginx.pid)`).
local core = require "voucherify.core"
local json = require "voucherify.json"
local voucherify = require "voucherify"
local fixtures = require "bench.fixtures"
local nginx_server = require "spec.support.nginx"

local build, op, count = arg[1] or "build", arg[2] or "get", tonumber(arg[3]) or 10000
-- a directory of its own: nginx's pid file is there, apart from `make bench`'s
local dir = build .. "/bench/profile"
os.execute("mkdir -p " .. dir .. "/tmp")
local list = fixtures.list(100)
local list_text = assert(json.encode(list))
local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
write(dir .. "/orders.json", list_text)
write(dir .. "/order.json", assert(json.encode(list.orders[1])))
local _, abs_dir = nginx_server.sh("cd " .. dir .. " && pwd")
-- BENCH_BASE: an nginx started before (op "serve" starts one and leaves it
-- running), so that `perf stat` counts this process alone
local nginx = os.getenv("BENCH_BASE") and { base = os.getenv("BENCH_BASE"), stop = function() end }
  or nginx_server.start { conf = "bench/nginx.conf.in", vars = { DIR = abs_dir }, ready = "/v1/orders/probe" }
if op == "serve" then
  print(nginx.base)
  return
end
local client = voucherify.new { app_id = "bench", app_token = "bench", base_url = nginx.base, max_retries = 0 }

local ops = {
  get = function() assert(client.orders:get("ord_1")) end,
  list = function() assert(client.orders:list { limit = 100 }) end,
  select = function() assert(client.orders:list { limit = 100, select = { "id", "amount", "status" } }) end,
  decode = function() json.decode(list_text) end,
}
if op == "curl_get" or op == "curl_list" then
  local url = nginx.base .. (op == "curl_get" and "/v1/orders/ord_1" or "/v1/orders?limit=100")
  local _, text = nginx_server.sh(("%s/bench/curl_loop '%s' %d %s"):format(build, url, count, arg[4] or ""))
  print(op, text)
  nginx:stop()
  return
end
local fn = assert(ops[op], "unknown operation " .. op)
local ok, err = pcall(function()
  for _ = 1, math.min(count, 100) do fn() end
  local t0 = core.monotime()
  for _ = 1, count do fn() end
  print(("%s: %.2f us per operation"):format(op, (core.monotime() - t0) / count * 1e6))
end)
nginx:stop()
assert(ok, err)
