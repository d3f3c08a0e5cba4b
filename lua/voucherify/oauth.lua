--- OAuth 2.0 client credentials: trades the app keys for a bearer token at
-- POST /v1/oauth/token, renews it shortly before it expires, and once more
-- when the API answers 401 to it.
--
-- A token goes into a header line, so it must be one line of visible ASCII
-- (bytes 0x21-0x7E); a token response that does not give one is a "decode"
-- error (the body is not what the API documents) that never shows the token
-- nor the body.  So is a token shorter than errors.MIN_SECRET: no real
-- token is that short, and one that short could not be scrubbed from every
-- text.  Every token issued joins the client's secrets (voucherify.auth)
-- before the `on_response` hook sees its response.
-- @module voucherify.oauth

local clock = require "voucherify.clock"
local datetime = require "voucherify.datetime"
local errors = require "voucherify.errors"
local url = require "voucherify.url"

local oauth = {}

local Tokens = {}
Tokens.__index = Tokens

--- Renew this long before expiry (seconds), or a tenth of the lifetime if shorter.
oauth.MARGIN = 60

local VISIBLE_ASCII = "^[\33-\126]+$"

--- A token source.
-- @tparam table settings the `oauth` option: `scope`, `expires_in`
-- @param credentials the client's voucherify.auth object (app keys, secrets)
-- @param send function(call) -> result, err, response: sends a call without OAuth
function oauth.new(settings, credentials, send)
  return setmetatable({ settings = settings, auth = credentials, send = send, line = nil, renew_at = 0 }, Tokens)
end

local function lifetime(body)
  local secs = tonumber(body.expires_in)
  if secs then return secs end
  local at = datetime.parse(body.expires_at)
  if at then return at / 1000 - os.time() end
  return 900
end

-- Keeps `token` as the one to send, and out of every error and log line.
function Tokens:adopt(token, ttl)
  self.line = self.auth:use_token(token)
  self.renew_at = clock.now() + ttl - math.min(oauth.MARGIN, ttl / 10)
end

-- Vets one answer of the token endpoint (runs inside the client's send, before
-- the retry decision and the on_response hook).  A 2xx answer that gives no
-- usable token becomes a "decode" error without the body; whatever looks like
-- the token goes into `hidden`, the call's own secrets, so that neither the
-- error nor the hook shows it.
function Tokens:vet(result, err, res, req, hidden)
  if not res or res.status < 200 or res.status >= 300 then return result, err end
  local candidate, why
  if err then
    -- not JSON: a token may still be in there
    candidate = type(err.body) == "string" and err.body:match('"access_token"%s*:%s*"([^"]*)') or nil
    why = "is not valid JSON"
  elseif type(result) ~= "table" then
    candidate, why = result, "is not a JSON object"
  else
    candidate = result.access_token
    if type(candidate) ~= "string" or candidate == "" then
      why = "has no access_token"
    elseif not candidate:match(VISIBLE_ASCII) then
      why = "has an access_token that is not one line of visible ASCII (bytes 0x21-0x7E)"
    elseif #candidate < errors.MIN_SECRET then
      why = ("has an access_token shorter than %d characters"):format(errors.MIN_SECRET)
    else
      self:adopt(candidate, lifetime(result))
      return result, nil
    end
  end
  if type(candidate) == "string" then hidden[#hidden + 1] = candidate end
  return nil, errors.new({ kind = "decode", status = res.status, method = req.method, url = req.url,
    attempts = res.attempts, message = "the OAuth token response " .. why }, self.auth.secrets, hidden)
end

--- Fetches a new token.
-- @param[opt] deadline the clock.now() time by which the call must be over
-- @return true, or nil, err, response
function Tokens:refresh(deadline)
  local settings = self.settings
  local form = { { "grant_type", "client_credentials" }, { "scope", settings.scope or "api" } }
  if settings.expires_in then form[#form + 1] = { "expires_in", settings.expires_in } end
  local hidden = {}
  local body, err, res = self.send {
    method = "POST", path = { "v1", "oauth", "token" }, body = url.query(form),
    content_type = "application/x-www-form-urlencoded", app_keys = true,
    deadline = deadline, secrets = hidden,
    vet = function(result, e, r, req) return self:vet(result, e, r, req, hidden) end,
  }
  if not body then return nil, err, res end
  return true
end

--- The Authorization header line for the next request, renewing the token when due.
-- @param[opt] deadline the clock.now() time by which the call must be over
-- @return the header line, or nil, err, response
function Tokens:header(deadline)
  -- one token request at a time: the tasks of a `map` that need a token
  -- while another fetches it wait for that one
  while self.refreshing and clock.now() < (deadline or math.huge) do clock.sleep(0.01) end
  if not self.line or clock.now() >= self.renew_at then
    self.refreshing = true
    local done, ok, err, res = pcall(self.refresh, self, deadline)
    self.refreshing = nil
    if not done then error(ok, 0) end -- a hook raised: the same error, unchanged
    if not ok then return nil, err, res end
  end
  return self.line
end

--- Forgets the token (the API refused it).
function Tokens:invalidate()
  self.line = nil
end

return oauth
