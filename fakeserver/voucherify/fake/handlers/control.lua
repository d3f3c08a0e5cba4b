--- /_fake/*: the test-control API (no credentials needed, never logged).
--
--   GET    /_fake/requests   the API requests received so far, oldest first
--   DELETE /_fake/requests   forget them
--   POST   /_fake/faults     queue faults for the next API requests: { faults = [...] }
--   POST   /_fake/reset      forget everything: data, requests and faults
--   POST   /_fake/shutdown   stop the server after this response
-- @module voucherify.fake.handlers.control

local json = require "voucherify.json"
local state_mod = require "voucherify.fake.state"

local function requests(_, ctx)
  return 200, { object = "list", requests = json.array(ctx.state.request_log) }
end

local function clear_requests(_, ctx)
  ctx.state.request_log = {}
  return 204
end

local function queue_faults(_, ctx)
  local list = type(ctx.json_body) == "table" and ctx.json_body.faults
  if type(list) ~= "table" then return 400, { code = 400, message = "expected { faults = [...] }" } end
  for _, f in ipairs(list) do table.insert(ctx.state.faults, f) end
  return 204
end

local function reset(_, ctx)
  ctx.server.state = state_mod.new()
  return 204
end

local function shutdown(_, ctx)
  ctx.server:stop()
  return 204
end

--- Registers the control routes.
return function(router)
  router:add("GET", "/_fake/requests", requests)
  router:add("DELETE", "/_fake/requests", clear_requests)
  router:add("POST", "/_fake/faults", queue_faults)
  router:add("POST", "/_fake/reset", reset)
  router:add("POST", "/_fake/shutdown", shutdown)
end
