--- Credentials: the header lines that carry them, and the secrets every
-- error and `on_response` info is scrubbed of (voucherify.errors).  Made
-- once per client from its configuration (voucherify.options, which has
-- already checked every value); OAuth hands each token it is issued to
-- `Auth:use_token`, which is the only thing that changes afterwards.
--
-- Fields a request is built from:
--   header_lines         the static lines of every API call: Accept,
--                        User-Agent, the credentials (app keys or a static
--                        bearer token; none with OAuth), channel, API version
--                        and the caller's `headers`, which replace ours by name
--   app_key_lines        X-App-Id and X-App-Token, for the OAuth token endpoint
--   public_header_lines  for links that carry their own token (export
--                        downloads): no credentials at all
--   secrets              the list errors are scrubbed of
-- @module voucherify.auth

local auth = {}

local Auth = {}
Auth.__index = Auth

--- How many OAuth tokens stay in `secrets` (older ones have expired or been
-- refused; the list stays short, and scrubbing cheap).
auth.KEEP_TOKENS = 4

-- header names whose values are credentials
local SECRET_HEADERS = { authorization = true, ["proxy-authorization"] = true, ["x-app-token"] = true,
  cookie = true }

-- environment variables libcurl takes a proxy from (when `proxy` is not given)
local PROXY_VARIABLES = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" }

local floor = math.floor

-- Base64 (RFC 4648, with padding), as in a Basic credential.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64_digit(n)
  return B64:sub(n + 1, n + 1)
end

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = b64_digit(floor(n / 262144)) .. b64_digit(floor(n / 4096) % 64)
      .. (b and b64_digit(floor(n / 64) % 64) or "=") .. (c and b64_digit(n % 64) or "=")
  end
  return table.concat(out)
end

-- the text `s` encodes in base64, or nil when `s` is not base64
local function unbase64(s)
  if #s % 4 ~= 0 or not s:find("^[%w+/]+=?=?$") then return nil end
  local out = {}
  for i = 1, #s, 4 do
    local n = 0
    for j = i, i + 3 do
      n = n * 64 + ((B64:find(s:sub(j, j), 1, true) or 1) - 1) -- "=" counts as 0
    end
    out[#out + 1] = string.char(floor(n / 65536), floor(n / 256) % 256, n % 256)
  end
  local text = table.concat(out)
  return text:sub(1, #text - #s:match("=*$"))
end

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local function bearer(token)
  return "Bearer " .. token
end

--- The header line that sends bearer token `token`.
function auth.bearer_line(token)
  return "Authorization: " .. bearer(token)
end

--- The client's credentials, from its configuration (voucherify.options).
-- @param config the configuration
-- @param[opt] shared a list of secrets to add to instead of a new one (a
--   view of a client shares its client's, OAuth tokens included)
-- @return an Auth object (fields above)
function auth.new(config, shared)
  local self = setmetatable({ secrets = shared or {}, issued = {} }, Auth)

  -- Static header lines, built once.  The caller's headers replace ours by name.
  local lines, index = {}, {}
  local function set(name, value)
    local key, line = name:lower(), name .. ": " .. value
    if index[key] then lines[index[key]] = line else
      lines[#lines + 1] = line
      index[key] = #lines
    end
  end
  set("Accept", "application/json")
  set("User-Agent", config.user_agent)
  self.app_key_lines = {}
  if config.app_id then
    self.app_key_lines = { "X-App-Id: " .. config.app_id, "X-App-Token: " .. config.app_token }
    -- with OAuth the app keys go only to the token endpoint
    if not config.oauth then
      set("X-App-Id", config.app_id)
      set("X-App-Token", config.app_token)
    end
  else
    set("Authorization", bearer(config.access_token))
  end
  if config.channel then set("X-Voucherify-Channel", config.channel) end
  if config.api_version then set("X-Voucherify-API-Version", config.api_version) end
  for _, header in ipairs(config.headers) do set(header[1], header[2]) end
  self.header_lines = lines
  self.public_header_lines = { "Accept: */*", "User-Agent: " .. config.user_agent }

  -- What must never show in an error or a log line: the credentials, in
  -- every form a server or a proxy may echo them back.
  local secrets, seen = self.secrets, {}
  -- a view adds to its client's list: what is there already is not added twice
  for _, s in ipairs(secrets) do seen[s] = true end
  local function secret(s)
    if type(s) == "string" and s ~= "" and not seen[s] then
      seen[s] = true
      secrets[#secrets + 1] = s
    end
  end
  -- "user:password" of a Basic credential, its password, and the header value
  -- libcurl sends for it
  local function basic(user, password)
    secret(user .. ":" .. password)
    secret(password)
    secret(base64(user .. ":" .. password))
  end
  secret(config.app_token)
  secret(config.access_token)
  for _, header in ipairs(config.headers) do
    if SECRET_HEADERS[header[1]:lower()] then
      local value = header[2]
      secret(value)
      local scheme, credentials = value:match("^(%S+)%s+(.+)$") -- after "Bearer ", "Basic "
      secret(credentials)
      local decoded = scheme and scheme:lower() == "basic" and unbase64(credentials)
      if decoded then
        secret(decoded)
        secret(decoded:match(":(.+)$"))
      end
    end
  end
  -- A proxy URL's userinfo, as written (percent-encoded) and as libcurl
  -- decodes it into the Proxy-Authorization header it sends.
  local proxies = { config.proxy }
  if config.proxy == nil then
    for _, name in ipairs(PROXY_VARIABLES) do proxies[#proxies + 1] = os.getenv(name) end
  end
  for _, proxy in ipairs(proxies) do
    local userinfo = type(proxy) == "string" and proxy:match("^%a[%w+.-]*://([^/?#]*)@")
    if userinfo then
      secret(userinfo)
      local user, password = userinfo:match("^([^:]*):(.*)$")
      secret(password)
      basic(percent_decode(user or userinfo), percent_decode(password or ""))
    end
  end
  return self
end

--- Makes `token`, an OAuth bearer token just issued, a secret (the oldest
-- issued beyond `auth.KEEP_TOKENS` stops being one).
-- @return the header line that sends it
function Auth:use_token(token)
  local secrets, issued = self.secrets, self.issued
  secrets[#secrets + 1] = token
  issued[#issued + 1] = token
  if #issued > auth.KEEP_TOKENS then
    local oldest = table.remove(issued, 1)
    for i = #secrets, 1, -1 do
      if secrets[i] == oldest then
        table.remove(secrets, i)
        break
      end
    end
  end
  return auth.bearer_line(token)
end

return auth
