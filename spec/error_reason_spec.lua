-- Error objects name why a transfer failed: `err.reason` is one of the
-- transport's failure reasons (voucherify.transport.REASONS), so a program
-- tells a refused connection from a timeout or a cut-off answer without
-- parsing messages; `err.curl_code` stays as libcurl's number, a detail.
-- Errors that are not transport failures carry no `reason`.
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local process = require "support.process"
local socket = require "socket"
local transport = require "voucherify.transport"

local sh = process.output

describe("err.reason", function()
  local server, client
  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  it("is \"connect\" when the connection is refused, with libcurl's number beside it", function()
    -- a loopback port bound but not listening: connecting is refused, and no
    -- other process can take the port while the socket holds it
    local held = socket.tcp()
    assert(held:bind("127.0.0.1", 0))
    local _, port = held:getsockname()
    local c = voucherify.new(server:client_options { base_url = "http://127.0.0.1:" .. port, max_retries = 0,
      transport = "curl" })
    local order, err, res = c.orders:get("o1")
    c:close()
    held:close()
    assert.is_nil(order)
    assert.is_nil(res)
    assert.are.equal("network", err.kind)
    assert.are.equal("connect", err.reason)
    assert.are.equal(7, err.curl_code) -- CURLE_COULDNT_CONNECT
  end)

  it("is \"timeout\" when the attempt's time runs out (kind \"timeout\")", function()
    server:faults { { path = "/v1/orders/o1", delay = 2 } }
    local order, err = client:with { timeout = 0.3 }.orders:get("o1")
    assert.is_nil(order)
    assert.are.equal("timeout", err.kind)
    assert.are.equal("timeout", err.reason)
  end)

  it("is \"reset\" when the connection closes before the whole answer arrived", function()
    server:faults { { path = "/v1/orders/o1", close = "mid_body" } }
    local _, err = client.orders:get("o1")
    assert.are.equal("network", err.kind)
    assert.are.equal("reset", err.reason)
  end)

  it("is \"too_large\" when the answer is over max_body_size", function()
    local c = voucherify.new(server:client_options { max_body_size = 64, max_retries = 0 })
    server:faults { { path = "/v1/orders/o1", status = 200, body = { padding = ("x"):rep(200) } } }
    local _, err = c.orders:get("o1")
    c:close()
    assert.are.equal("network", err.kind)
    assert.are.equal("too_large", err.reason)
  end)

  it("is \"too_large\", not retried, for one header line over libcurl's own cap (100 KB)", function()
    local raw_server = require "support.raw_server"
    local srv = raw_server.start [[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { target = req.target }
    conn:write("HTTP/1.1 200 OK\r\nX-Big: " .. ("v"):rep(110000) .. "\r\nContent-Length: 2\r\n\r\n{}")
    conn:flush()
  end
end
]]
    local c = voucherify.new { app_id = "a", app_token = "b", base_url = srv.url, max_retries = 2,
      max_retry_delay = 0.01, transport = "curl" }
    local order, err = c.orders:get("o1")
    c:close()
    local seen = #srv:requests()
    srv:stop()
    assert.is_nil(order)
    assert.are.equal("network", err.kind)
    assert.are.equal("too_large", err.reason)
    assert.matches("headers larger than the limit", err.message, 1, true)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, seen)
  end)

  it("is always a key of transport.REASONS", function()
    for _, reason in ipairs { "connect", "timeout", "reset", "too_large", "write" } do
      assert.is_string(transport.REASONS[reason], reason)
    end
  end)

  it("is not set on errors that are not transport failures (an API answer, a decode error)", function()
    local _, err = client.orders:get("missing")
    assert.are.equal("api", err.kind)
    assert.is_nil(err.reason)
    assert.is_nil(err.curl_code)
    server:faults { { path = "/v1/orders/o1", status = 200, body = "not json" } }
    _, err = client.orders:get("o1")
    assert.are.equal("decode", err.kind)
    assert.is_nil(err.reason)
  end)

  describe("exports:download with opts.path", function()
    local dir
    before_each(function() dir = sh("mktemp -d"):gsub("%s+$", "") end)
    after_each(function() os.execute("rm -rf " .. dir) end)

    it("is \"write\" when the finished download cannot be put at path", function()
      local path = dir .. "/orders.csv"
      -- after the transfer (on_response runs before the rename), something takes the name:
      -- a directory that is not empty, which rename(2) cannot replace
      local c = voucherify.new(server:client_options { max_retries = 0, on_response = function()
        assert(os.execute(("mkdir -p %s/x"):format(path)))
      end })
      server:faults { { path = "/v1/dl", status = 200, body = "a\r\n" } }
      local result, err, res = c.exports:download({ id = "exp_1", status = "DONE",
        result = { url = server.url .. "/v1/dl?token=t0k3n" } }, { path = path })
      c:close()
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      assert.are.equal("write", err.reason)
      assert.are.equal(200, res.status)
      assert.matches("cannot save the export to " .. path, err.message, 1, true)
    end)

    it("is \"write\" when the temporary file cannot be made next to path", function()
      for i = 1, 2 do assert(client.orders:create { source_id = "o" .. i }) end
      local exp = assert(client.orders:export { fields = { "source_id" } })
      -- while the export is being waited for, the directory goes away
      local result, err = client.exports:download(exp, { path = dir .. "/orders.csv", interval = 0.01,
        on_progress = function() os.execute("rm -rf " .. dir) end })
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      assert.are.equal("write", err.reason)
    end)
  end)
end)
