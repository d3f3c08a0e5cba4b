--- The library's side of `make bench` (c): one client call in a loop, in a
-- process of its own, as bench/curl_loop.c runs its anchors, so that neither
-- side pays for the other's heap (the bench driver holds fixtures, decoded
-- pages and samples, which a collector would walk).
--
--   lua5.4 bench/client_loop.lua BASE_URL OP COUNT
--
-- OP: get (orders:get), list (orders:list{limit=100}), select (the same with
-- `select` of 3 fields), each_incremental / each_generational (orders:each
-- over COUNT orders in that GC mode; the time is per 100 orders).
-- Prints "seconds_per_request <s>" (wall clock) and "cpu_seconds_per_request
-- <s>" (the process's CPU time, as os.clock measures it) after a warm-up.
local core = require "voucherify.core"
local voucherify = require "voucherify"

local base, op, count = arg[1], arg[2], tonumber(arg[3])
local client = voucherify.new { app_id = "bench", app_token = "bench", base_url = base, max_retries = 0 }

local SELECT3 = { "id", "amount", "status" }

local function each()
  local n = 0
  for _ in client.orders:each { limit = 100 } do
    n = n + 1
    if n == count then break end
  end
end

local ops = {
  get = function() assert(client.orders:get("ord_1")) end,
  list = function() assert(client.orders:list { limit = 100 }) end,
  select = function() assert(client.orders:list { limit = 100, select = SELECT3 }) end,
  each_incremental = each,
  each_generational = each,
}
local fn = assert(ops[op], "unknown operation " .. tostring(op))
local gc = op:match("^each_(%a+)$")
if gc then collectgarbage(gc) end

local repeats = gc and 1 or count
for _ = 1, math.min(repeats, 50) do fn() end -- warm-up: connection, caches, heap
collectgarbage()
local t0, c0 = core.monotime(), os.clock()
for _ = 1, repeats do fn() end
local per, cpu = (core.monotime() - t0) / repeats, (os.clock() - c0) / repeats
if gc then per, cpu = per / (count / 100), cpu / (count / 100) end
print(("seconds_per_request %.9f\ncpu_seconds_per_request %.9f"):format(per, cpu))
client:close()
