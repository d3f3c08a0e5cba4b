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

local ok, cqueues = pcall(require, "cqueues")
local started_wall = os.time()
local started_mono = ok and cqueues.monotime() or nil

--- The current time in epoch milliseconds (the frozen time when one is set).
function state.now_ms(s)
  if s and s.frozen_ms then return s.frozen_ms end
  local t = started_wall
  if started_mono then t = t + (cqueues.monotime() - started_mono) end
  return math.floor(t * 1000)
end

--- The current time as ISO 8601 UTC with milliseconds, like the API's.
function state.now(s)
  return datetime.format(state.now_ms(s))
end

return state
