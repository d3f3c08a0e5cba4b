--- OAuth 2.0 client credentials: trades the app keys for a bearer token at
-- POST /v1/oauth/token, renews it shortly before it expires, and once more
-- when the API answers 401 to it.
-- @module voucherify.oauth

local clock = require "voucherify.clock"
local datetime = require "voucherify.datetime"
local url = require "voucherify.url"

local oauth = {}

local Tokens = {}
Tokens.__index = Tokens

--- Renew this long before expiry (seconds), or a tenth of the lifetime if shorter.
oauth.MARGIN = 60
--- How many issued tokens are kept in the list of secrets to scrub.
oauth.KEEP_SECRETS = 4

--- A token source for `config` (its `oauth` settings and app keys).
-- @param send function(call) -> result, err, response: sends a call without OAuth
function oauth.new(config, send)
  return setmetatable({ config = config, send = send, token = nil, renew_at = 0 }, Tokens)
end

local function lifetime(body)
  local secs = tonumber(body.expires_in)
  if secs then return secs end
  local at = datetime.parse(body.expires_at)
  if at then return at / 1000 - os.time() end
  return 900
end

--- Fetches a new token.
-- @return true, or nil, err, response
function Tokens:refresh()
  local settings = self.config.oauth
  local form = { { "grant_type", "client_credentials" }, { "scope", settings.scope or "api" } }
  if settings.expires_in then form[#form + 1] = { "expires_in", settings.expires_in } end
  local body, err, res = self.send {
    method = "POST", path = { "v1", "oauth", "token" }, body = url.query(form),
    content_type = "application/x-www-form-urlencoded", app_keys = true,
  }
  if not body then return nil, err, res end
  if type(body) ~= "table" or type(body.access_token) ~= "string" or body.access_token == "" then
    local errors = require "voucherify.errors"
    return nil, errors.new({ kind = "decode", status = res and res.status,
      message = "the OAuth token response has no access_token" }, self.config.secrets), res
  end
  local ttl = lifetime(body)
  self.token = body.access_token
  self.renew_at = clock.now() + ttl - math.min(oauth.MARGIN, ttl / 10)
  -- never let the token reach an error or a log line; the last few issued
  -- are enough (older ones have expired), so the list stays short
  local secrets = self.config.secrets
  secrets[#secrets + 1] = body.access_token
  self.issued = self.issued or {}
  table.insert(self.issued, body.access_token)
  if #self.issued > oauth.KEEP_SECRETS then
    local oldest = table.remove(self.issued, 1)
    for i = #secrets, 1, -1 do
      if secrets[i] == oldest then table.remove(secrets, i) break end
    end
  end
  return true
end

--- The Authorization header line for the next request, renewing the token when due.
-- @return the header line, or nil, err, response
function Tokens:header()
  if not self.token or clock.now() >= self.renew_at then
    local ok, err, res = self:refresh()
    if not ok then return nil, err, res end
  end
  return "Authorization: Bearer " .. self.token
end

--- Forgets the token (the API refused it).
function Tokens:invalidate()
  self.token = nil
end

return oauth
