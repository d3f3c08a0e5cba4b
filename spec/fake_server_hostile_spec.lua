-- The fake server against a hostile client (issue 13, review of the fake
-- server): it keeps accepting when out of file descriptors and drops clients
-- that send too slowly; what it accepts never makes a later read fail (nulls,
-- bytes that are not UTF-8, deep nesting, huge numbers); a huge request is
-- refused without being walked; a JSON body must say it is JSON; malformed
-- filters, control bodies, faults and HTTP framing get a 400 (or 431, 408),
-- never a 500 or a desynchronised connection.
local core = require "voucherify.core"
local json = require "voucherify.json"
local cqueues = require "cqueues"
local socket = require "cqueues.socket"
local fake_server = require "fake_server"

local COMMAND = fake_server.LUA .. " fakeserver/bin/voucherify-fake-server"

local AUTH = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN }
local RAW_AUTH = table.concat(AUTH, "\r\n") .. "\r\n"

local function host_port(url)
  local host, port = url:match("^https?://%[?([^%]]-)%]?:(%d+)$")
  return host, tonumber(port)
end

-- a connection to `url`, bytes as they are
local function connect(url, timeout)
  local host, port = host_port(url)
  local con = assert(socket.connect { host = host, port = port })
  con:onerror(function(_, _, why) return why end)
  con:setmode("b", "b")
  assert(con:connect(timeout or 10))
  return con
end

-- sends `bytes` on a new connection, then reads until the server closes it (or `timeout`)
local function raw(url, bytes, timeout)
  local con = connect(url)
  assert(con:xwrite(bytes, "b", 10))
  local got = con:xread("*a", timeout or 10)
  con:close()
  return got
end

local function decode_b64(s)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local out, bits, n = {}, 0, 0
  for c in s:gmatch("[^=]") do
    bits, n = (bits << 6) | (chars:find(c, 1, true) - 1), n + 6
    if n >= 8 then
      n = n - 8
      out[#out + 1] = string.char((bits >> n) & 0xFF)
    end
  end
  return table.concat(out)
end

describe("the fake server, against a hostile client,", function()
  local server, http
  fake_server.suite({ start = { strict = true, args = { "--request-timeout", "1" } } }, function(s) server = s end)
  setup(function() http = core.http_new() end)
  teardown(function() http:close() end)

  -- status, decoded body (nil when not JSON), raw body
  local function call(method, path, body, headers)
    local h = { AUTH[1], AUTH[2], "Content-Type: application/json" }
    for _, x in ipairs(headers or {}) do h[#h + 1] = x end
    local res = assert(http:perform { method = method, url = server.url .. path, headers = h,
      body = body and (type(body) == "string" and body or assert(json.encode(body))) or nil, timeout = 30 })
    return res.status, res.body ~= "" and json.decode(res.body) or nil, res.body
  end

  local function ok(method, path, body, headers)
    local status, decoded, text = call(method, path, body, headers)
    assert(status < 300, method .. " " .. path .. ": " .. status .. " " .. text)
    return decoded
  end

  local function control(method, path, body)
    local res = assert(http:perform { method = method, url = server.url .. path, body = body, timeout = 10 })
    return res.status, res.body ~= "" and json.decode(res.body) or nil, res.body
  end

  describe("connections:", function()
    it("a client that sends its request's head or body too slowly gets 408 and the connection closes", function()
      for _, partial in ipairs({
        "GET /v1/orders HTTP/1.1\r\nHost: x\r\n",
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{}",
      }) do
        local started = cqueues.monotime()
        local got = raw(server.url, partial, 20)
        local took = cqueues.monotime() - started
        assert.matches("^HTTP/1.1 408 ", got)
        assert.is_true(took >= 0.9 and took < 10, tostring(took))
      end
    end)
  end)

  describe("HTTP framing:", function()
    it("more than 100 header lines is a 431, and nothing after them is read as a request", function()
      local got = raw(server.url, "GET /v1/orders HTTP/1.1\r\n" .. ("X-A: 1\r\n"):rep(150) .. "\r\n"
        .. "GET /v1/orders HTTP/1.1\r\n" .. RAW_AUTH .. "\r\n")
      assert.matches("^HTTP/1.1 431 ", got)
      local _, answers = got:gsub("HTTP/1%.1 %d%d%d ", "")
      assert.are.equal(1, answers)
    end)

    it("a Content-Length that is not only digits is a 400", function()
      for _, length in ipairs({ "0x2", "2e0", "+2", "-0", "2.5", "2, 2", " " }) do
        local got = raw(server.url, "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" .. RAW_AUTH
          .. "Content-Type: application/json\r\nContent-Length: " .. length .. "\r\n\r\n{}")
        assert.truthy(got:match("^HTTP/1.1 400 "), length)
      end
      assert.are.equal(0, ok("GET", "/v1/orders").total)
    end)

    it("a chunk size that is not hex is a 400, and the connection closes", function()
      for _, size in ipairs({ "zz", "", "ffffffffffffffffffff", "-1" }) do
        local got = raw(server.url, "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" .. RAW_AUTH
          .. "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" .. size .. "\r\n{}\r\n0\r\n\r\n")
        assert.truthy(got:match("^HTTP/1.1 400 "), size)
        assert.matches("bad chunk size", got, 1, true)
      end
    end)

    it("an answer to HEAD has the headers only", function()
      local got = raw(server.url, "HEAD /v1/orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" .. RAW_AUTH .. "\r\n")
      assert.matches("^HTTP/1.1 405 ", got)
      local head, body = got:match("^(.-\r\n\r\n)(.*)$")
      assert.truthy(head)
      assert.matches("\r\nContent%-Length: %d+\r\n", head)
      assert.are.equal("", body)
    end)
  end)

  describe("what it accepts never makes a later read fail:", function()
    it("null for an optional field that is not nullable clears it: the record leaves it out", function()
      local c = ok("POST", "/v1/customers", '{"source_id":"n1","phone":"1","address":{"city":null,"line_1":"L"},'
        .. '"metadata":{"k":1}}')
      assert.are.same({ line_1 = "L" }, c.address)
      c = ok("PUT", "/v1/customers/" .. c.id, '{"metadata":null,"phone":null}')
      assert.are.same({}, c.metadata)
      assert.is_nil(c.phone)
      local o = ok("POST", "/v1/orders", '{"source_id":"o1","discount_amount":null,"metadata":{"a":1},'
        .. '"items":[{"price":null,"quantity":2,"product_id":"p"}]}')
      assert.is_nil(o.discount_amount)
      assert.is_nil(o.items[1].price)
      assert.are.equal("p", o.items[1].product_id)
      o = ok("PUT", "/v1/orders/" .. o.id, '{"items":null,"metadata":null}')
      assert.are.same({}, o.metadata)
      assert.are.equal(0, #o.items)
      -- an order always has a status
      local status, body = call("PUT", "/v1/orders/" .. o.id, '{"status":null}')
      assert.are.equal(400, status)
      assert.matches("status", body.details)
      -- a strict server checks every answer against the spec: these reads would be 500s
      assert.are.equal(1, ok("GET", "/v1/customers").total)
      assert.are.equal(1, ok("GET", "/v1/orders").total)
      ok("GET", "/v1/customers/n1")
      ok("GET", "/v1/orders/o1")
    end)

    it("GET /_fake/requests after requests with bytes that are not UTF-8, or a body cut inside a character",
      function()
        local latin1 = "name\r\ncaf\233\r\n"
        local got = raw(server.url, "POST /v1/orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
          .. "User-Agent: caf\233\r\n"
          .. RAW_AUTH .. "Content-Type: text/csv\r\nContent-Length: " .. #latin1 .. "\r\n\r\n" .. latin1)
        assert.matches("^HTTP/1.1 400 ", got)
        -- 65535 bytes, then a 2-byte character straddling the 64 KiB cut
        ok("POST", "/v1/orders", '{"source_id":"' .. ("x"):rep(65536 - 15) .. '\195\169"}')
        local status, log, text = control("GET", "/_fake/requests")
        assert.are.equal(200, status, text)
        local first, second = log.requests[1], log.requests[2]
        assert.are.equal("caf\u{FFFD}", first.headers["user-agent"])
        assert.are.equal("name\r\ncaf\u{FFFD}\r\n", first.body)
        assert.are.equal(latin1, decode_b64(first.body_base64))
        assert.are.equal(65535, #second.body)
        assert.is_nil(second.body_base64)
      end)

    it("a CSV import row that is not UTF-8 is a failed row; the customers list still reads", function()
      local boundary = "XyZ"
      local file = "source_id,name\r\ncsv1,Ann\r\ncsv2,Caf\233\r\n"
      local body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n"
        .. "Content-Type: text/csv\r\n\r\n%s\r\n--%s--\r\n"):format(boundary, file, boundary)
      local res = assert(http:perform { method = "POST", url = server.url .. "/v1/customers/importCSV",
        headers = { AUTH[1], AUTH[2], "Content-Type: multipart/form-data; boundary=" .. boundary },
        body = body, timeout = 10 })
      assert.are.equal(202, res.status, res.body)
      local id = json.decode(res.body).async_action_id
      local action
      for _ = 1, 5 do
        action = ok("GET", "/v1/async-actions/" .. id)
        if action.status == "DONE" then break end
      end
      assert.are.equal(1, action.result.done_count)
      assert.are.equal(1, action.result.failed_count)
      assert.matches("not UTF%-8", action.result.failed[1].reason)
      assert.are.equal(1, ok("GET", "/v1/customers").total)
    end)

    it("a body nested deeper than 100 levels is a 400; the list still reads", function()
      local deep = '{"source_id":"deep","metadata":' .. ('{"a":'):rep(997) .. "1" .. ("}"):rep(998)
      local status, body = call("POST", "/v1/customers", deep)
      assert.are.equal(400, status)
      assert.are.equal("invalid_payload", body.key)
      assert.matches("deeper than 100", body.details)
      ok("POST", "/v1/customers", '{"source_id":"ok","metadata":' .. ('{"a":'):rep(90) .. "1" .. ("}"):rep(91))
      assert.are.equal(1, ok("GET", "/v1/customers").total)
    end)

    it("an id in the path that is not UTF-8 is a 404 (not a 500)", function()
      local status, body = call("GET", "/v1/customers/%ff")
      assert.are.equal(404, status)
      assert.are.equal("Cannot find customer with id \u{FFFD}", body.details)
      status = call("PUT", "/v1/orders/%ff%fe", "{}")
      assert.are.equal(404, status)
    end)

    it("an answer it cannot encode is a 500 with a request_id", function()
      -- the control API seeds what the API would refuse: metadata nested past the encoder's limit
      local status = control("POST", "/_fake/customers", '{"customers":[{"source_id":"deep","metadata":'
        .. ('{"a":'):rep(997) .. "1" .. ("}"):rep(998) .. "]}")
      assert.are.equal(200, status)
      -- an activity event nests the customer deeper than the seeding did
      ok("PUT", "/v1/customers/deep", { name = "D" })
      local s, body = call("GET", "/v1/customers/deep/activity")
      assert.are.equal(500, s)
      assert.matches("^v%-%x+$", body.request_id)
    end)

    it("integers: 1.0 is 1 everywhere; amounts beyond 2^53 are a 400 and change nothing", function()
      local o = ok("POST", "/v1/orders", '{"source_id":"i1","amount":1.0,"discount_amount":0.0}')
      assert.are.equal(1, o.amount)
      assert.are.equal(math.type(1), math.type(o.amount))
      o = ok("POST", "/v1/orders", '{"source_id":"i2","items":[{"price":100.0,"quantity":2.0}]}')
      assert.are.equal(200, o.amount)
      assert.are.equal(200, o.items[1].amount)
      for _, body in ipairs({
        '{"source_id":"i3","items":[{"price":4611686018427387904,"quantity":4}]}', -- 2^62: beyond 2^53
        '{"source_id":"i3","items":[{"price":4503599627370496,"quantity":4}]}',  -- 2^52 * 4
        '{"source_id":"i3","items":[{"amount":9007199254740992},{"amount":9007199254740992}]}',
      }) do
        local status, err = call("POST", "/v1/orders", body)
        assert.are.equal(400, status, body)
        assert.matches("9007199254740992", err.details, 1, true)
      end
      local status = call("PUT", "/v1/orders/i1", '{"items":[{"price":4503599627370496,"quantity":4}]}')
      assert.are.equal(400, status)
      assert.are.equal(1, ok("GET", "/v1/orders/i1").amount)
      assert.are.equal(2, ok("GET", "/v1/orders").total)
    end)
  end)

  describe("requests:", function()
    it("an import of 300,000 orders is refused at once for its size", function()
      local body = "[" .. ('{"source_id":5},'):rep(299999) .. '{"source_id":5}]'
      local status, err = call("POST", "/v1/orders/import", body)
      assert.are.equal(400, status)
      assert.are.equal("Request body should NOT have more than 2000 items", err.details)
    end)

    it("the check stops walking a list at its maxItems, and a body once it has MAX_PROBLEMS problems", function()
      local schema = require "voucherify.fake.schema"
      local op = assert(schema.operation("POST", "/v1/orders/import"))
      -- a list that counts the items read from it
      local function counted(n, item)
        local reads = { n = 0 }
        local list = setmetatable({}, { __len = function() return n end, __index = function(_, i)
          if math.type(i) == "integer" and i >= 1 and i <= n then
            reads.n = reads.n + 1
            return item
          end
        end })
        return list, reads
      end
      local big, reads = counted(300000, { source_id = 5 })
      local problems = schema.validate(op.body, big, "", "request")
      assert.are.same({ { path = "", message = "should NOT have more than 2000 items" } }, problems)
      assert.is_true(reads.n <= 1, tostring(reads.n))
      local wrong
      wrong, reads = counted(2000, { source_id = 5, amount = "x", status = 1 })
      problems = schema.validate(op.body, wrong, "", "request")
      assert.are.equal(schema.MAX_PROBLEMS, #problems)
      assert.is_true(reads.n <= schema.MAX_PROBLEMS + 1, tostring(reads.n))
    end)

    it("a JSON body sent as another Content-Type is a 400, and nothing is made", function()
      for _, content_type in ipairs({ "text/plain", "application/x-www-form-urlencoded" }) do
        local res = assert(http:perform { method = "POST", url = server.url .. "/v1/orders",
          headers = { AUTH[1], AUTH[2], "Content-Type: " .. content_type }, body = '{"source_id":"o1"}', timeout = 10 })
        assert.are.equal(400, res.status)
        local err = json.decode(res.body)
        assert.are.equal("invalid_payload", err.key)
        assert.are.equal("Request body should be application/json, not " .. content_type, err.details)
      end
      assert.are.equal(0, ok("GET", "/v1/orders").total)
    end)

    it("no body where the operation requires one is a 400", function()
      local status, err = call("POST", "/v1/orders")
      assert.are.equal(400, status)
      assert.are.equal("Request body is required", err.details)
    end)

    it("a date or date-time of a day the calendar does not have is a 400", function()
      for _, case in ipairs({
        { "POST", "/v1/customers", '{"source_id":"b","birthdate":"2023-02-29"}' },
        { "POST", "/v1/customers", '{"source_id":"b","birthdate":"2024-04-31"}' },
        { "POST", "/v1/orders", '{"source_id":"o","created_at":"2024-02-30T00:00:00Z"}' },
        { "GET", "/v1/customers?created_at[after]=2024-02-30T00:00:00Z" },
      }) do
        local status = call(case[1], case[2], case[3])
        assert.are.equal(400, status, case[2] .. " " .. tostring(case[3]))
      end
      ok("POST", "/v1/customers", '{"source_id":"b","birthdate":"2024-02-29"}')
      assert.are.equal(0, ok("GET", "/v1/orders").total)
    end)

    it("malformed deepObject filters are a 400 invalid_query_params", function()
      ok("POST", "/v1/customers", { source_id = "c1" })
      for _, q in ipairs({ "filters[a]=b&filters[a][conditions][$in][0]=x",
        "filters[a][conditions][$in][0]=x&filters[a]=b",
        "filters[a=x", "filters[a]x=1" }) do
        local status, err, text = call("GET", "/v1/customers/c1/redeemables?" .. q)
        assert.are.equal(400, status, q .. ": " .. text)
        assert.are.equal("invalid_query_params", err.key)
        assert.is_nil(text:find(".lua", 1, true), text)
      end
    end)
  end)

  describe("control bodies:", function()
    it("an unknown key inside a setting or a seeded customer's address is a 400 naming it", function()
      for _, case in ipairs({
        { "/_fake/limits", '{"rate_limit":{"requests":5,"per":1,"bogus":1}}', "bogus" },
        { "/_fake/limits", '{"cycle":{"requests":5,"prr":1}}', "prr" },
        { "/_fake/customers", '{"customers":[{"source_id":"s","address":{"city":"X","zip":"1"}}]}', "zip" },
      }) do
        local status, err = control("POST", case[1], case[2])
        assert.are.equal(400, status, case[2])
        assert.matches(case[3], err.message, 1, true)
      end
      assert.are.equal(404, (call("GET", "/v1/customers/s")))
    end)

    it("a fault may not set the framing headers, a 1xx status, or a body without a status", function()
      for _, fault in ipairs({
        '{"headers":{"Content-Length":"5"}}', '{"headers":{"connection":"close"}}',
        '{"headers":{"Transfer-Encoding":"chunked"}}', '{"status":101}', '{"status":100,"body":"x"}',
        '{"body":{"a":1}}',
      }) do
        local status, err, text = control("POST", "/_fake/faults", '{"faults":[' .. fault .. "]}")
        assert.are.equal(400, status, fault .. ": " .. text)
        assert.matches("faults%[0%]", err.message)
      end
      assert.are.equal(200, (call("GET", "/v1/orders")))
    end)
  end)
end)

describe("the fake server's command, against a hostile client,", function()
  -- starts the command under `sh -c` (for ulimit); returns its URL (or nil), a function
  -- that stops it (POST /_fake/shutdown, else a kill: the status of the shutdown's
  -- answer, and what it printed since its first line), and its first line
  local function start(shell_prefix, args)
    local pipe = assert(io.popen(("sh -c 'echo $$; %s exec %s --port 0 %s' 2>&1"):format(shell_prefix, COMMAND,
      args or "")))
    local pid = assert(math.tointeger(tonumber(pipe:read("l"))))
    local first = pipe:read("l") or ""
    local url = first:match("listening on (%S+)$")
    local function stop()
      local http = core.http_new()
      local res = url and http:perform { method = "POST", url = url .. "/_fake/shutdown", timeout = 10 }
      http:close()
      if not res then os.execute("kill " .. pid) end
      local printed = pipe:read("a")
      pipe:close()
      return res and res.status, printed
    end
    return url or nil, stop, first
  end

  it("keeps accepting once connections held open have run it out of file descriptors", function()
    local url, stop = start("ulimit -n 40;", ("--app-id %s --app-token %s --verbose"):format(fake_server.APP_ID,
      fake_server.APP_TOKEN))
    assert.truthy(url)
    local held = {}
    for i = 1, 60 do
      -- the first ones are accepted until the descriptors run out; the others wait in the backlog
      local con = connect(url, 5)
      assert(con:xwrite("GET /v1/orders HTTP/1.1\r\nX-A: 1\r\n", "b", 5), i)
      held[i] = con
    end
    for _, con in ipairs(held) do con:close() end
    local http = core.http_new()
    local res, err = http:perform { method = "GET", url = url .. "/v1/orders", headers = AUTH, timeout = 20 }
    http:close()
    local shut, log = stop()
    assert.truthy(res, err and err.message)
    assert.are.equal(200, res.status)
    assert.are.equal(204, shut)
    -- it did run out (--verbose logs each failed accept)
    assert.matches("accept: Too many open files", log, 1, true)
  end)

  it("answers again once the request timeout drops connections held open, unfinished, for ever", function()
    local url, stop = start("ulimit -n 40;", ("--app-id %s --app-token %s --request-timeout 1"):format(
      fake_server.APP_ID, fake_server.APP_TOKEN))
    assert.truthy(url)
    local held = {}
    for i = 1, 60 do
      local con = connect(url, 5)
      assert(con:xwrite("GET /v1/orders HTTP/1.1\r\nX-A: 1\r\n", "b", 5), i)
      held[i] = con
    end
    -- the clients keep theirs open: the server closes its ends (408) and accepts the next
    local http = core.http_new()
    local res, err = http:perform { method = "GET", url = url .. "/v1/orders", headers = AUTH, timeout = 20 }
    http:close()
    for _, con in ipairs(held) do con:close() end
    local shut = stop()
    assert.truthy(res, err and err.message)
    assert.are.equal(200, res.status)
    assert.are.equal(204, shut)
  end)

  it("--host ::1 prints the URL with the address in brackets, and serves on it", function()
    local url, stop, printed = start("", "--host ::1")
    local shut = stop()
    assert.matches("^http://%[::1%]:%d+$", url or printed)
    assert.are.equal(204, shut)
  end)
end)
