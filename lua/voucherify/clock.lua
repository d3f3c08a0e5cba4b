--- Time for the Lua layer: a monotonic clock and a sleep that suits where
-- the code runs.  Inside nginx, where the phase allows it, sleeping yields
-- with ngx.sleep (the worker goes on serving others); elsewhere it blocks the
-- thread (the C core's nanosleep).
-- @module voucherify.clock

local has_core, core = pcall(require, "voucherify.core")

local clock = {}

-- phases in which ngx.sleep may yield (lua-nginx-module's documentation)
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true }

--- True when running inside nginx in a phase that may yield (cosockets, ngx.sleep).
function clock.can_yield()
  local n = rawget(_G, "ngx")
  return n ~= nil and n.get_phase ~= nil and YIELDABLE[n.get_phase()] == true
end

--- Seconds on a monotonic clock (sub-millisecond resolution).
function clock.now()
  if has_core then return core.monotime() end
  local n = rawget(_G, "ngx")
  n.update_time()
  return n.now()
end

--- Waits `seconds`: yields inside nginx where allowed, blocks otherwise.
function clock.sleep(seconds)
  if seconds <= 0 then return end
  if clock.can_yield() then
    rawget(_G, "ngx").sleep(seconds)
  elseif has_core then
    core.sleep(seconds)
  else
    error("voucherify: cannot sleep here: no yieldable nginx phase and no C core")
  end
end

return clock
