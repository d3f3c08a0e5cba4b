-- The libcurl handle keeps its header list between requests and rebuilds it
-- only when the lines differ (csrc/http.c, read_headers): every request must
-- still send exactly its own lines, whatever table they come in.
local core = require "voucherify.core"
local raw_server = require "support.raw_server"

-- Records the X-Test and X-Other headers of each request.
local RECORDER = [[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { test = req.headers["x-test"] or false, other = req.headers["x-other"] or false }
    conn:write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}')
    conn:flush()
  end
end
]]

describe("request headers on a reused handle", function()
  local server, handle

  before_each(function()
    server = raw_server.start(RECORDER)
    handle = core.http_new()
  end)

  after_each(function()
    handle:close()
    server:stop()
  end)

  local function send(headers)
    local res, failure = handle:perform { method = "GET", url = server.url .. "/", headers = headers }
    assert(res, failure and failure.message)
    local seen = server:requests()
    return seen[#seen]
  end

  it("sends the lines of each request, in the same table changed or in another", function()
    local lines = { "X-Test: 1" }
    assert.same({ test = "1", other = false }, send(lines))
    assert.same({ test = "1", other = false }, send(lines))
    lines[1] = "X-Test: 2"
    assert.same({ test = "2", other = false }, send(lines))
    lines[2] = "X-Other: a"
    assert.same({ test = "2", other = "a" }, send(lines))
    lines[2] = nil
    assert.same({ test = "2", other = false }, send(lines))
    assert.same({ test = "3", other = false }, send({ "X-Test: 3" }))
    assert.same({ test = false, other = false }, send(nil))
    assert.same({ test = false, other = "b" }, send({ "X-Other: b" }))
  end)

  it("rebuilds the lines after a request whose headers raised", function()
    assert.same({ test = "1", other = false }, send({ "X-Test: 1" }))
    assert.has_error(function()
      handle:perform { method = "GET", url = server.url .. "/", headers = { "X-Test: 9", {} } }
    end, "voucherify.core: request.headers[2] must be a string")
    assert.same({ test = "1", other = false }, send({ "X-Test: 1" }))
    assert.same({ test = "12", other = false }, send({ "X-Test: " .. 12 }))
  end)
end)
