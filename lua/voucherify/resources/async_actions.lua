--- `client.async_actions`: background jobs (imports, bulk updates), as
-- methods of `AsyncActions` called on `client.async_actions`.
--
-- `orders:import`, `customers:import_csv`, `customers:update_in_bulk` and
-- `customers:update_metadata_in_bulk` return `{ async_action_id = ... }`;
-- `wait` takes that table, the action, or its id.
-- @module voucherify.resources.async_actions
-- @usage
-- local job = assert(client.orders:import(list))
-- local action, err = client.async_actions:wait(job, { on_progress = function(a)
--   io.write("\r", a.status, " ", a.progress or 0, "%")
-- end })
-- if action then print(action.result) elseif err.kind == "async" then print(err.action.result) end

local argcheck = require "voucherify.argcheck"
local endpoint = require "voucherify.endpoint"
local poller = require "voucherify.poller"

local async_actions = {}

local AsyncActions = {}
AsyncActions.__index = AsyncActions

--- The async-actions resource of `client` (`client.async_actions`).
-- @local
function async_actions.new(client)
  return setmetatable({ client = client }, AsyncActions)
end

-- accepts an id, an action, or the { async_action_id = ... } a call returned
local function id_of(v)
  if type(v) == "table" then return v.async_action_id or v.id end
  return v
end

endpoint.define(AsyncActions, "async_actions", {
  --- Gets an async action: one look, no waiting.  GET /v1/async-actions/{id}.
  -- @function AsyncActions:get
  -- @tparam string|table id `"aa_..."`, or the table a call such as `orders:import` returned
  -- @return the action (`status`: `"ENQUEUED"`, `"IN_PROGRESS"`, `"DONE"`, `"FAILED"`), err, response
  -- @usage local action = assert(client.async_actions:get(job.async_action_id))
  get = { "GET", { "v1", "async-actions", endpoint.ID }, id_of = id_of },
})

local wait_check = argcheck.site("async_actions:wait")

--- Polls an async action until it is DONE (returns it) or FAILED (returns nil
-- and an error of kind `"async"` with the action as `err.action`).  The
-- polls are ordinary GET calls (retried, reported to `on_response`); the
-- waits between them sleep (`ngx.sleep` inside nginx, a blocking sleep with
-- libcurl).  When `timeout` runs out first: nil and an error of kind
-- `"timeout"` naming the status last seen (`err.action`).
-- @tparam string|table id `"aa_..."`, or the table a call returned, or the action
-- @tparam[opt] table opts `timeout` (seconds for the whole wait, default 600),
--   `interval` (the first wait, default 1 s, growing 1.5x up to 10 s),
--   `on_progress(action)` (after every poll; an error it raises propagates)
-- @return the action, err, response (of the last poll)
-- @usage
-- local action, err = client.async_actions:wait(job, { timeout = 120, interval = 0.5 })
-- if not action then print(err.kind, err.message) end
function AsyncActions:wait(id, opts)
  id = id_of(id)
  wait_check:id(id, "id")
  opts = wait_check:optional_table(opts, "opts")
  wait_check:poll_options(opts)
  return poller.wait_resource(self.client, { "v1", "async-actions", id }, poller.ASYNC_ACTION, opts)
end

argcheck.methods(AsyncActions, "async_actions")

return async_actions
