-- The test kit (voucherify.testing) where the project's specs do not reach:
-- the project's specs start every fake server through it (spec/fake_server.lua),
-- so start, client options, requests, faults, reset and stop are tested there too.
local testing = require "voucherify.testing"
local voucherify = require "voucherify"
local json = require "voucherify.json"
local process = require "support.process"

local core = require "voucherify.core"

local LUA = os.getenv("LUA") or "lua5.4"

local function alive(pid)
  return os.execute("kill -0 " .. math.tointeger(pid) .. " 2>/dev/null") == true
end

local function exists(path)
  return os.execute("test -e '" .. path .. "'") == true
end

-- Runs `script` in a child Lua with the checkout's paths; returns all it printed,
-- once it and every process holding its stdout (the kit's watcher) are gone.
local function child(script)
  local p = assert(io.popen(LUA .. " - 2>&1 <<'EOF'\n"
    .. 'package.path = "lua/?.lua;lua/?/init.lua;fakeserver/?.lua;" .. package.path\n'
    .. 'package.cpath = "build/?.so;" .. package.cpath\n'
    .. script .. "\nEOF\n"))
  local out = p:read("a")
  p:close()
  return out
end

-- Whether process `pid` runs (a zombie, which an orphan may be until init
-- reaps it, does not).
local function running(pid)
  local p = assert(io.popen("ps -o stat= -p " .. math.tointeger(pid) .. " 2>/dev/null"))
  local stat = p:read("a")
  p:close()
  return stat:find("%u") ~= nil and not stat:find("^%s*Z")
end

-- How many running processes have exactly these arguments (a sleep with a
-- duration no other test uses).
local function count(args)
  local p = assert(io.popen("ps -eo stat=,args="))
  local n = 0
  for line in p:lines() do
    local stat, a = line:match("^%s*(%S+)%s+(.-)%s*$")
    if a == args and not stat:find("^Z") then n = n + 1 end
  end
  p:close()
  return n
end

-- A duration of `whole` seconds and a random fraction (n / 2^14, exact), and
-- its text as the kit and `ps` show it: a sleep of it is this run's, even
-- while another run of this spec sleeps too.
local function unique_seconds(whole)
  local f = assert(io.open("/dev/urandom", "rb"))
  local hi, lo = f:read(2):byte(1, 2)
  f:close()
  local v = whole + ((hi * 256 + lo) % 16383 + 1) / 16384
  return v, ("%.17g"):format(v)
end

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs `script` in a child Lua that leads a process group of its own (setsid),
-- reads the first line it prints, sends `signal` to its whole group (as
-- Ctrl-C or `timeout` do), and returns that line once every process holding
-- the child's stdout (the kit's watcher too) has gone.
local function group_child(script, signal)
  local p = assert(io.popen("setsid " .. LUA .. " -e " .. sh_quote(
    'package.path = "lua/?.lua;lua/?/init.lua;fakeserver/?.lua;" .. package.path\n'
    .. 'package.cpath = "build/?.so;" .. package.cpath\n'
    .. 'local pgid = io.popen("echo $PPID"):read("l")\n' .. script) .. " 2>&1"))
  local line = p:read("l")
  local pgid = line and line:match("pgid (%d+)")
  assert(pgid, line)
  os.execute("kill -" .. signal .. " -" .. pgid)
  local rest = p:read("a")
  p:close()
  return line, rest
end

-- The error `fn` raises, which must come from this file's line (the caller's).
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "it did not raise")
  assert.matches("testing_kit_spec%.lua:%d+: voucherify%.testing: ", err)
  return err
end

describe("voucherify.testing", function()
  describe("start and stop", function()
    it("serves on a free loopback port, gives a working client, and stops once", function()
      local server = testing.start()
      assert.matches("^http://127%.0%.0%.1:%d+$", server.url)
      assert.truthy(alive(server.pid))
      local client = server:client()
      assert.are.equal("list", assert(client.orders:list()).object)
      local pid, dir = server.pid, server.dir
      assert.is_true(server:stop())
      assert.is_false(server:stop())
      assert.is_false(alive(pid))
      assert.is_false(exists(dir))
      -- its client is closed with it, and control calls say why they cannot work
      assert.has_error(function() client.orders:list() end)
      local ok, err = pcall(server.reset, server)
      assert.is_false(ok)
      assert.matches("the server is stopped", err, 1, true)
    end)

    it("runs two servers at once, each with its own data and requests", function()
      local a, b = testing.start(), testing.start()
      assert.are_not.equal(a.url, b.url)
      assert(a:client().orders:create { source_id = "only-in-a", amount = 100 })
      assert.are.equal(1, assert(a:client().orders:list()).total)
      assert.are.equal(0, assert(b:client().orders:list()).total)
      assert.are.equal(1, #a:requests { method = "POST" })
      assert.are.equal(0, #b:requests { method = "POST" })
      a:stop()
      assert.are.equal(0, assert(b:client().orders:list()).total)
      b:stop()
    end)

    it("stops the server when the object is collected or closed", function()
      local server = testing.start()
      local pid, dir = server.pid, server.dir
      server = nil -- luacheck: ignore 311
      collectgarbage()
      collectgarbage()
      assert.is_false(alive(pid))
      assert.is_false(exists(dir))
      do
        local closing <close> = testing.start()
        pid = closing.pid
      end
      assert.is_false(alive(pid))
    end)

    it("stops at once while a child the test process forked after start holds a copy of the kit's pipe", function()
      local server = testing.start()
      local pid, dir = server.pid, server.dir
      -- os.execute's children inherit every descriptor that is not close-on-exec
      local file = os.tmpname()
      assert(os.execute("sleep 7 </dev/null >/dev/null 2>&1 & echo $! >" .. file))
      local started = core.monotime()
      assert.is_true(server:stop())
      local took = core.monotime() - started
      os.execute("kill " .. math.tointeger(tonumber(process.read_file(file))))
      os.remove(file)
      assert.is_true(took < 2, "stop took " .. took .. " s")
      assert.is_false(running(pid))
      assert.is_false(exists(dir))
    end)

    it("leaves no sleeping timer behind a start and a stop", function()
      local seconds, text = unique_seconds(17)
      local server = testing.start { start_timeout = seconds }
      assert.are.equal(1, count("sleep " .. text)) -- the start timer, while it runs
      server:stop()
      assert.are.equal(0, count("sleep " .. text))
    end)

    for _, signal in ipairs { "INT", "TERM" } do
      it("cleans up when SIG" .. signal .. " reaches the test's whole process group", function()
        -- as Ctrl-C does, or `timeout` when it stops a run
        local _, text = unique_seconds(13)
        local line, rest = group_child([[
          local server = require("voucherify.testing").start { tls = true, start_timeout = ]] .. text .. [[ }
          print("server " .. server.pid .. " " .. server.dir .. " pgid " .. pgid)
          io.stdout:flush()
          io.popen("exec sleep 30"):read("a")
        ]], signal)
        local pid, dir = line:match("server (%d+) (%S+)")
        assert.truthy(pid, line .. rest)
        assert.is_false(running(tonumber(pid)))
        assert.is_false(exists(dir)) -- with the TLS key
        assert.are.equal(0, count("sleep " .. text))
      end)
    end

    it("stops the server's whole process group: a wrapper's child too", function()
      local dir = process.temp_dir("kit-wrapper")
      -- a wrapper script that runs the real server as its child (no exec)
      process.write_file(dir .. "/wrapper", '#!/bin/sh\n"$@" &\necho $! >"$WRAPPER_DIR/real"\nwait\n')
      assert(os.execute("chmod +x " .. dir .. "/wrapper"))
      local out = child(([[
        local testing = require "voucherify.testing"
        local argv = { %q }
        for _, a in ipairs(assert(testing.find_command())) do argv[#argv + 1] = a end
        local server = testing.start { command = { "env", "WRAPPER_DIR=" .. %q, table.unpack(argv) } }
        print("real " .. io.open(%q):read("a"))
        io.stdout:flush()
        os.execute("kill -KILL $PPID")
      ]]):format(dir .. "/wrapper", dir, dir .. "/real"))
      os.execute("rm -rf " .. dir)
      local real = out:match("real (%d+)")
      assert.truthy(real, out)
      assert.is_false(running(tonumber(real)))
    end)

    it("kills a server that ignores SIGTERM after a short grace", function()
      local _, text = unique_seconds(9)
      local server = testing.start { command = { "sh", "-c", "trap '' TERM; echo 'listening on http://127.0.0.1:1'; "
        .. "exec sleep " .. text } }
      assert.are.equal(1, count("sleep " .. text))
      local started = core.monotime()
      server:stop()
      local took = core.monotime() - started
      assert.is_true(took < 5, "stop took " .. took .. " s")
      assert.are.equal(0, count("sleep " .. text))
    end)

    it("kills a silent command's whole process group at the start timeout", function()
      -- the grandchild holds the command's stdout: killing the child alone would leave start waiting
      local started = core.monotime()
      local _, text = unique_seconds(6)
      local ok, err = pcall(testing.start, { command = { "sh", "-c", "sleep " .. text .. " & sleep " .. text },
        start_timeout = 0.5 })
      local took = core.monotime() - started
      assert.is_false(ok)
      assert.matches("no \"listening on\" line within 0.5 s", err, 1, true)
      assert.is_true(took < 4, "took " .. took)
      assert.are.equal(0, count("sleep " .. text))
    end)

    for _, case in ipairs {
      { "a test process that ends with an error", 'error("a test failed")' },
      { "a test process killed without a chance to clean up", 'os.execute("kill -KILL $PPID")' },
    } do
      it("leaves no process or temporary file after " .. case[1], function()
        local out = child([[
          local server = require("voucherify.testing").start { tls = true }
          print("server " .. server.pid .. " " .. server.dir)
          io.stdout:flush()
        ]] .. case[2])
        local pid, dir = out:match("server (%d+) (%S+)")
        assert.truthy(pid, out)
        assert.is_false(alive(tonumber(pid)))
        assert.is_false(exists(dir))
      end)
    end

    it("says which places it looked in when it cannot find the command", function()
      -- the kit alone, away from a checkout or a rock tree, and an empty PATH
      local dir = process.temp_dir("kit")
      assert(os.execute("mkdir -p " .. dir .. "/voucherify && cp fakeserver/voucherify/testing.lua "
        .. dir .. "/voucherify/"))
      local out = child(([[
        package.path = %q .. "/?.lua;" .. package.path
        local getenv = os.getenv
        os.getenv = function(name)
          if name == "PATH" then return "/nonexistent/a:/nonexistent/b" end
          if name == "VOUCHERIFY_FAKE_SERVER" then return nil end
          return getenv(name)
        end
        local testing = require "voucherify.testing"
        print(select(2, pcall(testing.start)))
      ]]):format(dir))
      os.execute("rm -rf " .. dir)
      assert.matches("PATH (/nonexistent/a:/nonexistent/b)", out, 1, true)
      assert.matches("cannot find the voucherify%-fake%-server command", out)
      assert.matches("VOUCHERIFY_FAKE_SERVER", out, 1, true)
      assert.matches("PATH (", out, 1, true)
      assert.matches("command = ...", out, 1, true)
    end)

    it("shows the command's own words when it does not start", function()
      local ok, err = pcall(testing.start, { args = { "--no-such-option" } })
      assert.is_false(ok)
      assert.matches("the fake server did not start", err, 1, true)
      assert.matches("--no-such-option", err, 1, true)
      ok, err = pcall(testing.start, { command = "/nonexistent/voucherify-fake-server" })
      assert.is_false(ok)
      assert.matches("/nonexistent/voucherify-fake-server", err, 1, true)
      assert.matches("not found", err, 1, true)
    end)

    it("gives up on a command that never says it listens, within start_timeout, and kills it", function()
      local dir = process.temp_dir("kit-silent")
      -- a "server" that prints its pid and then nothing, forever
      local script = dir .. "/silent"
      local f = assert(io.open(script, "w"))
      f:write("#!/bin/sh\necho $$ > '" .. dir .. "/pid'\nexec sleep 600\n")
      f:close()
      assert(os.execute("chmod +x " .. script))
      local started = core.monotime()
      local ok, err = pcall(testing.start, { command = script, start_timeout = 0.5 })
      local took = core.monotime() - started
      assert.is_false(ok)
      assert.matches("the fake server did not start", err, 1, true)
      assert.matches("no \"listening on\" line within 0.5 s", err, 1, true)
      assert.is_true(took >= 0.5 and took < 5, "took " .. took)
      local pid = tonumber((io.open(dir .. "/pid"):read("a"):match("%d+")))
      assert.is_false(alive(pid))
      os.execute("rm -rf " .. dir)
      for _, bad in ipairs { 0, -1, 1e9 } do
        local ok2, err2 = pcall(testing.start, { start_timeout = bad })
        assert.is_false(ok2)
        assert.matches("start_timeout must be seconds", err2, 1, true)
      end
    end)

    it("raises at the caller's line for a wrong option", function()
      for _, opts in ipairs { { tls = "yes" }, { port = 8080 }, { args = "--verbose" }, { limits = { speed = 1 } },
        "tls", { args = { "--app-id", "a\0b" } }, { command = { "sh", 1 } }, { app_token = 7 } } do
        local ok, err = pcall(testing.start, opts)
        assert.is_false(ok)
        assert.matches("^voucherify%.testing: start%(opts%)", err)
      end
      local ok, err = pcall(function() testing.start { tls = 1 } end)
      assert.is_false(ok)
      assert.matches("testing_kit_spec.lua:%d+: voucherify.testing: start%(opts%): tls must be a boolean", err)
    end)

    it("refuses credentials that would not survive a header or a command line, at the caller's line", function()
      for _, bad in ipairs { { app_token = "x\r\nX-Evil: 1" }, { app_token = "" }, { app_id = "-x" },
        { access_token = "a b" }, { app_id = "caf\195\169" } } do
        local k = next(bad)
        local err = raised(function() testing.start(bad) end)
        assert.matches("start(opts): " .. k .. " must be visible ASCII characters", err, 1, true)
      end
    end)

    it("says at the caller's line what is wrong with a start option, once", function()
      local err = raised(function() testing.start { limits = { latency = "x" } } end)
      assert.matches("limits.latency must be a number or { requests = N, per = S }", err, 1, true)
      assert.are.equal(1, select(2, err:gsub("voucherify%.testing", "")))
      err = raised(function() testing.start { stderr = "/nonexistent/x" } end)
      assert.matches("start(opts): stderr: cannot write /nonexistent/x", err, 1, true)
      -- one argument too long for exec: the message names the size, not the kit's whole script
      err = raised(function() testing.start { args = { "--app-id", ("x"):rep(140000) } } end)
      assert.matches("cannot run sh with a command line of %d+ bytes", err)
      assert.is_true(#err < 1000, #err .. " bytes")
    end)

    it("raises at the caller's line for a stopped server's client or seeds", function()
      local server = testing.start()
      server:stop()
      assert.matches("client%(extra%): the server is stopped", raised(function() server:client() end))
      assert.matches("seed_orders: the server is stopped",
        raised(function() server:seed_orders { { source_id = "x", amount = 1 } } end))
      assert.matches("the server is stopped", raised(function() server:limits() end))
    end)

    it("writes the server's stderr where asked, and keeps its own otherwise", function()
      local server = testing.start { args = { "--verbose" } }
      assert(server:client().orders:list())
      assert.matches("/v1/orders", server:stderr(), 1, true)
      server:stop()
      local file = os.tmpname()
      server = testing.start { args = { "--verbose" }, stderr = file }
      assert(server:client().orders:list())
      server:stop()
      assert.matches("/v1/orders", process.read_file(file), 1, true)
      os.remove(file)
    end)
  end)

  describe("HTTPS", function()
    local server
    setup(function() server = testing.start { tls = true } end)
    teardown(function() server:stop() end)

    it("serves HTTPS with a certificate of a test CA that client_options trusts", function()
      assert.matches("^https://127%.0%.0%.1:%d+$", server.url)
      assert.are.equal(server.ca_file, server:client_options().ca_file)
      assert.are.equal("list", assert(server:client().orders:list()).object)
    end)

    it("is not trusted without the CA", function()
      local c = voucherify.new { app_id = testing.APP_ID, app_token = testing.APP_TOKEN, base_url = server.url,
        max_retries = 0 }
      local list, err = c.orders:list()
      c:close()
      assert.is_nil(list)
      assert.are.equal("network", err.kind)
    end)
  end)

  describe("a running server", function()
    local server, client
    testing.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

    it("gives client options with the credentials and URL, extra ones added", function()
      assert.are.same({ app_id = testing.APP_ID, app_token = testing.APP_TOKEN, base_url = server.url,
        timeout = 5 }, server:client_options { timeout = 5 })
      local bearer = voucherify.new { access_token = testing.ACCESS_TOKEN, base_url = server.url }
      assert(bearer.orders:list())
      bearer:close()
    end)

    it("logs the API requests, not the control calls, and filters them", function()
      assert(client.orders:create { source_id = "o-1", amount = 500 })
      assert(client.orders:list { limit = 5 })
      local all = server:requests()
      assert.are.equal(2, #all)
      assert.are.equal("POST", all[1].method)
      assert.are.equal("/v1/orders", all[1].path)
      assert.are.equal(testing.APP_ID, all[1].headers["x-app-id"])
      assert.are.equal("o-1", json.decode(all[1].body).source_id)
      assert.are.equal("limit=5", all[2].query)
      assert.are.equal(1, #server:requests { method = "GET", path = "/v1/orders" })
      server:clear_requests()
      assert.are.equal(0, #server:requests())
    end)

    it("seeds customers and orders", function()
      assert.are.equal(2, server:seed_customers {
        { id = "cust_a", source_id = "a", email = "a@example.com", created_at = "2024-01-01T00:00:00.000Z" },
        { id = "cust_b", source_id = "b" },
      })
      assert.are.equal("2024-01-01T00:00:00.000Z", assert(client.customers:get("cust_a")).created_at)
      local orders = server:seed_orders { { source_id = "s-1", amount = 100 }, { source_id = "s-2", amount = 200 } }
      assert.are.equal(2, #orders)
      assert.are.equal("s-2", orders[2].source_id)
      assert.are.equal(2, assert(client.orders:list()).total)
      assert.has_error(function() server:seed_orders "s-3" end,
        "voucherify.testing: seed_orders(list): list must be a list (table)")
    end)

    it("scripts faults", function()
      server:faults { { path = "/v1/orders", status = 503 }, { path = "/v1/customers", delay = 0.2, status = 500 } }
      local list, err = client.orders:list()
      assert.is_nil(list)
      assert.are.equal(503, err.status)
      assert(client.orders:list()) -- the fault was used up
      assert.are.equal(500, select(2, client.customers:list()).status)
    end)

    it("changes latency and limits while running, and reset undoes it", function()
      local report = server:set_limits { latency = 0.2, rate_limit = { requests = 2, per = 60 } }
      assert.are.equal(0.2, report.latency)
      local t0 = core.monotime()
      for _ = 1, 2 do assert(client.orders:list()) end
      assert.is_true(core.monotime() - t0 >= 2 * 0.2)
      assert.are.equal(429, select(2, client.orders:list()).status)
      assert.has_error(function() server:set_limits { latency = "slow" } end)
      server:reset()
      t0 = core.monotime()
      for _ = 1, 3 do assert(client.orders:list()) end
      assert.is_true(core.monotime() - t0 < 0.2)
    end)

    it("freezes, moves and frees the clock", function()
      assert.are.equal("2024-01-01T00:00:00.000Z", server:set_clock("2024-01-01T00:00:00Z"))
      local c1 = assert(client.customers:create { source_id = "c1" })
      assert.are.equal("2024-01-01T00:00:00.000Z", c1.created_at)
      assert.are.equal("2024-01-01T01:00:00.000Z", server:advance_clock(3600))
      assert.are.equal("2024-01-01T01:00:00.000Z", assert(client.customers:create { source_id = "c2" }).created_at)
      assert.are.equal("2024-01-01T00:00:00.500Z", server:set_clock(1704067200.5))
      server:set_clock(nil)
      local now = assert(client.customers:create { source_id = "c3" }).created_at
      assert.is_true(now > "2025")
      assert.has_error(function() server:advance_clock(1) end,
        "voucherify.testing: advance_clock: freeze the clock first (server:set_clock)")
      assert.has_error(function() server:set_clock("yesterday") end)
    end)

    it("forgets data, requests, faults and the frozen clock on reset", function()
      assert(client.orders:create { source_id = "gone", amount = 1 })
      server:faults { { status = 500 } }
      server:set_clock("2024-01-01T00:00:00Z")
      server:reset()
      assert.are.equal(0, #server:requests())
      assert.are.equal(0, assert(client.orders:list()).total) -- no fault left, no order
      assert.is_true(assert(client.customers:create { source_id = "x" }).created_at > "2025")
      assert.has_error(function() server:advance_clock(1) end)
    end)

    it("refuses a list that is not one, so a mistyped call cannot do nothing silently", function()
      -- the inner braces forgotten: one fault's fields, not a list of faults
      local err = raised(function() server:faults { path = "/v1/orders", status = 503 } end)
      assert.matches("faults(list): list must be a list of tables", err, 1, true)
      assert.matches("faults(list): list must not be empty", raised(function() server:faults {} end), 1, true)
      assert.matches("item 1 must be a table", raised(function() server:faults { 503 } end), 1, true)
      assert.matches("seed_customers(list): list must be a list of tables",
        raised(function() server:seed_customers { id = "cust_x", source_id = "x" } end), 1, true)
      assert.matches("seed_customers(list): list must not be empty",
        raised(function() server:seed_customers {} end), 1, true)
      assert.matches("set_segments(id, segments): segments must be a list of tables",
        raised(function() server:set_segments("cust_x", { id = "seg_1", name = "VIP" }) end), 1, true)
      assert.are.equal(0, #server:requests())
    end)

    it("refuses a requests filter it cannot apply, instead of matching nothing", function()
      assert(client.orders:create { source_id = "o-f", amount = 1 })
      for _, filter in ipairs { { methd = "POST" }, { method = true }, { headers = { ["x-app-id"] = "x" } },
        { method = { "POST" } } } do
        assert.matches("requests%(filter%): ", raised(function() server:requests(filter) end))
      end
      assert.are.equal(1, #server:requests { method = "POST", status = 200, listener = "api" })
      assert.are.equal(0, #server:requests { status = 500 })
    end)

    it("raises every mistake at the caller's line, naming the argument", function()
      assert.matches("POST /_fake/limits answered 400", raised(function() server:set_limits { latency = "slow" } end),
        1, true)
      assert.matches("GET /_fake/nothing answered 404", raised(function() server:control("GET", "/_fake/nothing") end),
        1, true)
      assert.matches("client%(extra%): .*bogus", raised(function() server:client { bogus = 1 } end))
      for _, args in ipairs { { 1, 2 }, { "get", "/_fake/limits" }, { "GET", "x" }, { "GET", "/v1/orders" },
        { "GET", "/_fake/limits\r\nX-Evil: 1" }, { "POST", "/_fake/faults", "[]" } } do
        assert.matches("control%(method, path, body%): ",
          raised(function() server:control(args[1], args[2], args[3]) end))
      end
      for _, when in ipairs { 1e300, -1e300, 0 / 0, "2024-13-01T00:00:00Z", {} } do
        assert.matches("set_clock%(when%): when must be", raised(function() server:set_clock(when) end))
        assert.matches("freeze_clock%(when%): when must be", raised(function() server:freeze_clock(when) end))
      end
      server:set_clock("2024-01-01T00:00:00Z")
      assert.matches("advance_clock", raised(function() server:advance_clock(1e300) end), 1, true)
      assert.matches("oauth_ttl", raised(function() server:oauth_ttl("1") end), 1, true)
      assert.is_table(server:limits())
    end)

    it("raises a control call's failure with the server's answer", function()
      local ok, err = pcall(function() server:seed_redeemables("nobody", 1) end)
      assert.is_false(ok)
      assert.matches("POST /_fake/customers/nobody/redeemables answered 400", err, 1, true)
      assert.matches("testing_kit_spec.lua", err, 1, true)
    end)
  end)

  describe("limits from the start", function()
    local server, client
    testing.suite({ client = { max_retries = 0 }, start = { limits = { rate_limit = { requests = 3, per = 60 } } } },
      function(s, c) server, client = s, c end)

    it("are in force at once and again after reset", function()
      for _ = 1, 2 do
        for _ = 1, 3 do assert(client.orders:list()) end
        assert.are.equal(429, select(2, client.orders:list()).status)
        assert.are.equal(1, server:limits().too_many_requests.total)
        server:reset()
      end
    end)
  end)
end)
