--- Reads the answers of a burst of `POST /orders` sent to the example's nginx
-- (one JSON object a line, as curl printed them) on stdin, and the fake
-- server's `/_fake/limits` report from the file named by arg[1]; prints one
-- line about each.  Run by scripts/openresty-example.sh (Lua 5.4).
--   lua5.4 examples/openresty/burst_summary.lua limits.json SENT STARTED ENDED < answers
-- (SENT: how many requests were sent; STARTED, ENDED: when the burst began
-- and ended, in epoch seconds).  A request with no answer counts as failed.
local json = require "voucherify.json"

local sent, started, ended = tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local created, refused, odd, workers, seen = 0, 0, 0, 0, {}
for line in io.lines() do
  local answer = json.decode(line)
  if type(answer) == "table" and answer.id then
    created = created + 1
    local worker = tostring(answer.worker)
    if not seen[worker] then seen[worker], workers = true, workers + 1 end
  elseif type(answer) == "table" and answer.error == "rate_limit" then
    refused = refused + 1
  else
    odd = odd + 1
    if odd <= 3 then io.stderr:write("  ", line, "\n") end -- the first few, to see why
  end
end
local failed = sent - created - refused
print(("POST /orders x %d at once -> %d created, %d refused by the shared budget (503), %d failed;"
  .. " served by %d workers in %.1f s"):format(sent, created, refused, failed, workers, ended - started))

local f = assert(io.open(arg[1]))
local limits = assert(json.decode(f:read("a")))
f:close()
local plan = limits.rate_limit
print(("fake server (limit %s): %d API requests, %d answered 429"):format(
  plan and ("%d per %g s"):format(plan.requests, plan.per) or "none", limits.requests,
  limits.too_many_requests.total))
