--- Everything the fake server remembers: its collections and its clock.
-- @module voucherify.fake.state

local store = require "voucherify.fake.store"

local state = {}

--- Fresh, empty state.
function state.new()
  return {
    orders = store.collection("ord_"),
    customers = store.collection("cust_"),
    async_actions = store.collection("aa_"),
    exports = store.collection("exp_"),
    -- requests seen by the API routes, for tests that assert what was sent
    request_log = {},
    -- faults queued by tests for the next API requests
    faults = {},
  }
end

local started_wall = os.time()
local ok, cqueues = pcall(require, "cqueues")
local started_mono = ok and cqueues.monotime() or nil

--- The current time as ISO 8601 UTC with milliseconds, like the API's.
function state.now()
  local t = started_wall
  if started_mono then t = t + (cqueues.monotime() - started_mono) end
  local secs = math.floor(t)
  local ms = math.floor((t - secs) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. (".%03dZ"):format(ms)
end

return state
