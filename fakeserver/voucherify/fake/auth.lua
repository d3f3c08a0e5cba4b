--- Who may call the fake API: the configured app keys, or a bearer token.
-- @module voucherify.fake.auth

local auth = {}

--- True when the request carries valid credentials for `config`
-- (`app_id`/`app_token`, and/or `access_tokens`, a set of bearer tokens), or
-- a bearer token issued by the OAuth endpoint that has not expired (`issued`:
-- token -> expiry in ms, `now_ms`).
function auth.allowed(config, headers, issued, now_ms)
  local app_id, app_token = headers["x-app-id"], headers["x-app-token"]
  if app_id and app_token and app_id == config.app_id and app_token == config.app_token then
    return true
  end
  local bearer = (headers["authorization"] or ""):match("^[Bb]earer%s+(%S+)$")
  if bearer and config.access_tokens[bearer] then
    return true
  end
  if bearer and issued and issued[bearer] and issued[bearer] > now_ms then
    return true
  end
  return false
end

--- True when the app keys (only) are right: the OAuth token endpoint's check.
function auth.app_keys(config, headers)
  return headers["x-app-id"] == config.app_id and headers["x-app-token"] == config.app_token
end

return auth
