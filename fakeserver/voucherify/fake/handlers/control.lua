--- /_fake/*: the test-control API (no credentials needed, never logged).
-- Bodies are JSON whatever the Content-Type; a body that is not JSON, not an
-- object, or has a key the endpoint does not know gets a 400 naming it.
--
--   GET    /_fake/requests   the API requests received so far, oldest first:
--                             { object = "list", requests = [{ method, path, query (raw), headers
--                             (lower-case names), body (first 64 KiB, cut between characters),
--                             body_base64 (only when the body is not UTF-8: its exact bytes),
--                             connection (number), listener ("api" | "download"), status (answered;
--                             null: closed unanswered) }]; bytes that are not UTF-8 show as U+FFFD }
--   DELETE /_fake/requests   forget them
--   POST   /_fake/faults     queue faults for the next API requests: { faults = [...] } (a fault's
--                             headers may not be Content-Length, Connection, Transfer-Encoding,
--                             Keep-Alive or Upgrade; its status is 200-599; a body needs a status)
--   POST   /_fake/reset      forget everything: data, requests and faults; latency and limits
--                             back to the command line's, budgets full, counts zero
--   GET    /_fake/limits     latency, jitter, grace, the budgets in force and the counts: API
--                             requests, 429s sent by X-Rate-Limit-Type, remaining, peak in flight
--   POST   /_fake/limits     { latency =, jitter =, grace =, rate_limit = { requests =, per = },
--                             bulk = {...}, cycle = n | {...} }: changes those given (null: off)
--   POST   /_fake/clock      { now = "2024-01-01T00:00:00.000Z" } freezes the clock; { now = null } frees it
--   POST   /_fake/jobs/{id}/fail              that async action or export ends FAILED / ERROR
--   POST   /_fake/customers  { customers = [...] } adds customers as given, with their own
--                             `id`, `created_at` and `updated_at` (null: never updated)
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
local http = require "voucherify.fake.http"
local state_mod = require "voucherify.fake.state"

-- (an id from the path may hold any bytes: the answer is JSON, so UTF-8)
local function bad(message)
  return 400, { code = 400, key = "invalid_payload", message = http.utf8_text(message) }
end

local function is_object(v) return type(v) == "table" and getmetatable(v) ~= json.array_mt end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

-- The keys of `t` that `allowed` (a set) does not have, as "a, b", or nil.
local function unknown_keys(t, allowed)
  local unknown = {}
  for _, k in ipairs(sorted_keys(t)) do
    if not allowed[k] then unknown[#unknown + 1] = k end
  end
  return #unknown > 0 and table.concat(unknown, ", ") or nil
end

--- The body of a control call, checked: an object with only `allowed` keys
-- (an empty body is an empty object).
-- @return the body, or nil and the 400 to answer
local function body_of(ctx, allowed, what)
  local body = ctx.json_body
  if body == nil then return {} end
  if not is_object(body) then return nil, bad(("expected %s"):format(what)) end
  local unknown = unknown_keys(body, allowed)
  if unknown then return nil, bad(("unknown key(s) %s; expected %s"):format(unknown, what)) end
  return body
end

local function requests(_, ctx)
  return 200, { object = "list", requests = json.array(ctx.state.request_log) }
end

-- `handler` for an endpoint that takes no body (or `{}`)
local function empty(handler)
  return function(req, ctx)
    local _, status, body = body_of(ctx, {}, "no body (or {})")
    if status then return status, body end
    return handler(req, ctx)
  end
end

local clear_requests = empty(function(_, ctx)
  ctx.state.request_log = {}
  return 204
end)

local function has_crlf(v) return type(v) == "string" and v:find("[\r\n]") ~= nil end

-- the headers that frame an answer on the connection: a fault that set them
-- would desync the client's next answer
local FRAMING = { ["content-length"] = true, connection = true, ["transfer-encoding"] = true,
  ["keep-alive"] = true, upgrade = true }

-- checks of each fault field: nil when right, else what it should be
local FAULT_FIELDS = {
  path = function(v) return type(v) ~= "string" and "a string" or nil end,
  delay = function(v) return not (type(v) == "number" and v >= 0 and v <= 3600) and "seconds in [0, 3600]" or nil end,
  -- a 1xx is not a final answer: the client would wait for another
  status = function(v)
    return not (math.type(v) == "integer" and v >= 200 and v <= 599) and "an HTTP status (200-599)" or nil
  end,
  body = function() return nil end,
  headers = function(v)
    if not is_object(v) then return "an object of header names to strings or numbers" end
    for k, hv in pairs(v) do
      local value_ok = (type(hv) == "string" and not has_crlf(hv)) or (type(hv) == "number" and hv == hv
        and hv > -math.huge and hv < math.huge)
      if type(k) ~= "string" or not k:match("^[%w!#$%%&'*+.^_`|~-]+$") or not value_ok then
        return "an object of header names to strings or numbers (no CR/LF)"
      end
      if FRAMING[k:lower()] then
        return ("headers other than %s (the server frames the answer; see truncate, close)"):format(k)
      end
    end
    return nil
  end,
  proxy_502 = function(v) return type(v) ~= "boolean" and "true or false" or nil end,
  empty = function(v) return type(v) ~= "boolean" and "true or false" or nil end,
  content_type = function(v) return (type(v) ~= "string" or has_crlf(v)) and "a string (no CR/LF)" or nil end,
  gzip = function(v) return type(v) ~= "boolean" and "true or false" or nil end,
  truncate = function(v) return type(v) ~= "boolean" and "true or false" or nil end,
  close = function(v) return v ~= "before" and v ~= "mid_body" and '"before" or "mid_body"' or nil end,
}

-- nil when `f` is a valid fault, else why not
local function check_fault(f, i)
  local where = ("faults[%d]"):format(i - 1)
  if not is_object(f) then return where .. " should be an object" end
  local unknown = unknown_keys(f, FAULT_FIELDS)
  if unknown then
    return ("%s: unknown key(s) %s; a fault has %s"):format(where, unknown,
      table.concat(sorted_keys(FAULT_FIELDS), ", "))
  end
  for _, k in ipairs(sorted_keys(f)) do
    local want = FAULT_FIELDS[k](f[k])
    if want then return ("%s.%s should be %s"):format(where, k, want) end
  end
  if f.body ~= nil and f.status == nil then return where .. ".body goes with a status" end
  return nil
end

local function queue_faults(_, ctx)
  local body, status, err = body_of(ctx, { faults = true }, "{ faults = [...] }")
  if not body then return status, err end
  local list = body.faults
  if getmetatable(list) ~= json.array_mt and not (is_object(list) and next(list) == nil) then
    return bad("expected { faults = [...] }")
  end
  for i, f in ipairs(list) do
    local why = check_fault(f, i)
    if why then return bad(why) end
  end
  for _, f in ipairs(list) do table.insert(ctx.state.faults, f) end
  return 204
end

local function clock(_, ctx)
  local body, status, err = body_of(ctx, { now = true }, "{ now = ISO 8601 date-time | null }")
  if not body then return status, err end
  local now = body.now
  if now == nil or now == json.null then
    ctx.state.frozen_ms = nil
    return 204
  end
  local ms = type(now) == "string" and datetime.parse(now)
  if not ms then return bad("expected { now = ISO 8601 date-time | null }") end
  ctx.state.frozen_ms = ms
  return 204
end

local fail_job = empty(function(_, ctx)
  if not jobs.fail(ctx.state, ctx.params.id) then return bad("no such job " .. ctx.params.id) end
  return 204
end)

local CAMPAIGN_TYPES = { "DISCOUNT_COUPONS", "GIFT_VOUCHERS", "LOYALTY_PROGRAM", "PROMOTION" }
local VOUCHER_TYPES = { DISCOUNT_COUPONS = "DISCOUNT_VOUCHER", GIFT_VOUCHERS = "GIFT_VOUCHER",
  LOYALTY_PROGRAM = "LOYALTY_CARD", PROMOTION = "DISCOUNT_VOUCHER" }

-- The voucher of seeded redeemable `n` of a campaign type, in the shape of
-- the API's `redeemable.voucher`.
local function voucher(n, campaign_type, customer, now)
  local v = {
    id = ("v_%08d"):format(n), code = ("CODE-%06d"):format(n), object = "voucher",
    campaign = ("Campaign %02d"):format(n % 7), campaign_id = ("camp_%02d"):format(n % 7),
    type = VOUCHER_TYPES[campaign_type], active = true, is_referral_code = false,
    metadata = {}, holder_id = customer.id, created_at = now, updated_at = now,
    redemption = { quantity = 1, redeemed_quantity = 0, object = "list" },
  }
  if v.type == "GIFT_VOUCHER" then
    v.gift = { amount = 10000, subtracted_amount = 0, balance = 10000, effect = "APPLY_TO_ORDER" }
  elseif v.type == "LOYALTY_CARD" then
    v.loyalty_card = { points = 100, balance = 100 }
  else
    v.discount = { type = "PERCENT", percent_off = 10 }
  end
  return v
end

local function seed_redeemables(_, ctx)
  local body, status, err = body_of(ctx, { count = true }, "{ count = n }")
  if not body then return status, err end
  local customer = ctx.state.customers:find(ctx.params.id)
  if not customer then return bad("no such customer " .. ctx.params.id) end
  local count = math.tointeger(body.count)
  if not count or count < 0 or count > 100000 then return bad("expected { count = n } (0 <= n <= 100000)") end
  local existing = ctx.state.redeemables:count()
  local now = state_mod.now(ctx.state)
  for i = 1, count do
    local n = existing + i
    local campaign_type = CAMPAIGN_TYPES[(n - 1) % #CAMPAIGN_TYPES + 1]
    local v = voucher(n, campaign_type, customer, now)
    ctx.state.redeemables:insert {
      id = ("rh_%08d"):format(n), object = "customer_redeemable", created_at = now,
      redeemable_id = v.id, redeemable_object = "voucher", customer_id = customer.id,
      holder_role = "OWNER", campaign_id = v.campaign_id, campaign_type = campaign_type,
      voucher_type = v.type,
      redeemable = { type = "voucher", status = "ACTIVE", voucher = v },
    }
  end
  return 204
end

local function seed_customers(_, ctx)
  local body, status, err = body_of(ctx, { customers = true }, "{ customers = [...] }")
  if not body then return status, err end
  local list = body.customers
  if type(list) ~= "table" or (next(list) ~= nil and getmetatable(list) ~= json.array_mt) then
    return bad("expected { customers = [...] }")
  end
  local ok, why = customers.seed(ctx.state, list)
  if not ok then return bad(why) end
  return 200, { count = #list }
end

local function set_segments(_, ctx)
  local body, status, err = body_of(ctx, { segments = true }, "{ segments = [{ id, name }] }")
  if not body then return status, err end
  local customer = ctx.state.customers:find(ctx.params.id)
  if not customer then return bad("no such customer " .. ctx.params.id) end
  local list = body.segments
  if type(list) ~= "table" or (next(list) ~= nil and getmetatable(list) ~= json.array_mt) then
    return bad("expected { segments = [...] }")
  end
  local allowed = { id = true, name = true }
  for i, seg in ipairs(list) do
    local where = ("segments[%d]"):format(i - 1)
    if not is_object(seg) then return bad(where .. " should be an object { id, name }") end
    local unknown = unknown_keys(seg, allowed)
    if unknown then return bad(("%s: unknown key(s) %s; expected { id, name }"):format(where, unknown)) end
    if type(seg.id) ~= "string" or (seg.name ~= nil and type(seg.name) ~= "string") then
      return bad(where .. " should be { id = string, name = string }")
    end
  end
  ctx.state.segments_of[customer.id] = list
  return 204
end

local function oauth_settings(_, ctx)
  local body, status, err = body_of(ctx, { ttl = true }, "{ ttl = seconds }")
  if not body then return status, err end
  local ttl = tonumber(body.ttl)
  if type(body.ttl) ~= "number" or not ttl or ttl <= 0 or ttl == math.huge then
    return bad("expected { ttl = seconds }")
  end
  ctx.server.config.oauth_ttl = ttl
  return 204
end

local revoke = empty(function(_, ctx)
  ctx.state.oauth_tokens = {}
  return 204
end)

local reset = empty(function(_, ctx)
  ctx.server:reset()
  return 204
end)

local function limits_report(_, ctx)
  return 200, ctx.server.limits:report()
end

local LIMIT_KEYS = { latency = true, jitter = true, grace = true, rate_limit = true, bulk = true, cycle = true }
local function set_limits(_, ctx)
  local body, status, err = body_of(ctx, LIMIT_KEYS,
    "{ latency, jitter, grace, rate_limit, bulk, cycle }")
  if not body then return status, err end
  local ok, why = ctx.server.limits:configure(body)
  if not ok then return bad(why) end
  return 200, ctx.server.limits:report()
end

local shutdown = empty(function(_, ctx)
  ctx.server:stop()
  return 204
end)

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
