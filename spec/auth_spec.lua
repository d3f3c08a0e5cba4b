-- voucherify.auth on its own, no server: the header lines each kind of
-- credentials gives, and the secrets OAuth tokens join and leave.
local auth = require "voucherify.auth"
local options = require "voucherify.options"

local function make(opts)
  opts.base_url = "http://127.0.0.1:9"
  opts.user_agent = "ua/1"
  return auth.new(options.normalize(opts, 1))
end

describe("auth header lines", function()
  local cases = {
    -- what, options, header_lines, app_key_lines
    { "app keys", { app_id = "id", app_token = "token-1" },
      { "Accept: application/json", "User-Agent: ua/1", "X-App-Id: id", "X-App-Token: token-1" },
      { "X-App-Id: id", "X-App-Token: token-1" } },
    { "app keys with OAuth: none in the static lines", { app_id = "id", app_token = "token-1", oauth = {} },
      { "Accept: application/json", "User-Agent: ua/1" },
      { "X-App-Id: id", "X-App-Token: token-1" } },
    { "a static access token", { access_token = "bearer-1" },
      { "Accept: application/json", "User-Agent: ua/1", "Authorization: Bearer bearer-1" }, {} },
    { "channel, API version, and the caller's headers replacing ours by name",
      { app_id = "id", app_token = "token-1", channel = "pos", api_version = "v2018-08-01",
        headers = { accept = "text/csv", ["X-Extra"] = 7 } },
      { "accept: text/csv", "User-Agent: ua/1", "X-App-Id: id", "X-App-Token: token-1",
        "X-Voucherify-Channel: pos", "X-Voucherify-API-Version: v2018-08-01", "X-Extra: 7" },
      { "X-App-Id: id", "X-App-Token: token-1" } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      local a = make(case[2])
      assert.are.same(case[3], a.header_lines)
      assert.are.same(case[4], a.app_key_lines)
      assert.are.same({ "Accept: */*", "User-Agent: ua/1" }, a.public_header_lines)
    end)
  end
end)

describe("auth secrets and OAuth tokens", function()
  it("use_token gives the bearer line and keeps the last KEEP_TOKENS tokens as secrets", function()
    local a = make { app_id = "id", app_token = "token-1", oauth = {} }
    assert.are.same({ "token-1" }, a.secrets)
    for i = 1, auth.KEEP_TOKENS + 2 do
      assert.are.equal("Authorization: Bearer oauth-" .. i, a:use_token("oauth-" .. i))
    end
    local expected = { "token-1" }
    for i = 3, auth.KEEP_TOKENS + 2 do expected[#expected + 1] = "oauth-" .. i end
    assert.are.same(expected, a.secrets)
  end)

  it("lists each secret once", function()
    local a = make { app_id = "id", app_token = "same-value", headers = { ["X-App-Token"] = "same-value" } }
    assert.are.same({ "same-value" }, a.secrets)
  end)
end)
