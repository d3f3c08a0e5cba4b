--- `make bench`, throughput section: one share of the order creates, the
-- same in every runner that takes part (bench/throughput.lua itself, its
-- child processes sharing a budget through Redis, and each worker of the
-- nginx in bench/throughput_nginx.conf.in).  Runs on Lua 5.4 and on LuaJIT.
--
--   local share = require "bench.throughput_share"
--   local report = share.create(client, { first = 1, step = 2, n = 1000, start = t, concurrency = 16 })
local clock = require "voucherify.clock"

local share = {}

--- Order number `i` of a run: the same body whoever creates it (a shop's
-- order with a few items, as examples/bulk_sync.lua sends).
-- @tparam number i from 1
-- @return the body for `orders:create`
function share.order(i)
  local items = {}
  for k = 1, i % 3 + 1 do
    items[k] = { source_id = "sku-" .. ((i + k) % 7 + 1), quantity = k, price = 500 + (i % 11) * 100 }
  end
  return { source_id = ("bench-%06d"):format(i), status = "PAID", items = items,
    metadata = { batch = "throughput", position = i } }
end

local function create(c, order)
  return c.orders:create(order)
end

--- Creates the orders `first`, `first + step`, ... up to `n` with
-- `client:map`, beginning when the monotonic clock (which every process on
-- the machine shares) reaches `start`, so that several runners begin together.
-- @param client a voucherify client
-- @tparam table opts `first`, `step`, `n`, `start` (monotonic seconds), `concurrency`
-- @return `{ finish = monotonic seconds, created = n, failed = n, limited = n (429s), first_error = text }`
function share.create(client, opts)
  local items = {}
  for i = opts.first, opts.n, opts.step do items[#items + 1] = share.order(i) end
  while clock.now() < opts.start do clock.sleep(math.min(0.005, opts.start - clock.now())) end
  local report = { created = 0, failed = 0, limited = 0 }
  for _, order, err in client:map(items, create, { concurrency = opts.concurrency }) do
    if order then
      report.created = report.created + 1
    else
      report.failed = report.failed + 1
      if err and err.status == 429 then report.limited = report.limited + 1 end
      report.first_error = report.first_error or tostring(err)
    end
  end
  report.finish = clock.now()
  return report
end

--- One line for a report (what a child process prints, an nginx worker writes).
function share.format(report)
  return ("finish %.6f created %d failed %d limited %d error %s"):format(report.finish, report.created,
    report.failed, report.limited, ((report.first_error or "-"):gsub("\n", " ")))
end

--- The report in a line written by `format` (nil when it is not one).
function share.parse(line)
  local finish, created, failed, limited, err =
    line:match("^finish (%S+) created (%d+) failed (%d+) limited (%d+) error (.*)$")
  if not finish then return nil end
  return { finish = tonumber(finish), created = tonumber(created), failed = tonumber(failed),
    limited = tonumber(limited), first_error = err ~= "-" and err or nil }
end

return share
