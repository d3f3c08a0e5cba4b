-- on_response tells an export's download from the API calls around it: the
-- download's info has `download = true`; `exports:get`, the polls of
-- `exports:wait` and every other call have no `download` field.
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local process = require "support.process"

describe("on_response info.download", function()
  local server, client, seen
  fake_server.suite(function(s) server = s end)

  before_each(function()
    seen = {}
    client = voucherify.new(server:client_options { max_retries = 0, on_response = function(info)
      seen[#seen + 1] = info
    end })
  end)
  after_each(function() client:close() end)

  -- an export of two orders, not DONE yet
  local function export()
    for i = 1, 2 do assert(client.orders:create { source_id = "o" .. i }) end
    return assert(client.orders:export { fields = { "source_id" } })
  end

  it("is true for the download only, not for exports:get, the waits' polls or the calls before", function()
    local exp = export()
    assert(client.exports:get(exp.id))
    local csv = assert(client.exports:download(exp, { interval = 0.01 }))
    assert.matches("source_id", csv)
    local downloads = 0
    for i, info in ipairs(seen) do
      if info.download then
        downloads = downloads + 1
        assert.are.equal(#seen, i) -- the last request
        assert.is_true(info.download)
        assert.are.equal("GET", info.method)
        assert.are.equal(200, info.status)
      else
        assert.is_nil(info.download)
      end
    end
    assert.are.equal(1, downloads)
    -- orders:create x2, orders:export, exports:get, at least one poll, the download
    assert.is_true(#seen >= 6)
  end)

  it("is true for a download written to a file, and for one that failed", function()
    local dir = process.output("mktemp -d"):gsub("%s+$", "")
    local done = { id = "exp_1", status = "DONE", result = { url = server.url .. "/v1/dl?token=t0k3n" } }
    server:faults { { path = "/v1/dl", status = 200, body = "a\r\n" } }
    assert(client.exports:download(done, { path = dir .. "/x.csv" }))
    server:faults { { path = "/v1/dl", status = 404 } }
    local _, err = client.exports:download(done)
    os.execute("rm -rf " .. dir)
    assert.are.equal(404, err.status)
    assert.are.equal(2, #seen)
    assert.is_true(seen[1].download)
    assert.is_true(seen[2].download)
    assert.are.equal("api", seen[2].error)
  end)

  it("is not set for exports:get of the same export", function()
    local exp = export()
    assert(client.exports:get(exp.id))
    assert.are.equal("/v1/exports/" .. exp.id, seen[#seen].path)
    assert.is_nil(seen[#seen].download)
  end)
end)
