--- `client.async_actions`: background jobs (imports, bulk updates).
-- @module voucherify.resources.async_actions

local argcheck = require "voucherify.argcheck"
local endpoint = require "voucherify.endpoint"
local poller = require "voucherify.poller"

local async_actions = {}

local AsyncActions = {}
AsyncActions.__index = AsyncActions

--- The async-actions resource of `client`.
function async_actions.new(client)
  return setmetatable({ client = client }, AsyncActions)
end

-- accepts an id, an action, or the { async_action_id = ... } a call returned
local function id_of(v)
  if type(v) == "table" then return v.async_action_id or v.id end
  return v
end

endpoint.define(AsyncActions, "async_actions", {
  --- Gets an async action.
  -- @function AsyncActions:get
  -- @tparam string id "aa_..." (or the table a call such as `orders:import` returned)
  -- @return the action, err, response
  get = { "GET", { "v1", "async-actions", endpoint.ID }, id_of = id_of },
})

local wait_check = argcheck.site("async_actions:wait")

--- Polls an async action until it is DONE (returns it) or FAILED (returns nil
-- and an error of kind "async" with the action as `err.action`).
-- @tparam string id "aa_..." (or the table a call returned)
-- @tparam[opt] table opts `timeout` (seconds, default 600; then a "timeout"
--   error), `interval` (first wait, default 1 s, growing 1.5x up to 10 s),
--   `on_progress(action)` (after every poll)
-- @return the action, err, response
function AsyncActions:wait(id, opts)
  id = id_of(id)
  wait_check:id(id, "id")
  opts = wait_check:optional_table(opts, "opts")
  wait_check:poll_options(opts)
  return poller.wait_resource(self.client, { "v1", "async-actions", id }, poller.ASYNC_ACTION, opts)
end

argcheck.methods(AsyncActions, "async_actions")

return async_actions
