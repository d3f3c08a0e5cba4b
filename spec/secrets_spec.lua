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

  setup(function() server = fake_server.start() end)
  teardown(function() server:stop() end)
  before_each(function()
    server:reset()
    infos = {}
  end)

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

  setup(function() server = fake_server.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

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
