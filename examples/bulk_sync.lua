--- Bulk sync: create a few thousand orders as fast as the plan allows.
-- Many requests are in flight at once (`client:map`), and the rate limiter
-- gives each its turn, so the job uses the whole allowance and never sees a
-- 429.  A progress line shows the rate and the budget the API reports.
--
-- Runs against the bundled fake server with `make demo` (started with 50 ms
-- latency and a limit of 400 requests per second), or against any Voucherify
-- project: set VOUCHERIFY_BASE_URL, VOUCHERIFY_APP_ID, VOUCHERIFY_APP_TOKEN,
-- and VOUCHERIFY_RATE ("requests/seconds", your plan's limit, e.g. "100/60").

local voucherify = require "voucherify"

local COUNT = tonumber(os.getenv("BULK_SYNC_COUNT")) or 2000
local requests, per = (os.getenv("VOUCHERIFY_RATE") or "400/1"):match("^(%d+)/(%d+)$")
requests, per = tonumber(requests), tonumber(per)

local client = voucherify.new {
  app_id = assert(os.getenv("VOUCHERIFY_APP_ID"), "set VOUCHERIFY_APP_ID"),
  app_token = assert(os.getenv("VOUCHERIFY_APP_TOKEN"), "set VOUCHERIFY_APP_TOKEN"),
  base_url = os.getenv("VOUCHERIFY_BASE_URL"),
  rate_limit = { requests = requests, per = per },
}

-- the orders of a shop's day, as another system would hand them over
local orders = {}
for i = 1, COUNT do
  orders[i] = { source_id = ("bulk-%05d"):format(i), status = "PAID",
    items = { { source_id = "sku-" .. (i % 7 + 1), quantity = i % 3 + 1, price = 500 + i % 11 * 100 } } }
end

local clock = os.clock -- CPU time would lie while waiting: use the monotonic clock of the core if present
do
  local ok, core = pcall(require, "voucherify.core")
  if ok then clock = core.monotime end
end

print(("bulk sync: %d orders at up to %d per %g s"):format(COUNT, requests, per))
local started = clock()
local created, failed, limited, remaining = 0, 0, 0, "?"
for _, order, err, res in client:map(orders, function(c, o) return c.orders:create(o) end, { concurrency = 32 }) do
  if order then created = created + 1 else
    failed = failed + 1
    if err.status == 429 then limited = limited + 1 end
    if failed <= 3 then io.stderr:write("\n  ", tostring(err), "\n") end
  end
  if res and res.rate_limit and res.rate_limit.remaining then remaining = res.rate_limit.remaining end
  local done = created + failed
  if done % 50 == 0 or done == COUNT then
    local elapsed = clock() - started
    io.write(("\r  %5d/%d  %6.1f orders/s  budget left %-5s"):format(done, COUNT, done / elapsed,
      tostring(remaining)))
    io.flush()
  end
end
local elapsed = clock() - started
local floor = COUNT / requests * per
print(("\n  created %d, failed %d (429s: %d) in %.1f s; the plan's floor is %.1f s (%.2fx)"):format(
  created, failed, limited, elapsed, floor, elapsed / floor))
client:close()
if failed > 0 then os.exit(1) end
