--- Who may call the fake API: the configured app keys, or a bearer token.
-- @module voucherify.fake.auth

local auth = {}

--- True when the request carries valid credentials for `config`
-- (`app_id`/`app_token`, and/or `access_tokens`, a set of bearer tokens).
function auth.allowed(config, headers)
  local app_id, app_token = headers["x-app-id"], headers["x-app-token"]
  if app_id and app_token and app_id == config.app_id and app_token == config.app_token then
    return true
  end
  local bearer = (headers["authorization"] or ""):match("^[Bb]earer%s+(%S+)$")
  if bearer and config.access_tokens[bearer] then
    return true
  end
  return false
end

return auth
