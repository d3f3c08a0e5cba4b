--- Everything the fake server remembers: its collections, its clock, the
-- requests it saw and the faults queued for it.
-- @module voucherify.fake.state

local datetime = require "voucherify.datetime"
local store = require "voucherify.fake.store"

local state = {}

--- Fresh, empty state.
function state.new()
  return {
    orders = store.collection("ord_"),
    customers = store.collection("cust_"),
    async_actions = store.collection("aa_"),
    exports = store.collection("exp_"),
    events = store.collection("evcus_"),     -- customer activity
    redeemables = store.collection("rh_"),   -- customer redeemables (seeded by tests)
    segments_of = {},                        -- customer id -> list of segments
    customer_events = {},                    -- customer id -> list of activity events, oldest first
    jobs = {},                               -- async action / export id -> progress bookkeeping
    -- requests seen by the API routes, for tests that assert what was sent
    request_log = {},
    -- faults queued by tests for the next API requests
    faults = {},
    -- a frozen "now" (ms) set by tests through /_fake/clock, or nil
    frozen_ms = nil,
    -- bearer tokens issued by POST /v1/oauth/token: token -> expiry (ms)
    oauth_tokens = {},
  }
end

-- The wall clock with sub-second resolution: a monotonic clock (the C core's,
-- else cqueues') plus the epoch at a known monotonic time.  os.time() has
-- whole seconds only, and a clock up to a second behind makes "take a
-- timestamp, create, list created_at[after] it" find nothing; so the epoch
-- comes from `date +%s.%N` when it answers (read between two monotonic
-- readings: never behind), kept within [os.time(), os.time() + 1), and it
-- never goes back.
local monotime
do
  local ok, core = pcall(require, "voucherify.core")
  if ok and type(core) == "table" and core.monotime then
    monotime = core.monotime
  else
    local cq_ok, cqueues = pcall(require, "cqueues")
    monotime = cq_ok and cqueues.monotime or os.clock
  end
end

local function date_epoch()
  local pipe = io.popen("date +%s.%N 2>/dev/null")
  if not pipe then return nil end
  local text = pipe:read("l")
  pipe:close()
  local secs, frac = (text or ""):match("^(%d+)%.(%d%d%d%d%d%d%d%d%d)$")
  return secs and tonumber(secs) + tonumber(frac) / 1e9 or nil
end

local offset -- epoch seconds minus monotonic seconds
do
  local before = monotime()
  local epoch = date_epoch()
  local mono = monotime()
  local low, high = os.time() - mono, os.time() + 1 - mono
  -- `epoch` was read after `before`: epoch - before is never behind the truth
  offset = epoch and math.max(low, math.min(high, epoch - before)) or high
end
local last_ms = 0

--- The real time in epoch milliseconds (whole ms, never decreasing).
function state.wall_ms()
  local ms = math.floor((monotime() + offset) * 1000)
  if ms < last_ms then ms = last_ms end
  last_ms = ms
  return ms
end

--- The current time in epoch milliseconds (the frozen time when one is set).
function state.now_ms(s)
  if s and s.frozen_ms then return s.frozen_ms end
  return state.wall_ms()
end

--- The current time as ISO 8601 UTC with milliseconds, like the API's.
function state.now(s)
  return datetime.format(state.now_ms(s))
end

return state
