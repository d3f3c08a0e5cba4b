-- voucherify.new options: base_url is a plain base (no query, fragment,
-- userinfo, whitespace or control bytes, and a host), `proxy = false`, and
-- the list of secrets every error is scrubbed of.
local voucherify = require "voucherify"

local function with(extra)
  local o = { app_id = "id", app_token = "token-value" }
  for k, v in pairs(extra) do o[k] = v end
  return o
end

-- raises at the caller's line, naming what is wrong
local function refused(opts, expected)
  local ok, msg = pcall(function() voucherify.new(opts) end)
  assert.is_false(ok, "accepted")
  assert.truthy(msg:find("options_spec.lua:%d+: voucherify.new: "), msg)
  assert.truthy(msg:find(expected, 1, true), msg)
  return msg
end

describe("base_url", function()
  local bad = {
    { "http://127.0.0.1:8080/?x=1", "query" },
    { "http://127.0.0.1:8080?x=1", "query" },
    { "https://api.example.com/v#frag", "fragment" },
    { "https://api.example.com#", "fragment" },
    { "http://user:pa55word@api.example.com", "credentials" },
    { "http://@api.example.com", "credentials" },
    { "http://api.example.com /x", "whitespace" },
    { " http://api.example.com", "whitespace" },
    { "http://api.example.com\r\nX-Injected: 1", "control" },
    { "http://api.example.com\n", "control" },
    { "http://api.example.com\0.evil", "control" },
    { "http://api.example.com\t", "control" },
    { "http://", "no host" },
    { "http:///v1", "no host" },
    { "https://:443", "no host" },
    { "http://[]:80", "no host" },
    { "http://api.example.com:http", "invalid host or port" },
    { "http://api.example.com:", "invalid host or port" },
    { "http://api.exa\\mple.com", "invalid host or port" },
    { "http://api.example.com:99999", "outside 1-65535" },
    { "http://api.example.com/a\\b", "path" },
    { "http://api.example.com/caf\195\169", "path" },
    { "ftp://api.example.com", "must start with http:// or https://" },
    { "api.example.com", "must start with http:// or https://" },
  }
  for _, case in ipairs(bad) do
    it(("refuses %s (%s), naming base_url"):format(case[1]:gsub("%c", "?"), case[2]), function()
      local msg = refused(with { base_url = case[1] }, "'base_url'")
      assert.truthy(msg:find(case[2], 1, true), msg)
      -- never echoed: it may hold credentials or control bytes
      assert.is_nil(msg:find("pa55word", 1, true), msg)
      assert.is_nil(msg:find("Injected", 1, true), msg)
    end)
  end

  local good = {
    { "http://127.0.0.1:8080", "http://127.0.0.1:8080" },
    { "https://api.voucherify.io/", "https://api.voucherify.io" },
    { "http://localhost:1/base/", "http://localhost:1/base" },
    { "http://[::1]:8080/p", "http://[::1]:8080/p" },
    { "https://us1.api.voucherify.io", "https://us1.api.voucherify.io" },
  }
  for _, case in ipairs(good) do
    it("accepts " .. case[1], function()
      assert.are.equal(case[2], voucherify.new(with { base_url = case[1] }).config.base_url)
    end)
  end
end)

describe("proxy", function()
  it("takes false: no proxy at all, not even from the environment", function()
    assert.is_false(voucherify.new(with { proxy = false }).config.proxy)
    assert.are.equal("http://127.0.0.1:3128", voucherify.new(with { proxy = "http://127.0.0.1:3128" }).config.proxy)
    assert.is_nil(voucherify.new(with {}).config.proxy)
  end)

  it("refuses true, other types, and control bytes", function()
    refused(with { proxy = true }, "'proxy' must be a string or false")
    refused(with { proxy = 3128 }, "'proxy' must be a string or false")
    refused(with { proxy = "http://p:3128\r\nX: 1" }, "'proxy' must not contain whitespace or control characters")
  end)
end)

describe("timeouts", function()
  it("refuses a timeout the transports cannot take (over a year)", function()
    refused(with { timeout = 86400 * 366 }, "'timeout' must be a positive number of seconds, at most a year")
    refused(with { connect_timeout = 1e12 }, "'connect_timeout' must be a positive number of seconds")
    assert.are.equal(86400 * 365, voucherify.new(with { timeout = 86400 * 365 }).config.timeout)
  end)
end)

describe("secrets", function()
  it("holds a static access_token (given without app keys)", function()
    local c = voucherify.new { access_token = "static-bearer-value", base_url = "http://127.0.0.1:1" }
    assert.are.same({ "static-bearer-value" }, c.config.secrets)
  end)

  it("holds the app token, credentials in headers and a proxy password", function()
    local c = voucherify.new(with { headers = { Authorization = "Basic dXNlcjpwYXNz", ["X-Other"] = "public" },
      proxy = "http://user:proxy-pass@127.0.0.1:3128" })
    local set = {}
    for _, s in ipairs(c.config.secrets) do set[s] = true end
    assert.is_true(set["token-value"])
    assert.is_true(set["Basic dXNlcjpwYXNz"])
    assert.is_true(set["dXNlcjpwYXNz"])
    assert.is_true(set["user:proxy-pass"])
    assert.is_true(set["proxy-pass"])
    assert.is_nil(set["public"])
  end)
end)
