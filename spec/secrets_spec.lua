-- No credential in an error object, its tostring, or the on_response info:
-- for every kind of credential, a server that echoes it back in every field
-- of its error body and in its headers, and a walk over every string the
-- error (or the hook's argument) carries, nested tables and keys included.
local voucherify = require "voucherify"
local fake_server = require "fake_server"

-- every string reachable from `v` (keys, values, nested tables), with a path
local function strings(v, path, out, seen)
  if type(v) == "string" then
    out[#out + 1] = { path, v }
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in next, v do
      strings(k, path .. "[key]", out, seen)
      strings(x, path .. "." .. tostring(k), out, seen)
    end
  end
  return out
end

-- asserts that nothing reachable from `v` (and its tostring) holds a secret
local function assert_clean(label, v, secrets)
  local found = strings(v, label, {}, {})
  if voucherify.is_error(v) then found[#found + 1] = { label .. " (tostring)", tostring(v) } end
  assert.is_true(#found > 0, label .. ": nothing to check")
  for _, s in ipairs(found) do
    for _, secret in ipairs(secrets) do
      assert.is_nil(s[2]:find(secret, 1, true), ("%s holds a credential: %q"):format(s[1], s[2]))
    end
  end
end

-- a fault whose answer carries `secret` in every field of Voucherify's error
-- body (details as a nested table, the secret as a key too) and in headers
local function echo(secret, path)
  return { path = path, status = 400, headers = { ["X-Request-Id"] = secret, ["X-Echo"] = secret },
    body = { code = 400, key = secret, message = "bad " .. secret, request_id = secret,
      resource_id = secret, resource_type = secret, error = { message = "rule: " .. secret },
      details = { note = secret, list = { secret, { deeper = secret } }, [secret] = true } } }
end

describe("secrets", function()
  local server, infos

  fake_server.suite(function(s) server = s end)
  before_each(function() infos = {} end)

  local function hook(info) infos[#infos + 1] = info end

  local function client(extra)
    local o = server:client_options { on_response = hook, max_retries = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    if o.access_token then o.app_id, o.app_token = nil, nil end
    return voucherify.new(o)
  end

  -- the error and every hook argument so far hold none of `secrets`
  local function check(label, err, secrets)
    assert.is_true(voucherify.is_error(err), label)
    assert_clean(label, err, secrets)
    assert.is_true(#infos > 0, "no on_response call")
    for i, info in ipairs(infos) do assert_clean(label .. " info " .. i, info, secrets) end
  end

  -- the OAuth token the server saw in the last API request
  local function last_bearer()
    local log = server:requests()
    return log[#log].headers["authorization"]:match("^Bearer (%S+)$")
  end

  it("app_token", function()
    local c = client()
    server:faults { echo(fake_server.APP_TOKEN) }
    local _, err = c.orders:get("x")
    c:close()
    assert.are.equal(400, err.status)
    check("app_token", err, { fake_server.APP_TOKEN })
  end)

  it("static access_token", function()
    local c = client { access_token = fake_server.ACCESS_TOKEN }
    server:faults { echo(fake_server.ACCESS_TOKEN) }
    local _, err = c.orders:get("x")
    c:close()
    assert.are.equal(400, err.status)
    check("access_token", err, { fake_server.ACCESS_TOKEN })
  end)

  it("a credential inside a header the caller set", function()
    local c = client { headers = { Authorization = "Bearer caller-s3cret-value" } }
    server:faults { echo("caller-s3cret-value") }
    local _, err = c.orders:get("x")
    c:close()
    check("headers.Authorization", err, { "caller-s3cret-value" })
  end)

  it("OAuth tokens, the one in use and one replaced after a 401", function()
    local c = client { oauth = { scope = "api" } }
    assert(c.orders:list())
    local old = last_bearer()
    server:revoke_tokens()
    assert(c.orders:list()) -- a 401, a new token, the list
    local fresh = last_bearer()
    assert.are_not.equal(old, fresh)
    server:faults { echo(fresh .. " " .. old) }
    local _, err = c.orders:get("x")
    c:close()
    assert.are.equal(400, err.status)
    check("oauth", err, { fresh, old })
  end)

  it("OAuth token: echoed in a header of the token response itself, then in an error", function()
    local token = "oauth_echoed_in_its_own_response_42"
    local c = client { oauth = { scope = "api" } }
    server:faults { { path = "/v1/oauth/token", status = 200, headers = { ["X-Request-Id"] = token },
      body = { access_token = token, token_type = "bearer", expires_in = 900 } }, echo(token, "/v1/orders") }
    local list, err = c.orders:list()
    c:close()
    assert.is_nil(list)
    assert.are.equal(400, err.status)
    assert.are.equal(2, #infos)
    check("oauth echoed", err, { token })
  end)

  it("OAuth token: the fresh token in a token response that is not valid JSON", function()
    local token = "oauth_fresh_but_malformed_0123"
    local c = client { oauth = { scope = "api" } }
    server:faults { { path = "/v1/oauth/token", status = 200, headers = { ["X-Request-Id"] = token },
      body = '{"access_token":"' .. token .. '","expires_in":' } }
    local list, err = c.orders:list()
    c:close()
    assert.is_nil(list)
    assert.are.equal("decode", err.kind)
    check("oauth malformed", err, { token })
  end)

  it("download token", function()
    local token = "dl0123456789abcdef"
    local c = client()
    server:faults { echo(token, "/v1/download/exp_1") }
    local text, err = c.exports:download { id = "exp_1", status = "DONE",
      result = { url = server.url .. "/v1/download/exp_1?token=" .. token } }
    c:close()
    assert.is_nil(text)
    assert.are.equal(400, err.status)
    check("download token", err, { token })
  end)

  it("a FAILED async action that echoes a credential, without changing the caller's action", function()
    local c = client()
    local job = assert(c.orders:import { { source_id = "a1" } })
    server:fail_job(job.async_action_id)
    local seen = {}
    -- the server's action carries the token; on_progress keeps the objects it was given
    server:faults { { path = "/v1/async-actions/" .. job.async_action_id, status = 200,
      body = { id = job.async_action_id, status = "FAILED", object = "async_action",
        result = { message = "failed for " .. fake_server.APP_TOKEN } } } }
    local action, err = c.async_actions:wait(job, { interval = 0.01, on_progress = function(a)
      seen[#seen + 1] = a
    end })
    c:close()
    assert.is_nil(action)
    assert.are.equal("async", err.kind)
    check("async", err, { fake_server.APP_TOKEN })
    assert.are.equal("FAILED", err.action.status)
    assert.truthy(seen[1].result.message:find(fake_server.APP_TOKEN, 1, true), "the caller's object was changed")
  end)
end)

describe("an OAuth token that is not one line of visible ASCII", function()
  local server

  fake_server.suite(function(s) server = s end)

  local bad_tokens = {
    { "CR LF (header injection)", "oauth_abc\r\nX-Injected: yes" },
    { "LF", "oauth_abc\nX-Injected: yes" },
    { "a space", "oauth_abc def" },
    { "a NUL", "oauth_abc\0def" },
    { "non-ASCII", "oauth_abcd\195\169f" },
    { "a DEL", "oauth_abcd\127" },
  }
  for _, case in ipairs(bad_tokens) do
    it("fails with a decode error that does not show it: " .. case[1], function()
      local token = case[2]
      local c = voucherify.new(server:client_options { oauth = {}, max_retries = 0 })
      server:faults { { path = "/v1/oauth/token", status = 200,
        body = { access_token = token, token_type = "bearer", expires_in = 900 } } }
      local list, err, res = c.orders:list()
      c:close()
      assert.is_nil(list)
      assert.are.equal("decode", err.kind)
      assert.are.equal(200, err.status)
      assert.are.equal(200, res.status)
      assert.truthy(err.message:find("access_token", 1, true), err.message)
      assert.truthy(err.message:find("visible ASCII", 1, true), err.message)
      assert_clean("err", err, { token, "oauth_abc" })
      -- only the token request reached the server: nothing was sent with the token
      local log = server:requests()
      assert.are.equal(1, #log)
      assert.are.equal("/v1/oauth/token", log[1].path)
      for _, r in ipairs(log) do assert.is_nil(r.headers["x-injected"]) end
    end)
  end
end)

describe("secrets a server echoes back in a body that is kept as text", function()
  local raw_server = require "support.raw_server"
  local LUA = os.getenv("LUA") or "lua5.4"

  -- Answers every request with `status` and a body echoing the request's
  -- header lines: as text, or (json = true) as PHP's json_encode writes them ('/' as '\/').
  local function echo_server(status, extra_header, json)
    return raw_server.start(([[
local STATUS, EXTRA, JSON = %d, %q, %s
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { target = req.target, headers = req.headers }
    local body = table.concat(req.header_lines, "\r\n")
    local ctype = "text/plain"
    if JSON then
      body = '{"message":"denied","headers":' .. ctx.json.encode(req.header_lines):gsub("/", "\\/") .. "}"
      ctype = "application/json"
    end
    conn:write(("HTTP/1.1 %%d Echo\r\n%%sContent-Type: %%s\r\nContent-Length: %%d\r\n\r\n%%s")
      :format(STATUS, EXTRA, ctype, #body, body))
    conn:flush()
  end
end
]]):format(status, extra_header or "", json and "true" or "false"))
  end

  local srv
  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  -- the error of one call through a client made with `opts`, and the hook's infos
  local function call(opts)
    local infos = {}
    opts.on_response = function(info) infos[#infos + 1] = info end
    opts.max_retries = 0
    opts.transport = "curl"
    local c = voucherify.new(opts)
    local _, err = c.orders:get("o1")
    c:close()
    assert.is_true(voucherify.is_error(err), tostring(err))
    assert.are.equal(1, #infos)
    return err, infos[1]
  end

  local function assert_all_clean(label, err, info, secrets)
    assert_clean(label, err, secrets)
    assert_clean(label .. " info", info, secrets)
  end

  it("a bearer token with '/' echoed as '\\/' (PHP's json_encode)", function()
    local token = "tok/en+with=slash/0"
    srv = echo_server(400, nil, true)
    local err, info = call { access_token = token, base_url = srv.url }
    assert.are.equal(400, err.status)
    assert.truthy(err.body:find("Bearer ", 1, true), err.body)
    assert_all_clean("escaped bearer", err, info, { token, "tok\\/en+with=slash\\/0", "en+with" })
  end)

  -- Through a proxy (the echo server, answering 407) with `userinfo`: the
  -- error, the hook's info, and the Proxy-Authorization header the proxy got.
  local function through_proxy(userinfo)
    srv = echo_server(407, 'Proxy-Authenticate: Basic realm="p"\r\n')
    local err, info = call { app_id = "id", app_token = "token-value", base_url = "http://voucherify.invalid",
      proxy = "http://" .. userinfo .. "@" .. srv.url:match("^http://(.*)$") }
    assert.are.equal(407, err.status)
    return err, info, srv:requests()[1].headers["proxy-authorization"]
  end

  it("proxy credentials, as the Basic header libcurl builds from them (a 407 echoing it)", function()
    local err, info, sent = through_proxy("user:s3cretpass")
    -- the proxy got the credentials, and the error shows the header without them
    assert.are.equal("Basic dXNlcjpzM2NyZXRwYXNz", sent)
    assert.truthy(err.body:find("Proxy-Authorization: Basic [redacted]", 1, true), err.body)
    assert_all_clean("proxy", err, info, { "dXNlcjpzM2NyZXRwYXNz", "s3cretpass", "token-value" })
  end)

  it("a percent-encoded proxy password, as libcurl decodes it", function()
    local err, info, sent = through_proxy("user:s3cret%40pass")
    assert.are.equal("Basic dXNlcjpzM2NyZXRAcGFzcw==", sent)
    assert_all_clean("proxy %40", err, info, { "dXNlcjpzM2NyZXRAcGFzcw", "s3cret@pass", "s3cret%40pass" })
  end)

  it("proxy credentials from http_proxy in the environment", function()
    srv = echo_server(407, 'Proxy-Authenticate: Basic realm="p"\r\n')
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local voucherify = require "voucherify"
local c = voucherify.new { app_id = "id", app_token = "token-value", base_url = "http://voucherify.invalid",
  max_retries = 0, transport = "curl" }
local _, err = c.orders:get("o1")
io.write(tostring(err.status), "\n", err.body, "\n", tostring(err))
]])
    f:close()
    local proxy = srv.url:gsub("^http://", "http://user:s3cretpass@")
    local p = assert(io.popen(("env http_proxy=%s HTTP_PROXY= https_proxy= HTTPS_PROXY= all_proxy= ALL_PROXY="
      .. " no_proxy= NO_PROXY= %s %s 2>&1"):format(proxy, LUA, script)))
    local out = p:read("a")
    p:close()
    os.remove(script)
    assert.truthy(out:find("^407\n"), out)
    assert.are.equal("Basic dXNlcjpzM2NyZXRwYXNz", srv:requests()[1].headers["proxy-authorization"])
    assert.is_nil(out:find("dXNlcjpzM2NyZXRwYXNz", 1, true), out)
    assert.is_nil(out:find("s3cretpass", 1, true), out)
  end)

  it("Basic credentials the caller put in headers, echoed as sent", function()
    srv = echo_server(400)
    local basic = "YWxpY2U6d29uZGVyLXBhc3M=" -- alice:wonder-pass
    local err, info = call { app_id = "id", app_token = "token-value", base_url = srv.url,
      headers = { Authorization = "Basic " .. basic } }
    assert.are.equal("Basic " .. basic, srv:requests()[1].headers["authorization"])
    assert_all_clean("basic", err, info, { basic, "token-value" })
  end)

  it("a short app token, in the header line a server echoes", function()
    srv = echo_server(401)
    local err, info = call { app_id = "id", app_token = "k9Z", base_url = srv.url }
    assert.are.equal("k9Z", srv:requests()[1].headers["x-app-token"])
    assert.truthy(err.body:find("X-App-Token: [redacted]", 1, true), err.body)
    assert_all_clean("short app token", err, info, { "X-App-Token: k9Z" })
  end)

  it("a short static access token, in the header line a server echoes", function()
    srv = echo_server(401)
    local err, info = call { access_token = "k9Z", base_url = srv.url }
    assert.truthy(err.body:find("Authorization: Bearer [redacted]", 1, true), err.body)
    assert_all_clean("short access token", err, info, { "Bearer k9Z" })
  end)
end)

describe("secrets derived from credentials, echoed by the API", function()
  local server
  fake_server.suite(function(s) server = s end)

  local function failed_call(opts)
    local infos = {}
    local o = server:client_options { max_retries = 0, on_response = function(i) infos[#infos + 1] = i end }
    for k, v in pairs(opts) do o[k] = v end
    local c = voucherify.new(o)
    local _, err = c.orders:get("x")
    c:close()
    assert.is_true(voucherify.is_error(err), tostring(err))
    return err, infos
  end

  it("Basic credentials in headers: user:pass and the password, decoded", function()
    server:faults { echo("alice:wonder-pass") }
    local err, infos = failed_call { headers = { Authorization = "Basic YWxpY2U6d29uZGVyLXBhc3M=" } }
    assert.are.equal(400, err.status)
    assert_clean("user:pass", err, { "wonder-pass" })
    assert_clean("user:pass info", infos[1], { "wonder-pass" })
    server:faults { { status = 400, body = "refused: password 'wonder-pass' of 'alice'" } }
    err = failed_call { headers = { ["Proxy-Authorization"] = "Basic YWxpY2U6d29uZGVyLXBhc3M=" } }
    assert.are.equal("refused: password '[redacted]' of 'alice'", err.body)
  end)
end)

describe("an OAuth token shorter than errors.MIN_SECRET", function()
  local server
  fake_server.suite(function(s) server = s end)

  it("fails with a decode error, and nothing is sent with it", function()
    local c = voucherify.new(server:client_options { oauth = {}, max_retries = 0 })
    server:faults { { path = "/v1/oauth/token", status = 200,
      body = { access_token = "k9Z", token_type = "bearer", expires_in = 900 } } }
    local list, err = c.orders:list()
    c:close()
    assert.is_nil(list)
    assert.are.equal("decode", err.kind)
    assert.truthy(err.message:find("shorter than", 1, true), err.message)
    local log = server:requests()
    assert.are.equal(1, #log)
    assert.are.equal("/v1/oauth/token", log[1].path)
  end)
end)
