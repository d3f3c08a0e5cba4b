--- GET /v1/async-actions/{id} and GET /v1/exports/{id}.
-- @module voucherify.fake.handlers.jobs

local api_error = require "voucherify.fake.api_error"

local function get_async_action(_, ctx)
  local action = ctx.state.async_actions.by_id[ctx.params.id]
  if not action then return api_error.not_found("async_action", ctx.params.id) end
  return 200, action
end

local function get_export(_, ctx)
  local exp = ctx.state.exports.by_id[ctx.params.id]
  if not exp then return api_error.not_found("export", ctx.params.id) end
  return 200, exp
end

--- Registers the routes.
return function(router)
  router:add("GET", "/v1/async-actions/{id}", get_async_action)
  router:add("GET", "/v1/exports/{id}", get_export)
end
