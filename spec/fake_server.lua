--- Test helper: the project's specs start fake servers through the test kit
-- users get (`voucherify.testing`, fakeserver/voucherify/testing.lua), so
-- every spec that uses a fake server tests the kit too.  What is here is only
-- what the project's specs need beyond it: the old call forms and a listener
-- that never answers.
local testing = require "voucherify.testing"

local fake_server = {}

fake_server.LUA = os.getenv("LUA") or "lua5.4"
fake_server.APP_ID = testing.APP_ID
fake_server.APP_TOKEN = testing.APP_TOKEN
fake_server.ACCESS_TOKEN = testing.ACCESS_TOKEN

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

-- The kit's start options for "--rate-limit 4/60 --latency 0.05": the words
-- are command-line options, but for "2>FILE", the server's stderr.
local function start_options(extra_args)
  local opts = { args = {} }
  for w in (extra_args or ""):gmatch("%S+") do
    local file = w:match("^2>(.+)$")
    if file then opts.stderr = file else opts.args[#opts.args + 1] = w end
  end
  return opts
end

--- Starts a server (voucherify.testing) with more command-line options, given as one string.
-- @tparam[opt] string extra_args e.g. "--rate-limit 4/60", "--verbose 2>FILE"
function fake_server.start(extra_args)
  return testing.start(start_options(extra_args))
end

--- Starts a server that speaks HTTPS with a certificate for 127.0.0.1 from a
-- test CA made now; `server.ca_file` is the CA's PEM file.  Unlike the kit's,
-- its `client_options` leave the CA out unless given: the TLS specs check
-- that an unknown CA fails.
-- @tparam[opt] string extra_args as for `start`
function fake_server.start_tls(extra_args)
  local opts = start_options(extra_args)
  opts.tls = true
  local server = testing.start(opts)
  local with_ca = server.client_options
  function server.client_options(self, extra)
    local o = with_ca(self, extra)
    if not (extra and extra.ca_file) then o.ca_file = nil end
    return o
  end
  return server
end

--- `testing.suite`: the tests of the enclosing `describe` get a server,
-- reset before each test (and a client with `opts.client`).
fake_server.suite = testing.suite

return fake_server
