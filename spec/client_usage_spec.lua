-- Client methods called with '.' instead of ':' raise a usage error at the
-- caller's line, like the resources' methods.
local voucherify = require "voucherify"

describe("client methods called with '.'", function()
  it("client.close() says so at the caller's line", function()
    local c = voucherify.new { app_id = "id", app_token = "token-value", base_url = "http://127.0.0.1:9" }
    local ok, msg = pcall(function() c.close() end)
    assert.is_false(ok)
    assert.truthy(msg:find("^spec/client_usage_spec.lua:%d+: voucherify: client:close: called with '.' instead of ':'"),
      msg)
    ok, msg = pcall(function() c.close("x") end)
    assert.is_false(ok)
    assert.truthy(msg:find("client:close: called with '.' instead of ':'", 1, true), msg)
    c:close()
    c:close() -- twice is fine
  end)

  it("<close> still closes the client", function()
    local chunk = assert(load([[
      local voucherify = ...
      do local c <close> = voucherify.new { app_id = "id", app_token = "token-value" } end
      return true
    ]]))
    assert.is_true(chunk(voucherify))
  end)
end)
