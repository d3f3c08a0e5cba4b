-- An id is always exactly one path segment, whatever its bytes: a segment
-- made only of dots is sent as %2E's (url.segment) and libcurl is told never
-- to remove dot segments (CURLOPT_PATH_AS_IS).  The raw wire, on both
-- transports, is checked in spec/hostile_transport_spec.lua ("the id ... stays
-- one path segment"); here: the encoding, and the fake server decoding such a
-- segment back to the id.
local url = require "voucherify.url"
local fake_server = require "fake_server"

describe("url.segment", function()
  it("writes a segment made only of dots as %2E's", function()
    assert.are.equal("%2E", url.segment("."))
    assert.are.equal("%2E%2E", url.segment(".."))
    assert.are.equal("%2E%2E%2E", url.segment("..."))
  end)

  it("leaves dots alone anywhere else, and escapes the rest as before", function()
    assert.are.equal("a.b", url.segment("a.b"))
    assert.are.equal(".a", url.segment(".a"))
    assert.are.equal("a%2F..", url.segment("a/.."))
    assert.are.equal("%252e", url.segment("%2e"))
    assert.are.equal("..%3F", url.segment("..?"))
  end)

  it("url.build uses it for every path segment", function()
    assert.are.equal("http://h/v1/orders/%2E%2E", url.build("http://h", { "v1", "orders", ".." }))
  end)
end)

describe("ids made of dots against the fake server", function()
  local server, client
  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  local function last_path()
    local log = server:requests()
    return log[#log].path
  end

  for _, id in ipairs({ ".", "..", "...", "%2e", "a/.." }) do
    it(("reach the customer whose source_id is %q, and only it"):format(id), function()
      local other = assert(client.customers:create { source_id = "other" })
      local c = assert(client.customers:create { source_id = id })
      local got = assert(client.customers:get(id))
      assert.are.equal(c.id, got.id)
      assert.are.equal(id, got.source_id)
      assert.are.equal("/v1/customers/" .. url.segment(id), last_path())
      local updated = assert(client.customers:update(id, { name = "dots" }))
      assert.are.equal(c.id, updated.id)
      assert(client.customers:permanently_delete(id))
      assert.are.equal("/v1/customers/" .. url.segment(id) .. "/permanent-deletion", last_path())
      local _, err = client.customers:get(id)
      assert.are.equal(404, err.status)
      assert.are.equal(other.id, assert(client.customers:get("other")).id)
    end)
  end
end)
