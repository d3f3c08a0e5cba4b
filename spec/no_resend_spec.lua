-- libcurl resends a request by itself when a kept-alive connection dies
-- before the first response byte.  Whether it may is decided by one property
-- of the call, `idempotent` (the one the retry policy reads): a call that is
-- not idempotent streams its body through a read callback that refuses to
-- rewind, or goes on a fresh connection when it has no body.  The outcome
-- against a connection that dies after the request was read is tested on both
-- transports in spec/hostile_transport_spec.lua; this spec checks the
-- mechanism: the refused rewind, and that creates still reuse the connection
-- (no TLS handshake per create against the real API).
local core = require "voucherify.core"
local raw_server = require "support.raw_server"
local request = require "voucherify.request"
local voucherify = require "voucherify"

-- Answers every request on every connection and records which connection it came on.
local KEEP_ALIVE = [[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { method = req.method, target = req.target, body = req.body, conn = ctx.index }
    conn:write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"x1"}')
    conn:flush()
  end
end
]]

-- Answers the first request of a connection, then reads the second in full and
-- closes without answering; every later connection is answered.
local DIES_AFTER_READING = [[
return function(conn, ctx)
  local n = 0
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { method = req.method, target = req.target, body = req.body, conn = ctx.index }
    n = n + 1
    if ctx.index == 1 and n == 2 then return end
    conn:write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}')
    conn:flush()
  end
end
]]

describe("libcurl never sends a non-idempotent request twice", function()
  local srv, h

  before_each(function() h = core.http_new() end)

  after_each(function()
    if h then h:close() end
    if srv then srv:stop() end
    srv = nil
  end)

  local function first_call()
    assert(h:perform { method = "GET", url = srv.url .. "/first", idempotent = true, timeout = 5 })
  end

  local function copies(method, target)
    local n = 0
    for _, r in ipairs(srv:requests()) do
      if r.method == method and r.target == target then n = n + 1 end
    end
    return n
  end

  it("a POST with a body: the resend fails with CURLE_SEND_FAIL_REWIND, the server read it once", function()
    srv = raw_server.start(DIES_AFTER_READING)
    first_call()
    local res, err = h:perform { method = "POST", url = srv.url .. "/write", body = '{"a":1}', timeout = 5 }
    assert.is_nil(res)
    assert.are.equal("resend_refused", err.reason)
    assert.are.equal(65, err.curl_code) -- CURLE_SEND_FAIL_REWIND
    assert.is_true(err.sent)
    assert.matches("not sent again", err.message)
    assert.are.equal(1, copies("POST", "/write"))
  end)

  it("a PUT with a body likewise", function()
    srv = raw_server.start(DIES_AFTER_READING)
    first_call()
    local res, err = h:perform { method = "PUT", url = srv.url .. "/write", body = '{"a":1}', timeout = 5 }
    assert.is_nil(res)
    assert.are.equal("resend_refused", err.reason)
    assert.are.equal(65, err.curl_code)
    assert.are.equal(1, copies("PUT", "/write"))
  end)

  it("a POST without a body goes on a fresh connection, so nothing resends it", function()
    srv = raw_server.start(DIES_AFTER_READING)
    first_call()
    local res, err = h:perform { method = "POST", url = srv.url .. "/write", timeout = 5 }
    -- the fresh connection is the server's second, which answers
    assert.is_nil(err)
    assert.are.equal(200, res.status)
    assert.are.equal(1, copies("POST", "/write"))
    assert.are.equal(2, srv:requests()[2].conn)
  end)

  it("an idempotent POST is still resent by libcurl, transparently", function()
    srv = raw_server.start(DIES_AFTER_READING)
    first_call()
    local res = assert(h:perform { method = "POST", url = srv.url .. "/write", body = '{"a":1}', timeout = 5,
      idempotent = true })
    assert.are.equal(200, res.status)
    assert.are.equal(2, copies("POST", "/write"))
  end)

  it("creates without an id still reuse the kept-alive connection (no new TLS handshake each)", function()
    srv = raw_server.start(KEEP_ALIVE)
    local c = voucherify.new { app_id = "a", app_token = "t", base_url = srv.url, transport = "curl" }
    assert(c.orders:get("o1"))
    assert(c.orders:create { amount = 1 })
    assert(c.customers:create { name = "n" })
    assert(c.orders:export {})
    c:close()
    local reqs = srv:requests()
    assert.are.equal(4, #reqs)
    for _, r in ipairs(reqs) do assert.are.equal(1, r.conn, r.method .. " " .. r.target) end
    assert.are.same({ amount = 1 }, voucherify.json.decode(reqs[2].body))
  end)

  it("a body sent through the read callback arrives whole (1 MB)", function()
    srv = raw_server.start(KEEP_ALIVE)
    local body = ("0123456789abcdef"):rep(65536)
    local res = assert(h:perform { method = "POST", url = srv.url .. "/big", body = body, timeout = 10,
      headers = { "Content-Type: text/plain" } })
    assert.are.equal(200, res.status)
    assert.are.equal(body, srv:requests()[1].body)
  end)
end)

describe("request.build", function()
  local config = { base_url = "http://x" }
  local auth = { header_lines = {}, public_header_lines = {}, app_key_lines = {} }

  it("passes `idempotent` as a boolean, and nothing else decides the connection", function()
    local req = request.build(config, auth, { method = "POST", path = { "v1", "orders" }, body = "{}", once = true })
    assert.are.equal(false, req.idempotent)
    assert.is_nil(req.fresh_connect)
    assert.is_nil(req.once)
    req = request.build(config, auth, { method = "GET", path = { "v1", "orders" }, idempotent = true })
    assert.are.equal(true, req.idempotent)
  end)
end)
