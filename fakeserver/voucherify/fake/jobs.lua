--- Long-running work the API does in the background: async actions and
-- exports.  Records are created here; their routes live in handlers/.
-- @module voucherify.fake.jobs

local json = require "voucherify.json"
local api_error = require "voucherify.fake.api_error"
local state_mod = require "voucherify.fake.state"

local null = json.null

local jobs = {}

--- Records a finished async action with `result` and returns it.
function jobs.async_action(state, type_, result)
  local now = state_mod.now()
  local action = {
    id = state.async_actions:new_id(), object = "async_action", type = type_,
    status = "DONE", progress = 100, result = result, created_at = now, updated_at = now,
    request_id = api_error.request_id(), processing_time = 0,
  }
  return state.async_actions:insert(action)
end

--- Records a scheduled export of `exported_object` and returns it.
function jobs.export(state, exported_object, parameters)
  local exp = {
    id = state.exports:new_id(), object = "export", created_at = state_mod.now(),
    status = "SCHEDULED", channel = "API", exported_object = exported_object,
    parameters = parameters, result = null, user_id = null,
  }
  return state.exports:insert(exp)
end

return jobs
