--- The rate limiter's budget kept in the client's own memory (the default
-- store, and the fallback of the shared ones).  Lua runs one coroutine at a
-- time and a decision never yields, so each one is atomic.
--
-- Every store has one method, `store:update(budget, op, now, arg)` ->
-- `code, value, ahead` or `nil, err`: it runs `voucherify.rate_limit.gcra`'s
-- step atomically on the budget (`budget.key`, `budget.stop_key`,
-- `budget.interval`, `budget.tolerance`), and returns the step's code and
-- value and how far the budget's `tat` is ahead of `now` afterwards (all in
-- seconds).  `now` is the caller's clock; a store may use its own instead.
-- @module voucherify.rate_limit.local_store

local gcra = require "voucherify.rate_limit.gcra"

local step = gcra.step

local local_store = {}

local Store = { __name = "voucherify.rate_limit.local_store" }
Store.__index = Store

--- Makes a store in this process's memory.
function local_store.new()
  return setmetatable({ tat = {}, stop = {} }, Store)
end

--- Runs one decision (see the module's description).
function Store:update(budget, op, now, arg)
  local key, stop_key = budget.key, budget.stop_key
  local tat, stop, code, value = step(op, self.tat[key], self.stop[stop_key], now, budget.interval,
    budget.tolerance, arg)
  self.tat[key], self.stop[stop_key] = tat, stop
  return code, value, (tat or now) - now
end

return local_store
