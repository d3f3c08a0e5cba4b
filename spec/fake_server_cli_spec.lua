-- The fake server's command (fakeserver/bin/voucherify-fake-server, issue 13
-- section 4), run for real: --help lists every option, a bad option is one
-- line and the usage (exit 2), a port in use one line (exit 1, no stack
-- trace), and --verbose logs one line per request.
local core = require "voucherify.core"
local socket = require "cqueues.socket"
local fake_server = require "fake_server"

local COMMAND = fake_server.LUA .. " fakeserver/bin/voucherify-fake-server"

-- every option the command takes, and whether it takes a value
local OPTIONS = {
  ["--host"] = true, ["--port"] = true, ["--download-port"] = true, ["--app-id"] = true,
  ["--app-token"] = true, ["--access-token"] = true, ["--oauth-ttl"] = true, ["--tls-cert"] = true,
  ["--tls-key"] = true, ["--latency"] = true, ["--jitter"] = true, ["--rate-limit"] = true,
  ["--bulk-rate-limit"] = true, ["--cycle-limit"] = true, ["--rate-limit-grace"] = true, ["--request-timeout"] = true,
  ["--strict"] = false, ["--verbose"] = false, ["--help"] = false,
}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- runs the command to its end: exit status, stdout, stderr
local function run(args)
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(("%s %s </dev/null >%s 2>%s"):format(COMMAND, args, out, err))
  local stdout, stderr = read(out), read(err)
  os.remove(out)
  os.remove(err)
  return code, stdout, stderr
end

local function lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

describe("the fake server's command", function()
  it("--help lists every option with a description, on stdout, and exits 0", function()
    for _, flag in ipairs({ "--help", "-h" }) do
      local code, stdout, stderr = run(flag)
      assert.are.equal(0, code)
      assert.are.equal("", stderr)
      assert.matches("^voucherify%-fake%-server: ", stdout)
      local described = {}
      for _, line in ipairs(lines(stdout)) do
        local name, rest = line:match("^  (%-%-[%w-]+)(.*)$")
        if name then
          local value, text = rest:match("^ (%S+)%s%s+(%S.*)$")
          if not value then text = rest:match("^%s%s+(%S.*)$") end
          described[name] = { value = value, text = text }
        end
      end
      for name, takes_value in pairs(OPTIONS) do
        assert.truthy(described[name], name .. " is not described")
        assert.truthy(described[name].text and #described[name].text > 10, name .. " has no description")
        assert.are.equal(takes_value, described[name].value ~= nil, name)
      end
      for name in pairs(described) do assert.truthy(OPTIONS[name] ~= nil, "unexpected " .. name) end
    end
  end)

  it("a bad option or value is one line saying which, then the usage; exit 2", function()
    for _, case in ipairs({
      { "--port abc", "--port" }, { "--port 70000", "--port" }, { "--port -1", "--port" },
      { "--download-port 1.5", "--download-port" }, { "--oauth-ttl 0", "--oauth-ttl" },
      { "--oauth-ttl soon", "--oauth-ttl" }, { "--latency soon", "latency" }, { "--rate-limit 100", "rate_limit" },
      { "--bogus", "--bogus" }, { "--port", "--port" }, { "--app-id --verbose", "--app-id" },
      { "--tls-cert only.pem", "--tls-key" },
    }) do
      local code, stdout, stderr = run(case[1])
      assert.are.equal(2, code, case[1])
      assert.are.equal("", stdout, case[1])
      local l = lines(stderr)
      assert.matches("^voucherify%-fake%-server: .*" .. case[2]:gsub("%-", "%%-"), l[1], nil, case[1])
      assert.matches("^usage: voucherify%-fake%-server %[", l[2], nil, case[1])
      assert.is_nil(stderr:find("traceback", 1, true), case[1])
    end
  end)

  it("a port in use is one line and exit 1, not a stack trace", function()
    local server = fake_server.start()
    local port = server.url:match(":(%d+)$")
    local ok, code, stdout, stderr = pcall(run, "--port " .. port)
    server:stop()
    assert.is_true(ok, code)
    assert.are.equal(1, code)
    assert.are.equal("", stdout)
    assert.are.same({ ("voucherify-fake-server: cannot listen on 127.0.0.1:%s: Address already in use"):format(port) },
      lines(stderr))
  end)

  it("a certificate it cannot read is one line and exit 1", function()
    local code, _, stderr = run("--tls-cert /nonexistent/cert.pem --tls-key /nonexistent/key.pem")
    assert.are.equal(1, code)
    assert.are.same({ "voucherify-fake-server: /nonexistent/cert.pem: No such file or directory" }, lines(stderr))
  end)

  it("--strict checks each answer against the OpenAPI spec: a drift is a 500 naming it", function()
    -- the seeding control call takes what the API would never send (a number for a city)
    local seeded = '{"customers":[{"source_id":"odd","address":{"city":5}}]}'
    local statuses = {}
    for _, args in ipairs({ "", "--strict" }) do
      local server = fake_server.start(args)
      local http = core.http_new()
      local ok, err = pcall(function()
        assert.are.equal(200, assert(http:perform { method = "POST", url = server.url .. "/_fake/customers",
          body = seeded, timeout = 10 }).status)
        local res = assert(http:perform { method = "GET", url = server.url .. "/v1/customers/odd", timeout = 10,
          headers = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN } })
        statuses[#statuses + 1] = res.status
        if res.status == 500 then assert.matches("address.city", res.body, 1, true) end
      end)
      http:close()
      server:stop()
      assert(ok, err)
    end
    assert.are.same({ 200, 500 }, statuses)
  end)

  it("--verbose logs one line per request to stderr: method, path, status, time in ms", function()
    local log = os.tmpname()
    local server = fake_server.start("--verbose 2>" .. log)
    local http = core.http_new()
    local auth = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN }
    local calls = { { "GET", "/v1/orders", auth }, { "GET", "/v1/customers/nobody", auth },
      { "GET", "/v1/orders", {} }, { "POST", "/_fake/clock", nil } }
    for _, c in ipairs(calls) do
      assert(http:perform { method = c[1], url = server.url .. c[2] .. "?limit=1", headers = c[3], timeout = 10 })
    end
    -- a path with an escape sequence in it (libcurl would not send one)
    local con = assert(socket.connect(server.url:match("^http://([^:]+):(%d+)$")))
    con:setmode("b", "b") -- bytes as they are: no CRLF translation
    assert(con:write("GET /v1/\27[31mred HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      .. table.concat(auth, "\r\n") .. "\r\n\r\n"))
    assert.matches("^HTTP/1.1 404 ", con:read("*a"))
    con:close()
    http:close()
    server:stop()
    local got = lines(read(log))
    os.remove(log)
    local want = { "GET /v1/orders 200", "GET /v1/customers/nobody 404", "GET /v1/orders 401",
      "POST /_fake/clock 204", "GET /v1/%1B[31mred 404" }
    for i, prefix in ipairs(want) do
      assert.truthy(got[i], "line " .. i .. " missing")
      local rest = got[i]:match("^fake server: " .. prefix:gsub("%p", "%%%0") .. " (.*)$")
      assert.truthy(rest, got[i])
      assert.matches("^%d+%.%d ms$", rest, nil, got[i])
    end
    -- the shutdown's line, and nothing else
    assert.matches("^fake server: POST /_fake/shutdown 204 ", got[6])
    assert.are.equal(6, #got)
  end)
end)
