--- Client options: validation, defaults, and the per-client constants
-- derived from them (base URL, static header lines, secrets to scrub).
-- @module voucherify.options

local compat = require "voucherify.compat"
local has_core, core = pcall(require, "voucherify.core")

local options = {}

options.VERSION = "0.1.0"

options.CLUSTERS = {
  eu = "https://api.voucherify.io",
  us1 = "https://us1.api.voucherify.io",
  as1 = "https://as1.api.voucherify.io",
}

options.DEFAULTS = {
  base_url = "https://api.voucherify.io",
  timeout = 60,
  connect_timeout = 10,
  max_retries = 2,
  max_retry_delay = 30,
  max_body_size = 64 * 1024 * 1024,
  verify_tls = true,
}

-- option name -> expected type
local KNOWN = {
  app_id = "string", app_token = "string", access_token = "string",
  base_url = "string", cluster = "string",
  timeout = "number", connect_timeout = "number",
  max_retries = "number", max_retry_delay = "number", max_body_size = "number",
  headers = "table", channel = "string", api_version = "string", user_agent = "string",
  ca_file = "string", verify_tls = "boolean", proxy = "proxy",
  oauth = "table", on_response = "function", transport = "any",
}

-- header names whose values are credentials
local SECRET_HEADERS = { authorization = true, ["proxy-authorization"] = true, ["x-app-token"] = true,
  cookie = true }

-- Problems are thrown as { usage = message }; options.check turns them into
-- an error at the caller's line, wherever in here they were found.
local function fail(msg)
  error({ usage = msg })
end

local function check_header(name, value)
  if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
    fail(("header name %s is not a valid HTTP token"):format(tostring(name)))
  end
  if type(value) ~= "string" and type(value) ~= "number" then
    fail(("header '%s' must be a string or number (got %s)"):format(name, type(value)))
  end
  value = tostring(value)
  if value:find("[\r\n%z]") then
    fail(("header '%s' contains CR, LF or NUL"):format(name))
  end
  return value
end

-- RFC 3986 characters of an authority (reg-name, IPv4, [IPv6], port) and of a path
local AUTHORITY = "^[%w%-%._~%%!$&'()*+,;=:%[%]]+$"
local PATH = "^[%w%-%._~%%!$&'()*+,;=:@/]*$"

-- The base URL that paths are appended to: scheme, host, optional port and
-- path prefix, nothing a request path would land after (a query, a fragment)
-- and nothing libcurl would read differently from us (userinfo, spaces).
-- The URL is never echoed: it may hold credentials or control bytes.
local function check_base_url(base_url)
  if base_url:find("[%c%s]") then
    fail("'base_url' must not contain whitespace or control characters (CR, LF, NUL, ...)")
  end
  if base_url:find("[?#]") then
    fail("'base_url' must not contain a query ('?') or a fragment ('#')")
  end
  local rest = base_url:match("^https?://(.*)$")
  if not rest then fail("'base_url' must start with http:// or https://") end
  local authority, path = rest:match("^([^/]*)(.*)$")
  if authority:find("@", 1, true) then fail("'base_url' must not contain credentials (user@)") end
  local host, port = authority:match("^(%[[^%]]*%])(.*)$")
  if not host then host, port = authority:match("^([^:]*)(.*)$") end
  if host == "" or host == "[]" then fail("'base_url' has no host") end
  if not authority:match(AUTHORITY) or not (port == "" or port:match("^:%d+$")) then
    fail("'base_url' has an invalid host or port")
  end
  if port ~= "" and not (tonumber(port:sub(2)) >= 1 and tonumber(port:sub(2)) <= 65535) then
    fail("'base_url' has a port outside 1-65535")
  end
  if not path:match(PATH) then fail("'base_url' has characters a URL path cannot hold") end
  return (base_url:gsub("/+$", ""))
end

-- the longest timeout the transports take (csrc/http.c refuses more)
options.MAX_TIMEOUT = 86400 * 365

local function positive(opts, name)
  local v = opts[name]
  if v ~= nil and not (v > 0 and v <= options.MAX_TIMEOUT) then
    fail(("'%s' must be a positive number of seconds, at most a year (got %s)"):format(name, tostring(v)))
  end
end

local function normalize(opts)
  if type(opts) ~= "table" then fail("options must be a table (got " .. type(opts) .. ")") end
  for k, v in pairs(opts) do
    local want = KNOWN[k]
    if not want then
      local names = {}
      for n in pairs(KNOWN) do names[#names + 1] = n end
      table.sort(names)
      fail(("unknown option '%s' (known: %s)"):format(tostring(k), table.concat(names, ", ")))
    end
    if want == "proxy" then
      if type(v) ~= "string" and v ~= false then
        fail(("option 'proxy' must be a string or false (got %s)"):format(v == true and "true" or type(v)))
      end
    elseif want ~= "any" and type(v) ~= want then
      fail(("option '%s' must be a %s (got %s)"):format(k, want, type(v)))
    end
  end

  local has_keys = opts.app_id ~= nil or opts.app_token ~= nil
  if has_keys and not (opts.app_id and opts.app_token and opts.app_id ~= "" and opts.app_token ~= "") then
    fail("'app_id' and 'app_token' go together and must be non-empty")
  end
  if not has_keys and not (opts.access_token and opts.access_token ~= "") then
    fail("credentials missing: give 'app_id' and 'app_token', or 'access_token'")
  end
  if opts.oauth then
    if not has_keys then fail("'oauth' needs 'app_id' and 'app_token' to obtain its tokens") end
    if opts.access_token then fail("give 'access_token' or 'oauth', not both") end
    for k, v in pairs(opts.oauth) do
      if k == "scope" then
        if type(v) ~= "string" then fail("'oauth.scope' must be a string") end
      elseif k == "expires_in" then
        if compat.tointeger(v) == nil or v <= 0 then fail("'oauth.expires_in' must be a positive integer") end
      else
        fail(("unknown option 'oauth.%s' (known: expires_in, scope)"):format(tostring(k)))
      end
    end
  end

  local base_url = opts.base_url
  if opts.cluster then
    if base_url then fail("give 'base_url' or 'cluster', not both") end
    base_url = options.CLUSTERS[opts.cluster]
    if not base_url then
      fail(("unknown cluster '%s' (known: as1, eu, us1)"):format(opts.cluster))
    end
  end
  base_url = check_base_url(base_url or options.DEFAULTS.base_url)
  if type(opts.proxy) == "string" and opts.proxy:find("[%c%s]") then
    fail("'proxy' must not contain whitespace or control characters")
  end

  local transport = opts.transport or "auto"
  if not (transport == "auto" or transport == "curl" or transport == "ngx" or type(transport) == "function"
      or (type(transport) == "table" and type(transport.send) == "function")) then
    fail("'transport' must be \"auto\", \"curl\", \"ngx\", a function(request) or a table with send()")
  end
  if transport == "curl" and not has_core then
    fail("transport \"curl\" needs the C core (voucherify.core), which is not installed for this Lua")
  end

  positive(opts, "timeout")
  positive(opts, "connect_timeout")
  if opts.max_retries ~= nil and (compat.tointeger(opts.max_retries) == nil or opts.max_retries < 0) then
    fail("'max_retries' must be a non-negative integer")
  end
  local delay = opts.max_retry_delay
  if delay ~= nil and (delay ~= delay or delay < 0) then
    fail("'max_retry_delay' must be a non-negative number of seconds")
  end
  if opts.max_body_size ~= nil and (compat.tointeger(opts.max_body_size) == nil or opts.max_body_size < 1) then
    fail("'max_body_size' must be a positive integer (bytes)")
  end

  local jit = rawget(_G, "jit")
  local runtime = jit and jit.version or _VERSION
  local user_agent = opts.user_agent or ("voucherify-lua/%s (%s%s)"):format(options.VERSION, runtime,
    has_core and ("; libcurl/" .. core.curl_version) or "")

  -- Static header lines, built once.  User headers replace ours by name.
  local headers, index = {}, {}
  local function set(name, value)
    value = check_header(name, value)
    local key = name:lower()
    local line = name .. ": " .. value
    if index[key] then headers[index[key]] = line else
      headers[#headers + 1] = line
      index[key] = #headers
    end
  end
  set("Accept", "application/json")
  set("User-Agent", user_agent)
  -- with OAuth the app keys go only to the token endpoint
  local app_key_lines = {}
  if has_keys then
    app_key_lines = { "X-App-Id: " .. check_header("X-App-Id", opts.app_id),
      "X-App-Token: " .. check_header("X-App-Token", opts.app_token) }
    if not opts.oauth then
      set("X-App-Id", opts.app_id)
      set("X-App-Token", opts.app_token)
    end
  else
    set("Authorization", "Bearer " .. opts.access_token)
  end
  if opts.channel then set("X-Voucherify-Channel", opts.channel) end
  if opts.api_version then set("X-Voucherify-API-Version", opts.api_version) end
  if opts.headers then
    local names = {}
    for name in pairs(opts.headers) do
      if type(name) ~= "string" then fail("'headers' keys must be header names") end
      names[#names + 1] = name
    end
    table.sort(names)
    for _, name in ipairs(names) do set(name, opts.headers[name]) end
  end

  -- for links that carry their own token (export downloads): no credentials
  local public_headers = { "Accept: */*", "User-Agent: " .. user_agent }

  -- what must never show in an error or a log line: the credentials, and
  -- any the caller put in headers or in the proxy URL
  local secrets = {}
  local function secret(s)
    if type(s) == "string" and s ~= "" then secrets[#secrets + 1] = s end
  end
  secret(opts.app_token)
  secret(opts.access_token)
  for name, value in pairs(opts.headers or {}) do
    if SECRET_HEADERS[name:lower()] then
      value = tostring(value)
      secret(value)
      secret(value:match("^%S+%s+(.+)$")) -- the credentials after "Bearer ", "Basic "
    end
  end
  local userinfo = type(opts.proxy) == "string" and opts.proxy:match("^%a[%w+.-]*://([^/@]+)@")
  if userinfo then
    secret(userinfo)
    secret(userinfo:match(":(.+)$"))
  end

  local d = options.DEFAULTS
  return {
    base_url = base_url,
    header_lines = headers,
    app_key_lines = app_key_lines,
    oauth = opts.oauth,
    transport = transport,
    on_response = opts.on_response,
    public_header_lines = public_headers,
    secrets = secrets,
    timeout = opts.timeout or d.timeout,
    connect_timeout = opts.connect_timeout or d.connect_timeout,
    max_retries = opts.max_retries or d.max_retries,
    max_retry_delay = opts.max_retry_delay or d.max_retry_delay,
    max_body_size = opts.max_body_size or d.max_body_size,
    verify_tls = opts.verify_tls == nil and d.verify_tls or opts.verify_tls,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
    user_agent = user_agent,
  }
end

--- Validates `opts` and returns the client's configuration.
-- Raises "voucherify.new: ..." on unknown keys, wrong types, missing
-- credentials or bad header values, blaming `level` (as for `error`, counted
-- from the function calling this one).
function options.normalize(opts, level)
  local ok, result = pcall(normalize, opts)
  if ok then return result end
  if type(result) == "table" and result.usage then
    error("voucherify.new: " .. result.usage, level + 1)
  end
  error(result, 0)
end

return options
