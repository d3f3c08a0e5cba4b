--- POST /v1/oauth/token: client credentials (the app keys) for a bearer token.
-- @module voucherify.fake.handlers.oauth

local datetime = require "voucherify.datetime"
local api_error = require "voucherify.fake.api_error"
local auth = require "voucherify.fake.auth"
local http = require "voucherify.fake.http"
local state_mod = require "voucherify.fake.state"

local function token(req, ctx)
  if not auth.app_keys(ctx.server.config, req.headers) then return api_error.unauthorized() end
  if not (req.headers["content-type"] or ""):find("application/x-www-form-urlencoded", 1, true) then
    return api_error.invalid_payload("Content-Type should be application/x-www-form-urlencoded")
  end
  local form = {}
  for _, pair in ipairs(http.parse_query(req.body)) do form[pair[1]] = pair[2] end
  if form.grant_type ~= "client_credentials" then
    return api_error.invalid_payload("Property grant_type should be equal to client_credentials")
  end
  local ttl = ctx.server.config.oauth_ttl
  local requested = tonumber(form.expires_in)
  if requested and requested > 0 and requested < ttl then ttl = requested end
  local value = "oauth_" .. ctx.state.customers:new_id():sub(6) .. ctx.state.orders:new_id():sub(5)
  local now = state_mod.now_ms(ctx.state)
  ctx.state.oauth_tokens[value] = now + math.floor(ttl * 1000)
  return 200, { access_token = value, token_type = "bearer", expires_in = ttl,
    expires_at = datetime.format(now + math.floor(ttl * 1000)), scope = form.scope or "api" }
end

--- Registers the route (it checks the app keys itself).
return function(api)
  api:add("POST", "/v1/oauth/token", token, { public = true })
end
