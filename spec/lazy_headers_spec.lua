-- response.headers from the libcurl transport: read lazily (a name is looked
-- up in the received header block; pairs() fills the table first), with the
-- same contents as ever: lowercase names, repeated headers joined with ", ",
-- values trimmed, only the final header block.  The library's own reads (rate
-- limit, request id, on_response) and a user's reads and pairs see the same.
local core = require "voucherify.core"
local raw_server = require "support.raw_server"
local voucherify = require "voucherify"

local HEADERS = table.concat({
  "HTTP/1.1 200 OK",
  "Content-Type: application/json",
  "X-Rate-Limit-Limit: 100",
  "x-rate-limit-remaining:\t 99 ",
  "Set-Cookie: a=1",
  "X-Request-Id:   req-7  ",
  "SET-COOKIE: b=2",
  "X-Empty:",
  "Cache-Control: no-cache",
  "cache-control: private",
}, "\r\n")

local SERVER = ([[
return function(conn, ctx)
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    ctx.record { target = req.target }
    local body = req.target:find("missing") and '{"message":"no such order","code":404}'
      or req.target:find("notjson") and "<html>maintenance</html>" or '{"id":"ord_1"}'
    local head = %q
    if req.target:find("missing") then head = head:gsub("200 OK", "404 Not Found") end
    if req.target:find("plain") then head = head:gsub("\r\n[Xx]%%-[Rr]ate%%-[Ll]imit%%-[^\r]*", "") end
    if req.target:find("continue") then
      head = "HTTP/1.1 100 Continue\r\nX-Early: 1\r\nX-Rate-Limit-Limit: 5\r\n\r\n" .. head
    end
    conn:write(head .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body)
    conn:flush()
  end
end
]]):format(HEADERS)

-- everything the headers table holds, by pairs
local function all(headers)
  local out = {}
  for k, v in pairs(headers) do out[k] = v end
  return out
end

local EXPECTED = {
  ["content-type"] = "application/json",
  ["x-rate-limit-limit"] = "100",
  ["x-rate-limit-remaining"] = "99",
  ["set-cookie"] = "a=1, b=2",
  ["x-request-id"] = "req-7",
  ["x-empty"] = "",
  ["cache-control"] = "no-cache, private",
  ["content-length"] = "14",
}

describe("response.headers (libcurl transport)", function()
  local srv, client, hooked
  setup(function()
    srv = raw_server.start(SERVER)
  end)
  teardown(function()
    srv:stop()
  end)
  before_each(function()
    hooked = {}
    client = voucherify.new { app_id = "a", app_token = "b", base_url = srv.url, max_retries = 0,
      on_response = function(info) hooked[#hooked + 1] = info end }
  end)
  after_each(function()
    client:close()
  end)

  it("a header is read by its lowercase name; repeated ones are joined; values are trimmed", function()
    local order, err, res = client.orders:get("ord_1")
    assert.is_nil(err)
    assert.are.equal("ord_1", order.id)
    local h = res.headers
    assert.are.equal("application/json", h["content-type"])
    assert.are.equal("a=1, b=2", h["set-cookie"])
    assert.are.equal("no-cache, private", h["cache-control"])
    assert.are.equal("99", h["x-rate-limit-remaining"])
    assert.are.equal("req-7", h["x-request-id"])
    assert.are.equal("", h["x-empty"])
    assert.is_nil(h["Content-Type"]) -- names are lowercase, as before
    assert.is_nil(h["x-absent"])
    assert.is_nil(h[1])
    assert.is_nil(h["content-type:"])
    assert.is_nil(h[""])
  end)

  it("pairs gives every header, and the table is a plain one afterwards", function()
    local _, _, res = client.orders:get("ord_1")
    assert.are.same(EXPECTED, all(res.headers))
    assert.is_nil(getmetatable(res.headers))
    assert.is_not_nil(next(res.headers))
    assert.are.same(EXPECTED, all(res.headers))
    assert.are.equal("a=1, b=2", res.headers["set-cookie"])
  end)

  it("reads before pairs do not change what pairs gives; a value the caller set stays", function()
    local _, _, res = client.orders:get("ord_1")
    assert.are.equal("100", res.headers["x-rate-limit-limit"])
    res.headers["x-mine"] = "1"
    res.headers["content-type"] = "text/mine"
    local expected = {}
    for k, v in pairs(EXPECTED) do expected[k] = v end
    expected["x-mine"], expected["content-type"] = "1", "text/mine"
    assert.are.same(expected, all(res.headers))
  end)

  it("a header the caller deletes stays deleted, before and after pairs; setting it again brings a value", function()
    local _, _, res = client.orders:get("ord_1")
    res.headers["set-cookie"] = nil
    res.headers["x-request-id"] = nil
    assert.is_nil(res.headers["set-cookie"])
    res.headers["x-request-id"] = "mine"
    local expected = {}
    for k, v in pairs(EXPECTED) do expected[k] = v end
    expected["set-cookie"], expected["x-request-id"] = nil, "mine"
    assert.are.same(expected, all(res.headers))
    assert.is_nil(res.headers["set-cookie"])
    assert.are.equal("mine", res.headers["x-request-id"])
  end)

  it("the library reads its headers from it: rate limit, request id of an error, on_response", function()
    local _, _, res = client.orders:get("ord_1")
    assert.are.same({ limit = 100, remaining = 99 }, res.rate_limit)
    local _, err = client.orders:get("missing")
    assert.are.equal(404, err.status)
    assert.are.equal("req-7", err.request_id)
    assert.are.equal("req-7", hooked[1].request_id)
    assert.are.equal("req-7", hooked[2].request_id)
  end)

  it("only the final header block counts (a 100 Continue's headers are not there)", function()
    local _, err, res = client:request { method = "GET", path = { "v1", "continue" } }
    assert.is_nil(err)
    assert.is_nil(res.headers["x-early"])
    assert.are.same(EXPECTED, all(res.headers))
  end)

  it("the same on the multi handle (client:map)", function()
    for _, order, err, res in client:map({ 1, 2, 3 }, function(c) return c.orders:get("ord_1") end) do
      assert.is_nil(err)
      assert.are.equal("ord_1", order.id)
      assert.are.equal("a=1, b=2", res.headers["set-cookie"])
      assert.are.same(EXPECTED, all(res.headers))
    end
  end)

  it("a 2xx body that is not JSON: a decode error holding the text, as when Lua decoded it", function()
    local value, err, res = client:request { method = "GET", path = { "v1", "notjson" } }
    assert.is_nil(value)
    assert.are.equal(200, res.status)
    assert.are.equal("decode", err.kind)
    assert.are.equal("<html>maintenance</html>", err.body)
    assert.matches("^response is not valid JSON %(unexpected character at offset 0 %(near '<'%)%), "
      .. "content%-type application/json$", err.message)
  end)

  it("the transport's raw answer: headers as documented, the decoded body as `value` when asked", function()
    local h = core.http_new()
    local url = srv.url .. "/v1/orders/x"
    local raw = assert(h:perform { method = "GET", url = url })
    assert.are.equal('{"id":"ord_1"}', raw.body)
    assert.is_nil(raw.value)
    assert.are.same(EXPECTED, all(raw.headers))
    raw = assert(h:perform { method = "GET", url = url, json = true })
    assert.is_nil(raw.body)
    assert.are.same({ id = "ord_1" }, raw.value)
    assert.are.equal("req-7", raw.headers["x-request-id"])
    -- an error status is never decoded by the transport: the error keeps the text
    raw = assert(h:perform { method = "GET", url = srv.url .. "/missing", json = true })
    assert.are.equal(404, raw.status)
    assert.is_nil(raw.value)
    assert.are.equal('{"message":"no such order","code":404}', raw.body)
    -- the answer says whether its final header block has X-Rate-Limit-* lines
    assert.is_nil(raw.rate_limit)
    raw = assert(h:perform { method = "GET", url = srv.url .. "/plain", json = true })
    assert.are.equal(false, raw.rate_limit)
    assert.is_nil(raw.headers["x-rate-limit-limit"])
    raw = assert(h:perform { method = "GET", url = srv.url .. "/plain/continue", json = true })
    assert.are.equal(false, raw.rate_limit) -- the 1xx block's do not count
    h:close()
  end)

  it("response.rate_limit: nil without the headers, the values with them", function()
    local _, _, res = client:request { method = "GET", path = { "v1", "plain" } }
    assert.is_nil(res.rate_limit)
    _, _, res = client:request { method = "GET", path = { "v1", "x" } }
    assert.are.same({ limit = 100, remaining = 99 }, res.rate_limit)
  end)
end)
