--- Time for the Lua layer: a monotonic clock and a sleep that suits where
-- the code runs.  Inside a `client:map` task it yields to the scheduler
-- (voucherify.tasks), which runs the other tasks meanwhile; inside nginx,
-- where the phase allows it, it yields with ngx.sleep (the worker goes on
-- serving others); elsewhere it blocks the thread (the C core's nanosleep).
-- @module voucherify.clock

local runtime = require "voucherify.runtime"
local tasks = require "voucherify.tasks"

local core = runtime.core

local clock = {}

--- True when running inside nginx in a phase that may yield (cosockets, ngx.sleep).
clock.can_yield = runtime.can_yield

--- Seconds on a monotonic clock (sub-millisecond resolution).
function clock.now()
  if core then return core.monotime() end
  local n = rawget(_G, "ngx")
  n.update_time()
  return n.now()
end

--- Waits `seconds`: yields inside a map task or inside nginx where allowed,
-- blocks otherwise.
function clock.sleep(seconds)
  if seconds <= 0 then return end
  if tasks.running ~= 0 and tasks.current() then
    tasks.sleep(seconds)
  elseif runtime.can_yield() then
    rawget(_G, "ngx").sleep(seconds)
  elseif core then
    core.sleep(seconds)
  else
    error("voucherify: cannot sleep here: no yieldable nginx phase and no C core")
  end
end

return clock
