--- The rate limiter's budget in an `ngx.shared` dictionary, shared by every
-- worker of one nginx (OpenResty / lua-nginx-module only).
--
-- A dictionary has no compare-and-set, so a decision (read the budget, run
-- `voucherify.rate_limit.gcra`'s step, write it back) holds a short lock: a
-- key that `safe_add` creates for one worker alone, with an expiry so that a
-- worker that died inside cannot hold it for ever.  The others spin on it
-- rather than sleep (the limiter never sleeps; the section is three
-- dictionary operations).  Times are on the caller's clock
-- (`voucherify.clock.now`, the same monotonic clock in every worker).
-- See voucherify.rate_limit.local_store for the store interface.
-- @module voucherify.rate_limit.shared_dict

local gcra = require "voucherify.rate_limit.gcra"

local step = gcra.step

local shared_dict = {}

--- How long the lock lives if its holder never releases it (seconds).
shared_dict.LOCK_TTL = 0.1
--- How much CPU time a worker spins on a held lock before it gives up and
-- the limiter falls back to its local budget (seconds): past LOCK_TTL the
-- lock has expired, so this is only reached when the dictionary misbehaves.
shared_dict.MAX_SPIN = 0.3
-- stored times live this much past the moment they stop mattering (seconds)
local KEEP = 1

local Store = { __name = "voucherify.rate_limit.shared_dict" }
Store.__index = Store

local function is_dict(d)
  local t = type(d)
  if t ~= "table" and t ~= "userdata" then return false end
  for _, method in ipairs({ "get", "safe_add", "safe_set", "delete" }) do
    if not pcall(function() return d[method] end) or type(d[method]) ~= "function" then return false end
  end
  return true
end

--- Makes a store in an `ngx.shared` dictionary.
-- @param dict e.g. `ngx.shared.voucherify` (declared with `lua_shared_dict`)
-- @tparam[opt] table opts `prefix` for its keys (default "voucherify:rate_limit:")
function shared_dict.new(dict, opts)
  if not is_dict(dict) then
    error("voucherify.rate_limit.shared_dict: expects an ngx.shared dictionary (e.g. ngx.shared.voucherify,"
      .. " declared with lua_shared_dict)", 3)
  end
  local prefix = opts and opts.prefix or "voucherify:rate_limit:"
  if type(prefix) ~= "string" then error("voucherify.rate_limit.shared_dict: 'prefix' must be a string", 3) end
  return setmetatable({ dict = dict, prefix = prefix, names = {} }, Store)
end

-- the dictionary keys of a budget: { tat, stop, lock }, made once
local function names(self, budget)
  local n = self.names[budget.key]
  if not n then
    local p = self.prefix
    n = { p .. budget.key, p .. budget.stop_key, p .. budget.stop_key .. ":lock" }
    self.names[budget.key] = n
  end
  return n
end

local function lock(dict, key)
  local ok, err = dict:safe_add(key, true, shared_dict.LOCK_TTL)
  if ok then return true end
  local spins, started = 0, os.clock()
  while err == "exists" do
    spins = spins + 1
    if spins % 1024 == 0 and os.clock() - started > shared_dict.MAX_SPIN then
      return nil, "the shared dictionary's lock stayed held"
    end
    ok, err = dict:safe_add(key, true, shared_dict.LOCK_TTL)
    if ok then return true end
  end
  return nil, "shared dictionary: " .. tostring(err)
end

-- writes a stored time that changed, to expire once it no longer matters
local function keep(dict, key, old, new, now)
  if new == nil or new == old or new <= now then return true end
  local ok, err = dict:safe_set(key, new, new - now + KEEP)
  if ok then return true end
  return nil, "shared dictionary: " .. tostring(err)
end

--- Runs one decision atomically across the workers (see voucherify.rate_limit.local_store).
function Store:update(budget, op, now, arg)
  local dict, n = self.dict, names(self, budget)
  local locked, err = lock(dict, n[3])
  if not locked then return nil, err end
  local tat, stop = dict:get(n[1]), dict:get(n[2])
  local new_tat, new_stop, code, value = step(op, tat, stop, now, budget.interval, budget.tolerance, arg)
  local ok
  ok, err = keep(dict, n[1], tat, new_tat, now)
  if ok then ok, err = keep(dict, n[2], stop, new_stop, now) end
  dict:delete(n[3])
  if not ok then return nil, err end
  return code, value, (new_tat or now) - now
end

return shared_dict
