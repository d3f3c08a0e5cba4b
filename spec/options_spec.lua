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
    assert.are.same({ "static-bearer-value" }, c.auth.secrets)
  end)

  it("holds the app token, credentials in headers and a proxy password", function()
    local c = voucherify.new(with { headers = { Authorization = "Basic dXNlcjpwYXNz", ["X-Other"] = "public" },
      proxy = "http://user:proxy-pass@127.0.0.1:3128" })
    local set = {}
    for _, s in ipairs(c.auth.secrets) do set[s] = true end
    assert.is_true(set["token-value"])
    assert.is_true(set["Basic dXNlcjpwYXNz"])
    assert.is_true(set["dXNlcjpwYXNz"])
    assert.is_true(set["user:proxy-pass"])
    assert.is_true(set["proxy-pass"])
    assert.is_nil(set["public"])
  end)
end)

describe("base_url paths libcurl or a server would read differently", function()
  local bad = {
    { "http://127.0.0.1:8080/..", "dot segment" },
    { "http://127.0.0.1:8080/.", "dot segment" },
    { "http://127.0.0.1:8080/./v1", "dot segment" },
    { "http://127.0.0.1:8080/a/../b", "dot segment" },
    { "http://127.0.0.1:8080/a/./", "dot segment" },
    { "http://127.0.0.1:8080/a/%2e%2E/b", "dot segment" },
    { "http://127.0.0.1:8080/%2E", "dot segment" },
    { "http://127.0.0.1:8080/%zz", "percent" },
    { "http://127.0.0.1:8080/a%2", "percent" },
    { "http://127.0.0.1:8080/a%", "percent" },
    { "http://[fe80::1%zz]:8080", "percent" },
  }
  for _, case in ipairs(bad) do
    it(("refuses %s (%s)"):format(case[1], case[2]), function()
      local msg = refused(with { base_url = case[1] }, "'base_url'")
      assert.truthy(msg:find(case[2], 1, true), msg)
    end)
  end

  local good = {
    { "HTTP://127.0.0.1:8080", "http://127.0.0.1:8080" },
    { "HtTpS://api.voucherify.io/", "https://api.voucherify.io" },
    { "http://127.0.0.1:8080/.well-known/x", "http://127.0.0.1:8080/.well-known/x" },
    { "http://127.0.0.1:8080/a..b/...", "http://127.0.0.1:8080/a..b/..." },
    { "http://127.0.0.1:8080/a%2Fb%41", "http://127.0.0.1:8080/a%2Fb%41" },
  }
  for _, case in ipairs(good) do
    it("accepts " .. case[1] .. " as " .. case[2], function()
      assert.are.equal(case[2], voucherify.new(with { base_url = case[1] }).config.base_url)
    end)
  end
end)

describe("secrets derived from Basic credentials", function()
  local auth = require "voucherify.auth"
  local options = require "voucherify.options"

  local function secrets(opts)
    local set = {}
    for _, s in ipairs(auth.new(options.normalize(opts, 1)).secrets) do set[s] = true end
    return set
  end

  it("from a proxy URL: userinfo and password as written and decoded, and the Basic header libcurl builds", function()
    local set = secrets(with { proxy = "http://us%65r:s3cret%40pass@127.0.0.1:3128" })
    for _, s in ipairs({ "us%65r:s3cret%40pass", "s3cret%40pass", "user:s3cret@pass", "s3cret@pass",
      "dXNlcjpzM2NyZXRAcGFzcw==" }) do
      assert.is_true(set[s], s)
    end
  end)

  it("from Authorization and Proxy-Authorization headers: the value, the credentials, user:pass and the password",
    function()
      local set = secrets(with { headers = { Authorization = "Basic YWxpY2U6d29uZGVyLXBhc3M=",
        ["proxy-authorization"] = "basic dXNlcjpzM2NyZXRwYXNz" } })
      for _, s in ipairs({ "Basic YWxpY2U6d29uZGVyLXBhc3M=", "YWxpY2U6d29uZGVyLXBhc3M=", "alice:wonder-pass",
        "wonder-pass", "dXNlcjpzM2NyZXRwYXNz", "user:s3cretpass", "s3cretpass" }) do
        assert.is_true(set[s], s)
      end
    end)

  it("not from a Basic value that is not base64", function()
    local set = secrets(with { headers = { Authorization = "Basic not*base64" } })
    assert.is_true(set["not*base64"])
    local n = 0
    for _ in pairs(set) do n = n + 1 end
    assert.are.equal(3, n) -- the app token, the header value, the credentials
  end)
end)
