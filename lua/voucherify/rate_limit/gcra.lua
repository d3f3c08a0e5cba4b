--- The rate limiter's one algorithm: GCRA, the generic cell rate algorithm
-- (ITU-T I.371; the "virtual scheduling" form).  A budget keeps one time,
-- `tat` (the theoretical arrival time): a request may go at
-- `max(now, tat - tolerance)`, and taking that turn moves `tat` to
-- `max(tat, now) + interval`.  With `interval = per / (requests - burst + 1)`
-- and `tolerance = (burst - 1) * interval`, no window of `per` seconds holds
-- more than `requests` turns, and `burst` of them may go at once after a
-- quiet spell.
--
-- The decision is written once, as Lua text, so that every store runs the
-- same code: it is compiled here for the local and shared-dictionary stores
-- and sent inside the Redis script (Redis runs Lua 5.1).  It works in any
-- unit of time, as long as all its arguments use the same one (seconds here,
-- microseconds in Redis).
-- @module voucherify.rate_limit.gcra

local gcra = {}

-- What a turn came to (the `code` of `step`, below):
--- Go, after `value` time units.
gcra.GO = 0
--- Too late for the caller's deadline: the turn would come in `value`.
gcra.LATE = 1
--- Stopped by the billing-cycle limit, for `value` more.
gcra.STOPPED = 2

--- The decision, as Lua 5.1 text defining `local function step(...)`.
--
-- `step(op, tat, stop, now, interval, tolerance, arg)` -> `tat, stop, code, value`
-- (the budget's new `tat`, the namespace's new `stop`, what the caller gets):
--
-- - `"turn"`: `arg` is the longest wait the caller accepts (negative: any);
--   a turn that would come later, or any turn before `stop`, reserves nothing.
-- - `"advance"`: `tat` becomes at least `now + arg` (a resync, a pause).
-- - `"stop"`: every turn is refused until `now + arg`.
gcra.SOURCE = [[
local GO, LATE, STOPPED = 0, 1, 2
local function step(op, tat, stop, now, interval, tolerance, arg)
  if op == "turn" then
    if stop and stop > now then return tat, stop, STOPPED, stop - now end
    local from = tat
    if not from or from < now then from = now end
    local wait = from - tolerance - now
    if wait < 0 then wait = 0 end
    if arg >= 0 and wait > arg then return tat, stop, LATE, wait end
    return from + interval, stop, GO, wait
  end
  local target = now + arg
  if op == "advance" then
    if not tat or tat < target then tat = target end
  elseif op == "stop" then
    if not stop or stop < target then stop = target end
  end
  return tat, stop, GO, 0
end
]]

--- The decision compiled for this Lua (see `SOURCE`).
gcra.step = assert(load(gcra.SOURCE .. "return step\n", "=voucherify.rate_limit.gcra"))()

return gcra
