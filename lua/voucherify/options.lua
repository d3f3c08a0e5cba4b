--- The client options: the table `voucherify.new` takes (see `options`).
--
-- Every option is checked when the client is made: an unknown name, a wrong
-- type or a bad value raises at your line (`voucherify.new: ...`), so a typo
-- never goes unnoticed.  A view (`Client:with`) may change the options each
-- call decides.
-- @module voucherify.options
-- @usage
-- local client = voucherify.new {
--   app_id = os.getenv("VOUCHERIFY_APP_ID"), app_token = os.getenv("VOUCHERIFY_APP_TOKEN"),
--   cluster = "eu", timeout = 10, connect_timeout = 3, max_retries = 3,
--   headers = { ["X-Trace"] = "batch-7" }, channel = "nightly-sync",
--   rate_limit = { requests = 100, per = 60 },
--   on_response = function(info) print(info.method, info.path, info.status, info.elapsed) end,
-- }

-- Inside the library, this module validates and fills in defaults, nothing
-- else: `normalize` returns the client's configuration, the base URL in its
-- canonical form.  What is derived from the credentials, header lines and the
-- secrets errors are scrubbed of, is voucherify.auth's.

local compat = require "voucherify.compat"
local core = require("voucherify.runtime").core
local transport = require "voucherify.transport"

local options = {}

--- The library's version (`voucherify.VERSION`).
-- @local
options.VERSION = "0.1.0"

--- The `cluster` option's regions and their base URLs.
-- @local
options.CLUSTERS = {
  eu = "https://api.voucherify.io",
  us1 = "https://us1.api.voucherify.io",
  as1 = "https://as1.api.voucherify.io",
}

--- The defaults of the options that have one.
-- @local
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
  rate_limit = "table", on_rate_limit_store_error = "function",
}

-- Problems are thrown as { usage = message }; options.normalize turns them into
-- an error at the caller's line, wherever in here they were found.
local function fail(msg)
  error({ usage = msg })
end

-- Headers that frame the message or steer the connection: the transports
-- set them, and one of the caller's would desynchronise the connection.
local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true, host = true, connection = true,
  expect = true, te = true, trailer = true, upgrade = true, ["keep-alive"] = true, ["proxy-connection"] = true }

local function check_header(name, value)
  if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
    fail(("header name %s is not a valid HTTP token"):format(tostring(name)))
  end
  if FRAMING[name:lower()] then
    fail(("header '%s' cannot be set: the transport frames the message itself"):format(name))
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
-- and nothing libcurl or a server would read differently from us (userinfo,
-- spaces, dot segments, broken percent-escapes).  The scheme is case-
-- insensitive (RFC 3986 3.1) and returned in lower case.  The URL is never
-- echoed: it may hold credentials or control bytes.
local function check_base_url(base_url)
  if base_url:find("[%c%s]") then
    fail("'base_url' must not contain whitespace or control characters (CR, LF, NUL, ...)")
  end
  if base_url:find("[?#]") then
    fail("'base_url' must not contain a query ('?') or a fragment ('#')")
  end
  local scheme, rest = base_url:match("^(%a+)://(.*)$")
  scheme = scheme and scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then fail("'base_url' must start with http:// or https://") end
  if base_url:gsub("%%%x%x", ""):find("%", 1, true) then
    fail("'base_url' has a '%' that is not a percent-escape (%XX)")
  end
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
  -- libcurl removes "." and ".." segments (RFC 3986 5.2.4), a server may decode %2E first
  for segment in path:gsub("%%2[eE]", "."):gmatch("[^/]+") do
    if segment == "." or segment == ".." then
      fail("'base_url' has a dot segment ('.' or '..') in its path")
    end
  end
  return scheme .. "://" .. (rest:gsub("/+$", ""))
end

--- The longest timeout the transports take (csrc/http.c refuses more).
-- @local
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

  if opts.rate_limit then
    local problem = require("voucherify.rate_limit").check(opts.rate_limit)
    if problem then fail(problem) end
  end

  -- the choice, the C core it needs, and options the chosen transport cannot honour
  local why = transport.check(opts)
  if why then fail(why) end

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
    core and ("; libcurl/" .. core.curl_version) or "")

  -- every value that goes into a header line (voucherify.auth builds them)
  check_header("User-Agent", user_agent)
  if has_keys then
    check_header("X-App-Id", opts.app_id)
    check_header("X-App-Token", opts.app_token)
  else
    check_header("Authorization", "Bearer " .. opts.access_token)
  end
  if opts.channel then check_header("X-Voucherify-Channel", opts.channel) end
  if opts.api_version then check_header("X-Voucherify-API-Version", opts.api_version) end
  local headers = {}
  if opts.headers then
    for name in pairs(opts.headers) do
      if type(name) ~= "string" then fail("'headers' keys must be header names") end
      headers[#headers + 1] = { name }
    end
    table.sort(headers, function(a, b) return a[1] < b[1] end)
    for _, h in ipairs(headers) do h[2] = check_header(h[1], opts.headers[h[1]]) end
  end

  -- what was given (copied: a later change to the caller's table changes nothing), for views
  local given = {}
  for k, v in pairs(opts) do
    if type(v) == "table" and (k == "headers" or k == "oauth" or k == "rate_limit") then
      local copy = {}
      for field, x in pairs(v) do copy[field] = x end
      v = copy
    end
    given[k] = v
  end

  local d = options.DEFAULTS
  return {
    given = given,
    base_url = base_url,
    app_id = opts.app_id,
    app_token = opts.app_token,
    access_token = opts.access_token,
    oauth = opts.oauth,
    -- the caller's headers: { { name, value }, ... } sorted by name, values as text
    headers = headers,
    channel = opts.channel,
    api_version = opts.api_version,
    user_agent = user_agent,
    transport = opts.transport or "auto",
    on_response = opts.on_response,
    timeout = opts.timeout or d.timeout,
    connect_timeout = opts.connect_timeout or d.connect_timeout,
    max_retries = opts.max_retries or d.max_retries,
    max_retry_delay = opts.max_retry_delay or d.max_retry_delay,
    max_body_size = opts.max_body_size or d.max_body_size,
    verify_tls = opts.verify_tls == nil and d.verify_tls or opts.verify_tls,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
    rate_limit = opts.rate_limit,
    on_rate_limit_store_error = opts.on_rate_limit_store_error,
  }
end

--- Validates `opts` and returns the client's configuration.
-- Raises "voucherify.new: ..." on unknown keys, wrong types, missing
-- credentials or bad header values, blaming `level` (as for `error`, counted
-- from the function calling this one).
-- @local
function options.normalize(opts, level)
  local ok, result = pcall(normalize, opts)
  if ok then return result end
  if type(result) == "table" and result.usage then
    error("voucherify.new: " .. result.usage, level + 1)
  end
  error(result, 0)
end

-- What `client:with` may change: what each call decides for itself.  The
-- rest belongs to the client's connections (transport, TLS, proxy, limits)
-- or its credentials, which a view shares.
local VIEW = { timeout = true, max_retries = true, max_retry_delay = true, headers = true, channel = true,
  api_version = true, user_agent = true, on_response = true }

local function override(config, overrides)
  if type(overrides) ~= "table" then fail("options must be a table (got " .. type(overrides) .. ")") end
  local merged = {}
  for k, v in pairs(config.given) do merged[k] = v end
  for k, v in pairs(overrides) do
    if KNOWN[k] and not VIEW[k] then
      fail(("'%s' cannot be changed in a view: it belongs to the client's connections or credentials,"
        .. " which a view shares (make another client)"):format(k))
    end
    if k == "headers" and type(v) == "table" and type(merged.headers) == "table" then
      -- the view's headers replace the client's of the same name, whatever its case
      local mine, headers = {}, {}
      for name in pairs(v) do if type(name) == "string" then mine[name:lower()] = true end end
      for name, value in pairs(merged.headers) do
        if not mine[name:lower()] then headers[name] = value end
      end
      for name, value in pairs(v) do headers[name] = value end
      v = headers
    end
    merged[k] = v
  end
  return normalize(merged)
end

--- The configuration of a view of a client configured by `config`, with
-- `overrides` (options a call decides: `timeout`, `max_retries`,
-- `max_retry_delay`, `headers`, `channel`, `api_version`, `user_agent`,
-- `on_response`).  Raises "client:with: ..." at `level` like `normalize`.
-- @local
function options.override(config, overrides, level)
  local ok, result = pcall(override, config, overrides)
  if ok then return result end
  if type(result) == "table" and result.usage then
    error("voucherify: client:with: " .. result.usage, level + 1)
  end
  error(result, 0)
end

--- Every option of `voucherify.new`.  Credentials: `app_id` with `app_token`,
-- or `access_token`, or `oauth` (with the app keys); everything else is
-- optional.  The options marked "view" may also be given to `Client:with`.
-- @table options
-- @field app_id string: the project's Application ID, sent as `X-App-Id`
--   (with `app_token`; both non-empty)
-- @field app_token string: the project's secret key, sent as `X-App-Token`.
--   Never shown in an error, its `tostring` or the `on_response` info.
-- @field access_token string: a static OAuth token, sent as
--   `Authorization: Bearer ...` instead of the app keys
-- @field oauth table `{ scope = "api", expires_in = seconds }` (both
--   optional): trade `app_id`/`app_token` for bearer tokens at
--   `POST /v1/oauth/token`, renewed shortly before they expire and once on a
--   401; the app keys then go to the token endpoint alone.  Not with `access_token`.
-- @field base_url string, default `"https://api.voucherify.io"`: any base URL
--   (the fake server, a dedicated region): `http` or `https`, a host,
--   optional port and path; no query, fragment, credentials or dot segments
-- @field cluster string: `"eu"`, `"us1"` or `"as1"`, the regional `base_url`
--   (not with `base_url`)
-- @field timeout number, default 60 (view): seconds for a whole call,
--   retries, their waits, a rate-limit turn and the OAuth token request
--   included (fractions allowed); each attempt gets what is left
-- @field connect_timeout number, default 10: seconds to set up a connection
--   (TCP and TLS)
-- @field max_retries integer, default 2 (view): how many times a failed
--   attempt is repeated, 0 for never.  Any call is repeated after a 429 (the
--   API did not process it) and after a failure before anything was sent (DNS,
--   connection refused, connect timeout).  Only calls safe to repeat
--   (idempotent: GET, PUT, DELETE, creates and upserts that carry `id` or
--   `source_id`; for `Client:request` its `idempotent` field) are repeated
--   after a 502, 503 or 504, a timeout, or a network failure once the request
--   was sent (a dropped connection, an answer that breaks HTTP).  Never
--   repeated: any other status (400, 401, 404, 500, ...), an answer over
--   `max_body_size`, a 429 of the billing cycle (`api_calls_cycle`) or one
--   asking to wait longer than `max_retry_delay`.  So a call that is not
--   idempotent (imports, exports, bulk updates, CSV imports, permanent
--   deletions, creates without `id`/`source_id`) is never repeated once the
--   API may have processed it.  See the retries topic.
-- @field max_retry_delay number, default 30 (view): the longest wait between
--   attempts, in seconds; a `Retry-After` asking for more ends the retries
-- @field max_body_size integer, default 64 MiB: a larger answer (announced,
--   chunked, inflated or downloaded) fails as a `network` error with
--   `reason = "too_large"`; it bounds the memory a decoded answer takes too
-- @field headers table (view): extra request headers, name -> string or
--   number; they replace the library's of the same name.  Framing headers
--   (`Host`, `Content-Length`, ...) and values with CR, LF or NUL raise.
-- @field channel string (view): sent as `X-Voucherify-Channel`
-- @field api_version string (view): sent as `X-Voucherify-API-Version`
-- @field user_agent string (view), default `"voucherify-lua/VERSION (Lua 5.4; libcurl/x.y.z)"`
-- @field ca_file string: a PEM file of CAs to trust besides the system's
--   (libcurl; inside nginx set `lua_ssl_trusted_certificate` instead)
-- @field verify_tls boolean, default true: `false` turns certificate
--   verification off (only for a local test server)
-- @field proxy string or false: a proxy URL; `false` ignores the
--   `http_proxy`/`https_proxy`/`all_proxy` environment variables, which are
--   honoured otherwise, as curl does (libcurl only)
-- @field on_response function(info) (view): called after every request,
--   after its retries, with a `voucherify.client.ResponseInfo`; an error it
--   raises propagates to the call
-- @field rate_limit table `{ requests = n, per = seconds, burst = n, bulk = {
--   requests, per, burst }, store = store }`: wait for a turn before every
--   request so that the plan's limit is never exceeded; see
--   `voucherify.rate_limit`
-- @field on_rate_limit_store_error function(err): called once per outage when
--   a shared rate-limit store (shared dict, Redis) fails; calls go on in the
--   client's own budget
-- @field transport string, function or table, default `"auto"`: how requests
--   go out.  `"auto"`: cosockets inside nginx where they work, libcurl
--   elsewhere; `"curl"`, `"ngx"`: always that one; a `function(request)` or a
--   table with `send(self, request)`: your own.  See the OpenResty topic.
-- @usage
-- -- OAuth tokens for the app keys, a limit shared by every nginx worker
-- local client = voucherify.new { app_id = id, app_token = token, oauth = { scope = "api" },
--   rate_limit = { requests = 300, per = 60, bulk = { requests = 10, per = 60 },
--     store = voucherify.rate_limit.shared_dict(ngx.shared.voucherify) },
--   on_rate_limit_store_error = function(err) ngx.log(ngx.WARN, tostring(err)) end }

return options
