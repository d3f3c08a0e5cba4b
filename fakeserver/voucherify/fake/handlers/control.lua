--- /_fake/*: the test-control API (no credentials needed, never logged).
--
--   GET    /_fake/requests   the API requests received so far, oldest first
--   DELETE /_fake/requests   forget them
--   POST   /_fake/faults     queue faults for the next API requests: { faults = [...] }
--   POST   /_fake/reset      forget everything: data, requests and faults; latency and limits
--                             back to the command line's, budgets full, counts zero
--   GET    /_fake/limits     latency, jitter, grace, the budgets in force and the counts: API
--                             requests, 429s sent by X-Rate-Limit-Type, remaining, peak in flight
--   POST   /_fake/limits     { latency =, jitter =, grace =, rate_limit = { requests =, per = },
--                             bulk = {...}, cycle = n | {...} }: changes those given (null: off)
--   POST   /_fake/clock      { now = "2024-01-01T00:00:00.000Z" } freezes the clock; { now = null } frees it
--   POST   /_fake/jobs/{id}/fail              that async action or export ends FAILED / ERROR
--   POST   /_fake/customers  { customers = [...] } adds customers as given, with their own
--                             `created_at` and `updated_at` (null: never updated)
--   POST   /_fake/customers/{id}/redeemables  { count = n } gives the customer n redeemables
--   POST   /_fake/customers/{id}/segments     { segments = [{ id, name }] } sets its segments
--   POST   /_fake/oauth          { ttl = seconds } for the tokens issued from now on
--   POST   /_fake/oauth/revoke   every issued token stops working (the API will answer 401)
--   POST   /_fake/shutdown   stop the server after this response
-- @module voucherify.fake.handlers.control

local json = require "voucherify.json"
local datetime = require "voucherify.datetime"
local customers = require "voucherify.fake.handlers.customers"
local jobs = require "voucherify.fake.jobs"
local state_mod = require "voucherify.fake.state"

local function bad(message)
  return 400, { code = 400, key = "invalid_payload", message = message }
end

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

local function clock(_, ctx)
  local now = type(ctx.json_body) == "table" and ctx.json_body.now
  if now == nil or now == json.null then
    ctx.state.frozen_ms = nil
    return 204
  end
  local ms = datetime.parse(now)
  if not ms then return bad("expected { now = ISO 8601 date-time | null }") end
  ctx.state.frozen_ms = ms
  return 204
end

local function fail_job(_, ctx)
  if not jobs.fail(ctx.state, ctx.params.id) then return bad("no such job " .. ctx.params.id) end
  return 204
end

local CAMPAIGN_TYPES = { "DISCOUNT_COUPONS", "GIFT_VOUCHERS", "LOYALTY_PROGRAM", "PROMOTION" }
local VOUCHER_TYPES = { DISCOUNT_COUPONS = "DISCOUNT_VOUCHER", GIFT_VOUCHERS = "GIFT_VOUCHER",
  LOYALTY_PROGRAM = "LOYALTY_CARD", PROMOTION = "DISCOUNT_VOUCHER" }

local function seed_redeemables(_, ctx)
  local customer = ctx.state.customers:find(ctx.params.id)
  if not customer then return bad("no such customer " .. ctx.params.id) end
  local count = type(ctx.json_body) == "table" and math.tointeger(ctx.json_body.count)
  if not count or count < 0 then return bad("expected { count = n }") end
  local existing = ctx.state.redeemables:count()
  for i = 1, count do
    local n = existing + i
    local campaign_type = CAMPAIGN_TYPES[(n - 1) % #CAMPAIGN_TYPES + 1]
    local voucher_id = ("v_%08d"):format(n)
    ctx.state.redeemables:insert {
      id = ("rh_%08d"):format(n), object = "customer_redeemable", created_at = state_mod.now(ctx.state),
      redeemable_id = voucher_id, redeemable_object = "voucher", customer_id = customer.id,
      holder_role = "OWNER", campaign_id = ("camp_%02d"):format(n % 7), campaign_type = campaign_type,
      voucher_type = VOUCHER_TYPES[campaign_type],
      redeemable = { id = voucher_id, code = ("CODE-%06d"):format(n), object = "voucher",
        campaign_id = ("camp_%02d"):format(n % 7), active = true },
    }
  end
  return 204
end

local function seed_customers(_, ctx)
  local list = type(ctx.json_body) == "table" and ctx.json_body.customers
  if type(list) ~= "table" then return bad("expected { customers = [...] }") end
  local ok, why = customers.seed(ctx.state, list)
  if not ok then return bad(why) end
  return 200, { count = #list }
end

local function set_segments(_, ctx)
  local customer = ctx.state.customers:find(ctx.params.id)
  if not customer then return bad("no such customer " .. ctx.params.id) end
  local list = type(ctx.json_body) == "table" and ctx.json_body.segments
  if type(list) ~= "table" then return bad("expected { segments = [...] }") end
  ctx.state.segments_of[customer.id] = list
  return 204
end

local function oauth_settings(_, ctx)
  local ttl = type(ctx.json_body) == "table" and tonumber(ctx.json_body.ttl)
  if not ttl or ttl <= 0 then return bad("expected { ttl = seconds }") end
  ctx.server.config.oauth_ttl = ttl
  return 204
end

local function revoke(_, ctx)
  ctx.state.oauth_tokens = {}
  return 204
end

local function reset(_, ctx)
  ctx.server:reset()
  return 204
end

local function limits_report(_, ctx)
  return 200, ctx.server.limits:report()
end

local function set_limits(_, ctx)
  local ok, why = ctx.server.limits:configure(ctx.json_body)
  if not ok then return bad(why) end
  return 200, ctx.server.limits:report()
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
  router:add("GET", "/_fake/limits", limits_report)
  router:add("POST", "/_fake/limits", set_limits)
  router:add("POST", "/_fake/clock", clock)
  router:add("POST", "/_fake/oauth", oauth_settings)
  router:add("POST", "/_fake/oauth/revoke", revoke)
  router:add("POST", "/_fake/jobs/{id}/fail", fail_job)
  router:add("POST", "/_fake/customers", seed_customers)
  router:add("POST", "/_fake/customers/{id}/redeemables", seed_redeemables)
  router:add("POST", "/_fake/customers/{id}/segments", set_segments)
  router:add("POST", "/_fake/shutdown", shutdown)
end
