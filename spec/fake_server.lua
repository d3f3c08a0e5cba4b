--- Test helper: runs the bundled fake server in a child process and talks to
-- its control API.  Start-up is synchronised on the "listening on" line the
-- server prints once it accepts connections.
local busted = require "busted"
local core = require "voucherify.core"
local json = require "voucherify.json"
local voucherify = require "voucherify"

local fake_server = {}

fake_server.LUA = os.getenv("LUA") or "lua5.4"
fake_server.APP_ID = "test-app-id"
fake_server.APP_TOKEN = "test-app-token-s3cr3t"
fake_server.ACCESS_TOKEN = "test-bearer-t0ken"

local Server = {}
Server.__index = Server

--- Starts a listener whose backlog is full, so connects to it hang.
-- @return its URL, and a function that stops it
function fake_server.blackhole()
  local pipe = assert(io.popen("exec build/support/blackhole", "r"))
  local line = assert(pipe:read("l"), "blackhole did not start")
  local port, pid = line:match("^port (%d+) pid (%d+)$")
  return "http://127.0.0.1:" .. port, function()
    os.execute("kill " .. pid)
    pipe:close()
  end
end

--- Starts a server that speaks HTTPS with a certificate for 127.0.0.1 from a
-- test CA made now with openssl; `server.ca_file` is the CA's PEM file.
function fake_server.start_tls()
  -- mktemp -d creates the directory atomically under a unique name (not
  -- os.tmpname + mkdir -p, where another run could take the same name between the two)
  local mktemp = assert(io.popen([[mktemp -d "${TMPDIR:-/tmp}/voucherify-tls.XXXXXX"]]))
  local dir = mktemp:read("l")
  assert(mktemp:close() and dir, "mktemp -d failed")
  local function sh(cmd)
    assert(os.execute(("cd %s && %s >/dev/null 2>&1"):format(dir, cmd)), "failed: " .. cmd)
  end
  sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=voucherify-lua test CA'")
  sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1'")
  sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf")
  sh("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1"
    .. " -extfile ext.cnf")
  local server = fake_server.start(("--tls-cert %s/server.pem --tls-key %s/server.key"):format(dir, dir))
  server.ca_file = dir .. "/ca.pem"
  server.tls_dir = dir
  return server
end

--- Starts a server; returns an object with `url`, `client_options()`, `requests()`, `stop()`.
function fake_server.start(extra_args)
  local cmd = ("exec %s fakeserver/bin/voucherify-fake-server --port 0 --app-id %s --app-token %s"
    .. " --access-token %s %s"):format(fake_server.LUA, fake_server.APP_ID, fake_server.APP_TOKEN,
    fake_server.ACCESS_TOKEN, extra_args or "")
  local pipe = assert(io.popen(cmd, "r"))
  local line = pipe:read("l")
  local url = line and line:match("listening on (https?://%S+)")
  if not url then
    pipe:close()
    error("fake server did not start: " .. tostring(line))
  end
  -- the control API is reached over the server's own TLS too: its test CA is not checked here
  return setmetatable({ url = url, pipe = pipe, http = core.http_new { verify_tls = false } }, Server)
end

--- Gives the tests of the enclosing `describe` a server: started before the
-- first test, reset (data and requests forgotten) before each one, stopped
-- after the last.  With `opts.client`, a client of it too, closed before the
-- server stops.  Call it at the top of a `describe` body; `bind` gets them
-- before the first test, to set the block's locals:
--
--   local server, client
--   fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)
--
-- @tparam[opt] table opts `client`: true, or options added to `client_options()`
-- @tparam function bind called as `bind(server, client)`
function fake_server.suite(opts, bind)
  if type(opts) == "function" then opts, bind = nil, opts end
  local want_client = opts and opts.client
  local server, client
  busted.setup(function()
    server = fake_server.start()
    if want_client then
      client = voucherify.new(server:client_options(want_client ~= true and want_client or nil))
    end
    bind(server, client)
  end)
  busted.teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)
  busted.before_each(function() server:reset() end)
end

--- Options for voucherify.new that reach this server.
function Server:client_options(extra)
  local o = { app_id = fake_server.APP_ID, app_token = fake_server.APP_TOKEN, base_url = self.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

--- A control-API call; returns the decoded body (or true for 204).
function Server:control(method, path, body)
  local res = assert(self.http:perform {
    method = method, url = self.url .. path, timeout = 10,
    body = body and assert(json.encode(body)) or nil,
    headers = body and { "Content-Type: application/json" } or nil,
  })
  assert(res.status < 300, "control call failed: " .. res.status .. " " .. res.body)
  if res.status == 204 then return true end
  return assert(json.decode(res.body))
end

--- The API requests the server received, oldest first (method, path, query, headers, body).
function Server:requests()
  return self:control("GET", "/_fake/requests").requests
end

--- Forgets the requests received so far.
function Server:clear_requests()
  self:control("DELETE", "/_fake/requests")
end

--- Forgets all data and requests.
function Server:reset()
  self:control("POST", "/_fake/reset")
end

--- Queues faults for the next API requests (see the fake server's README section).
function Server:faults(list)
  self:control("POST", "/_fake/faults", { faults = json.array(list) })
end

--- Freezes the server's clock at `iso` (nil: let it run again).
function Server:freeze_clock(iso)
  self:control("POST", "/_fake/clock", { now = iso or json.null })
end

--- Makes the async action or export `id` end FAILED / ERROR.
function Server:fail_job(id)
  self:control("POST", "/_fake/jobs/" .. id .. "/fail")
end

--- Gives customer `id` `count` redeemables.
function Server:seed_redeemables(id, count)
  self:control("POST", "/_fake/customers/" .. id .. "/redeemables", { count = count })
end

--- Sets the segments of customer `id`.
function Server:set_segments(id, segments)
  self:control("POST", "/_fake/customers/" .. id .. "/segments", { segments = json.array(segments) })
end

--- Sets the lifetime of the OAuth tokens issued from now on.
function Server:oauth_ttl(seconds)
  self:control("POST", "/_fake/oauth", { ttl = seconds })
end

--- Makes every issued OAuth token invalid.
function Server:revoke_tokens()
  self:control("POST", "/_fake/oauth/revoke")
end

--- Stops the server and waits for its process to exit.
function Server:stop()
  pcall(self.control, self, "POST", "/_fake/shutdown")
  self.http:close()
  self.pipe:close()
  if self.tls_dir then os.execute("rm -rf " .. self.tls_dir) end
end

return fake_server
