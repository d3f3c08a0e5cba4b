--- GET /v1/async-actions/{id}, GET /v1/exports/{id}, and the downloads on
-- the download listener: GET /v1/exports/{id}?token=... (an export's CSV) and
-- GET /v1/async-actions/{id}/report?token=... (a bulk update's report).
-- @module voucherify.fake.handlers.jobs

local api_error = require "voucherify.fake.api_error"
local jobs = require "voucherify.fake.jobs"
local query = require "voucherify.fake.query"

local function get_async_action(_, ctx)
  local action = ctx.state.async_actions.by_id[ctx.params.id]
  if not action then return api_error.not_found("async_action", ctx.params.id) end
  return 200, jobs.poll_async_action(ctx.state, action, ctx.server.download_url)
end

local function get_export(_, ctx)
  local exp = ctx.state.exports.by_id[ctx.params.id]
  if not exp then return api_error.not_found("export", ctx.params.id) end
  return 200, jobs.poll_export(ctx.state, exp, ctx.server.download_url)
end

local function download(req, ctx)
  local text = jobs.download(ctx.state, ctx.params.id, query.get(req, "token"))
  if not text then
    return 401, { code = 401, message = "Unauthorized", key = "unauthorized",
      details = "The download link's token is missing or wrong" }
  end
  return 200, text, { ["Content-Type"] = "text/csv; charset=utf-8" }
end

--- Registers the routes.
return function(api, downloads)
  api:add("GET", "/v1/async-actions/{id}", get_async_action)
  api:add("GET", "/v1/exports/{id}", get_export)
  downloads:add("GET", "/v1/exports/{id}", download)
  downloads:add("GET", "/v1/async-actions/{id}/report", download)
end
