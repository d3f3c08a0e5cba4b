--- A test kit for your own specs: a fake Voucherify server in a child process.
--
-- `testing.start()` runs the `voucherify-fake-server` command (from the
-- voucherify-lua-fake rock) on a free loopback port and returns once it
-- accepts connections (it waits for the server's "listening on" line, never a
-- sleep).  The server object gives client options that reach it, seeds data,
-- scripts faults, sets latency and rate limits, moves its clock, reads the
-- requests it received, resets and stops.  Every method raises on failure, at
-- your test's line, with a message that names the call: a test kit's job is to
-- fail the test loudly.
--
-- The server and its temporary directory go away with `server:stop()`, when
-- the server object is garbage-collected or closed (as a to-be-closed
-- variable: `local s <close> = testing.start()`), and when the test process
-- exits or dies, even without a `stop`: a small shell watches the test
-- process's end of a pipe.  The server runs in a process group of its own
-- (`setsid`), stopped as a whole: a command that is a wrapper script goes
-- with its children.  Ctrl-C, or a signal that `timeout` sends to the test's
-- whole process group, does not stop the watcher before it has cleaned up.
--
-- One case is left: Lua cannot mark the pipe close-on-exec, so a child the
-- test process starts after `start` (with `os.execute`, say) holds a copy
-- of it.  `stop` does not depend on it (it tells the watcher to stop in so
-- many words), but if the test process is then killed (SIGKILL) without a
-- `stop`, the server stays until that child has exited too.
--
-- The command is found, in order: `opts.command`, the environment variable
-- `VOUCHERIFY_FAKE_SERVER`, next to this module (the rock tree's `bin/`, or
-- `fakeserver/bin/` of a checkout), then `PATH`.
--
-- @module voucherify.testing
-- @usage
-- -- spec/order_sync_spec.lua, run with `busted`
-- local testing = require "voucherify.testing"
--
-- describe("my code against the fake API", function()
--   local server, client
--   setup(function()
--     server = testing.start()
--     client = server:client()
--   end)
--   teardown(function() server:stop() end)
--   before_each(function() server:reset() end)
--
--   it("creates the order", function()
--     assert(client.orders:create { source_id = "ord_1", amount = 1000 })
--     local sent = server:requests { method = "POST", path = "/v1/orders" }
--     assert.are.equal(1, #sent)
--   end)
-- end)

local core = require "voucherify.core"
local datetime = require "voucherify.datetime"
local json = require "voucherify.json"
local segment = require("voucherify.url").segment
local voucherify = require "voucherify"

local testing = {}

--- The application id the server is started with (unless `start` is given another).
testing.APP_ID = "test-app-id"
--- The application token the server is started with (unless `start` is given another).
testing.APP_TOKEN = "test-app-token-s3cr3t"
--- A bearer token the server accepts as well (`access_token` client option).
testing.ACCESS_TOKEN = "test-bearer-t0ken"
--- The command's name, looked up next to this module and on `PATH`.
testing.COMMAND = "voucherify-fake-server"

--- Seconds `start` waits for the server to accept connections before it kills it and raises.
testing.START_TIMEOUT = 30

local PREFIX = "voucherify.testing: "
local CONTROL_TIMEOUT = 10

-- Shell helpers -----------------------------------------------------------

-- One argument for sh, quoted so that nothing in it is special.
local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- `s`, cut to `n` bytes (default 300) with a note of its length: an error
-- message must not carry a whole command line or log.
local function cap(s, n)
  s, n = tostring(s), n or 300
  if #s <= n then return s end
  return s:sub(1, n) .. "... (" .. #s .. " bytes)"
end

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("a") or ""
  f:close()
  return text
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- A private directory (mktemp -d: atomic, 0700) holding the fifo the child
-- says "listening" on (printed only once both exist; opening the fifo to check would block).
local function temp_dir()
  local p = assert(io.popen([[d=$(mktemp -d "${TMPDIR:-/tmp}/voucherify-testing.XXXXXX") ]]
    .. [[&& mkfifo "$d/ready" && printf '%s\n' "$d"]]))
  local dir = p:read("l")
  p:close()
  if not dir or dir == "" then
    error(PREFIX .. "could not make a temporary directory with a fifo (mktemp -d, mkfifo)", 3)
  end
  return dir
end

-- Runs as `sh -c WATCH voucherify-testing DIR STDERR TIMEOUT COMMAND ARGS...`, with the
-- test process's pipe as stdin and fd 3 open on the fifo DIR/ready.  It starts
-- the server in a process group of its own (setsid; pid in DIR/pid, stderr to
-- the file STDERR), passes its "listening on" line on through fd 3 and drains
-- the rest of its stdout.  Only the reader of the server's stdout keeps fd 3,
-- so the test process reads EOF at once if anything fails before the line.
-- A "stop" line or the end of stdin (the test process has gone) stops the server:
-- SIGTERM to its group, SIGKILL after a grace, wait for it and remove DIR.
-- SIGINT and SIGQUIT (Ctrl-C to the test's process group) are ignored: the
-- test process goes, stdin ends, and the watcher cleans up then; SIGTERM and
-- SIGHUP clean up at once (and the watcher stays until stdin ends, so a later
-- "stop" finds a reader).  A server that neither says "listening on" nor exits
-- within TIMEOUT seconds is killed with its group, so a start never hangs.
-- Each timer (a shell and its sleep) has a group of its own too, cancelled
-- with SIGKILL: a dash subshell can lose a SIGTERM that comes before its trap.
local WATCH = [[
d=$1; e=$2; t=$3; shift 3
trap '' INT QUIT
sig=
trap 'sig=1' TERM HUP
g=
own=
if command -v setsid >/dev/null 2>&1; then own=setsid; g=-; fi
hit() { p=$(cat "$d/pid" 2>/dev/null) && [ -n "$p" ] && kill -"$1" "$g$p" 2>/dev/null; }
later() {
  $own sh -c 'sleep "$1" || exit
    if [ "$2" = start ]; then [ -e "$3/started" ] && exit; echo "no \"listening on\" line within $1 s" >>"$4"; fi
    p=$(cat "$3/pid" 2>/dev/null) && [ -n "$p" ] && kill -KILL "$5$p"' \
    voucherify-testing "$1" "$2" "$d" "$e" "$g" </dev/null >/dev/null 2>&1 3>&- &
}
cancel() { kill -KILL "$g$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
$own sh -c 'p=$1; shift; printf "%s\n" "$$" >"$p"; exec "$@"' voucherify-testing "$d/pid" "$@" \
  </dev/null 2>"$e" 3>&- | {
  while IFS= read -r line; do
    case $line in *"listening on "*) : >"$d/started"; printf '%s\n' "$line" >&3; break ;; esac
  done
  exec cat >/dev/null 3>&-
} &
job=$!
later "$t" start
timer=$!
exec 3>&-
done=
finish() {
  [ -n "$done" ] && return; done=1
  cancel "$timer"
  hit TERM
  later 2 grace
  killer=$!
  wait "$job" 2>/dev/null
  cancel "$killer"
  [ -n "$g" ] && hit KILL
  rm -rf "$d"
}
while :; do
  [ -n "$sig" ] && { sig=; finish; }
  read -r l || { [ -n "$sig" ] && continue; break; }
  [ "$l" = stop ] && break
done
finish
]]

-- Finding the command -----------------------------------------------------

-- Where this file is, when it was loaded from a file.
local function this_file()
  local source = debug.getinfo(1, "S").source
  return source:sub(1, 1) == "@" and source:sub(2) or nil
end

-- The Lua that runs a checkout's script: `$LUA`, else lua5.4 (the fake
-- server needs 5.3 or later, and a checkout's build/ is for 5.4).
local function interpreter()
  return os.getenv("LUA") or "lua5.4"
end

--- How the server command would be run, and where it was looked for.
-- @tparam[opt] table opts `command`, as for `testing.start`
-- @return the command as a list (program and arguments), or nil
-- @treturn {string,...} the places tried, in order, each as a short description
-- @usage local argv, tried = testing.find_command()
function testing.find_command(opts)
  local tried = {}
  local command = opts and opts.command
  if command ~= nil then
    if type(command) == "string" then return { command }, tried end
    local argv = {}
    for i, v in ipairs(command) do argv[i] = v end
    return argv, tried
  end
  local env = os.getenv("VOUCHERIFY_FAKE_SERVER")
  if env and env ~= "" then return { env }, tried end
  tried[#tried + 1] = "$VOUCHERIFY_FAKE_SERVER (not set)"
  local here = this_file()
  if here then
    -- a checkout: fakeserver/voucherify/testing.lua, the script in fakeserver/bin/
    local fake_root = here:match("^(.-)voucherify/testing%.lua$")
    if fake_root and here:find("fakeserver/voucherify/testing.lua", 1, true) then
      local script = fake_root .. "bin/" .. testing.COMMAND
      if readable(script) then return { interpreter(), script }, tried end
      tried[#tried + 1] = script
    end
    -- a rock tree: TREE/share/lua/5.x/voucherify/testing.lua, the command in TREE/bin/
    local tree = here:match("^(.-)/?share/lua/[^/]+/voucherify/testing%.lua$")
    if tree then
      local bin = (tree == "" and "" or tree .. "/") .. "bin/" .. testing.COMMAND
      if readable(bin) then return { bin }, tried end
      tried[#tried + 1] = bin
    end
  end
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local bin = dir .. "/" .. testing.COMMAND
    if readable(bin) then return { bin }, tried end
  end
  tried[#tried + 1] = "PATH (" .. (os.getenv("PATH") or "") .. ")"
  return nil, tried
end

-- A test CA and a certificate for 127.0.0.1, made with luaossl ------------

-- The PEM texts of a test CA, and of a certificate it signed for 127.0.0.1
-- with its key; made once per process.  The name is both the subject's CN
-- and an IP address SAN, and there is no DNS SAN: OpenSSL's host check (nginx
-- cosockets) compares "127.0.0.1" with the DNS SANs, or with the CN when
-- there are none; libcurl compares it with the IP SANs.
local pems

local function make_pems()
  local ok, pkey = pcall(require, "openssl.pkey")
  if not ok then error(PREFIX .. "tls = true needs luaossl (apt-get install lua-luaossl): " .. pkey, 0) end
  local x509 = require "openssl.x509"
  local name = require "openssl.x509.name"
  local altname = require "openssl.x509.altname"
  local bignum = require "openssl.bignum"
  local extension = require "openssl.x509.extension"
  local function subject(cn)
    local n = name.new()
    n:add("CN", cn)
    return n
  end
  local now = os.time()
  local function cert(serial, cn, key, issuer)
    local c = x509.new()
    c:setVersion(3)
    c:setSerial(bignum.new(serial))
    c:setSubject(subject(cn))
    c:setIssuer(issuer or subject(cn))
    c:setLifetime(now - 3600, now + 2 * 86400)
    c:setPublicKey(key)
    return c
  end
  local ca_key = pkey.new { type = "EC", curve = "prime256v1" }
  local ca = cert(1, "voucherify-lua test CA", ca_key)
  ca:setBasicConstraints { CA = true }
  ca:setBasicConstraintsCritical(true)
  ca:addExtension(extension.new("keyUsage", "critical,keyCertSign,cRLSign"))
  assert(ca:sign(ca_key))
  local key = pkey.new { type = "EC", curve = "prime256v1" }
  local server = cert(2, "127.0.0.1", key, ca:getSubject())
  local alt = altname.new()
  alt:add("IP", "127.0.0.1")
  server:setSubjectAlt(alt)
  server:setBasicConstraints { CA = false }
  assert(server:sign(ca_key))
  return { ca = ca:toPEM(), cert = server:toPEM(), key = key:toPEM("private") }
end

-- Writes the test CA and the server's certificate and key into `dir`.
-- @return the paths of the CA, the certificate and the key
local function make_tls(dir)
  pems = pems or make_pems()
  write_file(dir .. "/ca.pem", pems.ca)
  write_file(dir .. "/server.pem", pems.cert)
  write_file(dir .. "/server.key", pems.key)
  return dir .. "/ca.pem", dir .. "/server.pem", dir .. "/server.key"
end

-- Options -----------------------------------------------------------------

local START_OPTIONS = {
  tls = "boolean", command = "string or list", app_id = "string", app_token = "string",
  access_token = "string", limits = "table", args = "list of strings", stderr = "string",
  strict = "boolean", start_timeout = "number",
}

-- the limits that have a command-line option: then `reset` keeps them
local LIMIT_OPTIONS = { latency = "--latency", jitter = "--jitter", grace = "--rate-limit-grace",
  rate_limit = "--rate-limit", bulk = "--bulk-rate-limit", cycle = "--cycle-limit" }

local function is_list_of_strings(t)
  if type(t) ~= "table" then return false end
  for k, v in pairs(t) do
    if type(k) ~= "number" or k % 1 ~= 0 or k < 1 or k > #t or type(v) ~= "string" then return false end
  end
  return true
end

-- "N/S" from { requests = N, per = S } (or a number N for the cycle); nil for anything else
local function limit_arg(v)
  if type(v) == "number" then return ("%.17g"):format(v) end
  if type(v) == "table" and type(v.requests) == "number" and type(v.per) == "number" then
    return ("%.17g/%.17g"):format(v.requests, v.per)
  end
end

local function check_start_options(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(PREFIX .. "start(opts): opts must be a table", 3) end
  for k, v in pairs(opts) do
    local want = START_OPTIONS[k]
    if not want then error(PREFIX .. "start(opts): unknown option " .. tostring(k), 3) end
    local fine
    if want == "string or list" then fine = type(v) == "string" or (is_list_of_strings(v) and #v > 0)
    elseif want == "list of strings" then fine = is_list_of_strings(v)
    else fine = type(v) == want end
    if not fine then error(PREFIX .. "start(opts): " .. k .. " must be a " .. want, 3) end
    if k == "start_timeout" and not (v > 0 and v <= 3600) then
      error(PREFIX .. "start(opts): start_timeout must be seconds in (0, 3600]", 3)
    end
    -- a NUL would cut the shell's command line short
    for _, w in ipairs(type(v) == "table" and v or { v }) do
      if type(w) == "string" and w:find("\0", 1, true) then
        error(PREFIX .. "start(opts): " .. k .. " holds a NUL byte", 3)
      end
    end
  end
  -- credentials go into the control requests' headers and onto a command line
  for _, k in ipairs { "app_id", "app_token", "access_token" } do
    local v = opts[k]
    if v ~= nil and not (v:find("^[\33-\126]+$") and v:sub(1, 1) ~= "-") then
      error(PREFIX .. "start(opts): " .. k .. " must be visible ASCII characters, not empty, not starting with -", 3)
    end
  end
  for k, v in pairs(opts.limits or {}) do
    if not LIMIT_OPTIONS[k] then error(PREFIX .. "start(opts): unknown limit " .. tostring(k), 3) end
    if not limit_arg(v) then
      error(PREFIX .. "start(opts): limits." .. k .. " must be a number or { requests = N, per = S }", 3)
    end
  end
  -- the shell would fail to open it, and the server would seem not to start
  if opts.stderr then
    local f, why = io.open(opts.stderr, "a")
    if not f then error(PREFIX .. "start(opts): stderr: cannot write " .. cap(why), 3) end
    f:close()
  end
  return opts
end

local function command_line(opts, ca)
  local args = { "--port", "0", "--app-id", opts.app_id or testing.APP_ID,
    "--app-token", opts.app_token or testing.APP_TOKEN,
    "--access-token", opts.access_token or testing.ACCESS_TOKEN }
  if ca then
    for _, a in ipairs { "--tls-cert", ca.cert, "--tls-key", ca.key } do args[#args + 1] = a end
  end
  local names = {}
  for k in pairs(opts.limits or {}) do names[#names + 1] = k end
  table.sort(names) -- a stable command line
  for _, k in ipairs(names) do
    args[#args + 1] = LIMIT_OPTIONS[k]
    args[#args + 1] = limit_arg(opts.limits[k])
  end
  if opts.strict then args[#args + 1] = "--strict" end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  return args
end

-- The server object -------------------------------------------------------

local Server = {}
Server.__index = Server

--- Starts a fake server on a free loopback port and waits until it accepts connections.
-- @tparam[opt] table opts
--   `tls` (true: HTTPS with a certificate from a test CA made now; `server.ca_file` is the CA),
--   `app_id`, `app_token`, `access_token` (the credentials it accepts; default
--   `testing.APP_ID`, ...; visible ASCII, not empty, not starting with `-`),
--   `limits` (latency and rate limits from the start, kept by `reset`:
--   `{ latency = 0.05, jitter = 0.01, grace = 0.025, cycle = 1000 }`, and
--   `rate_limit` or `bulk` as `{ requests = 100, per = 60 }`),
--   `args` (more command-line options, a list of strings),
--   `stderr` (a file for the server's stderr, made if need be, e.g. with
--   `args = { "--verbose" }`; default a file of the kit's, see `server:stderr()`),
--   `command` (the command to run: a path, or a list of program and arguments),
--   `strict` (true: the `--strict` option, every answer checked against
--   the OpenAPI response schemas, a drift answered 500), `start_timeout` (seconds to wait for
--   the server to accept connections, default `testing.START_TIMEOUT`: then it is killed and
--   `start` raises)
-- @return the server: `url`, `ca_file` (with `tls`), `pid`, `command` (as run), and the methods below
-- @usage local server = testing.start { tls = true, limits = { latency = 0.05 } }
function testing.start(opts)
  opts = check_start_options(opts)
  local argv, tried = testing.find_command(opts)
  if not argv then
    error(PREFIX .. "cannot find the " .. testing.COMMAND .. " command (install the voucherify-lua-fake rock, "
      .. "set VOUCHERIFY_FAKE_SERVER or pass { command = ... }); tried: " .. table.concat(tried, ", "), 2)
  end
  local dir = temp_dir()
  local ca_file, tls
  if opts.tls then
    local ok, ca, cert, key = pcall(make_tls, dir)
    if not ok then
      os.execute("rm -rf " .. quote(dir))
      error(ca, 2)
    end
    ca_file, tls = ca, { cert = cert, key = key }
  end
  local ok_args, args = pcall(command_line, opts, tls)
  if not ok_args then
    os.execute("rm -rf " .. quote(dir))
    error(args, 2)
  end
  local stderr = opts.stderr or dir .. "/stderr"
  local words = { "exec 3>" .. quote(dir .. "/ready") .. "; exec sh -c", quote(WATCH), "voucherify-testing",
    quote(dir), quote(stderr), ("%.17g"):format(opts.start_timeout or testing.START_TIMEOUT) }
  for _, a in ipairs(argv) do words[#words + 1] = quote(a) end
  for _, a in ipairs(args) do words[#words + 1] = quote(a) end
  local cmd = table.concat(words, " ")
  local pipe, why = io.popen(cmd, "w")
  if not pipe then
    os.execute("rm -rf " .. quote(dir))
    -- io.popen's message starts with the whole command: the kit's script
    why = tostring(why)
    if why:sub(1, #cmd) == cmd then why = why:sub(#cmd + 1):gsub("^: ", "") end
    error(PREFIX .. "cannot run sh with a command line of " .. #cmd .. " bytes: " .. cap(why), 2)
  end
  -- meets the shell's open of the other end; then the line, or EOF when the server exits first
  local ready = io.open(dir .. "/ready", "r")
  local line = ready and ready:read("l")
  if ready then ready:close() end
  local url = line and line:match("listening on (https?://%S+)")
  if not url then
    local said = read_file(stderr):gsub("%s+$", "")
    pcall(pipe.write, pipe, "stop\n")
    pipe:close() -- the watcher removes the directory
    local shown = {}
    for i, a in ipairs(argv) do shown[i] = cap(a, 100) end
    error(PREFIX .. "the fake server did not start (" .. table.concat(shown, " ") .. "): "
      .. (said ~= "" and cap(said, 2000) or "it printed no \"listening on\" line"), 2)
  end
  local self = setmetatable({
    url = url, ca_file = ca_file, command = argv, dir = dir, stderr_file = stderr,
    pid = tonumber(read_file(dir .. "/pid"):match("%d+")),
    app_id = opts.app_id or testing.APP_ID, app_token = opts.app_token or testing.APP_TOKEN,
    access_token = opts.access_token or testing.ACCESS_TOKEN,
    pipe = pipe, clients = {},
    -- the control API through the library's own transport, checking the test CA
    http = core.http_new { ca_file = ca_file, proxy = false },
  }, Server)
  return self
end

-- Stops without raising: from stop, __gc and __close.
local function shut(self)
  if self.stopped then return false end
  self.stopped = true
  for _, c in ipairs(self.clients) do pcall(c.close, c) end
  self.clients = {}
  -- the server's own way out first (it finishes what is in flight and logs it);
  -- then closing our end of the pipe tells the watcher to stop it (SIGTERM) if
  -- it has not, wait for it and remove the temporary directory; pclose waits for all that
  pcall(self.http.perform, self.http, { method = "POST", url = self.url .. "/_fake/shutdown", timeout = 2 })
  pcall(self.http.close, self.http)
  -- "stop", not only our end closed: a child the test process forked since
  -- start may hold a copy of this end, and then the watcher would never read EOF
  pcall(self.pipe.write, self.pipe, "stop\n")
  pcall(self.pipe.close, self.pipe)
  return true
end

Server.__gc = shut
Server.__close = shut

--- Stops the server, waits for its process to exit and removes its temporary
-- files; closes the clients made by `server:client`.  Safe to call twice.
-- @return true when this call stopped it, false when it was already stopped
-- @usage teardown(function() server:stop() end)
function Server:stop()
  return shut(self)
end

--- What the server has written to its stderr so far.
-- With `args = { "--verbose" }`, a line per request; "" once stopped, unless
-- `start` was given a `stderr` file.
-- @treturn string the text
-- @usage local s = testing.start { args = { "--verbose" } } ... print(s:stderr())
function Server:stderr()
  return read_file(self.stderr_file)
end

--- Options for `voucherify.new` that reach this server: `app_id`, `app_token`,
-- `base_url` and, with `tls`, `ca_file`.
-- @tparam[opt] table extra more options, added to (or replacing) those
-- @treturn table a new table
-- @usage local client = voucherify.new(server:client_options { max_retries = 0 })
function Server:client_options(extra)
  if extra ~= nil and type(extra) ~= "table" then error(PREFIX .. "client_options(extra): extra must be a table", 2) end
  local o = { app_id = self.app_id, app_token = self.app_token, base_url = self.url, ca_file = self.ca_file }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

--- A client of this server, closed by `server:stop()`.
-- @tparam[opt] table extra more client options, as for `client_options`
-- @return a `voucherify.new` client
-- @usage local client = server:client { max_retries = 0 }
function Server:client(extra)
  if extra ~= nil and type(extra) ~= "table" then error(PREFIX .. "client(extra): extra must be a table", 2) end
  if self.stopped then error(PREFIX .. "client(extra): the server is stopped", 2) end
  local ok, c = pcall(voucherify.new, self:client_options(extra))
  -- voucherify.new's message, without its position (inside the kit)
  if not ok then error(PREFIX .. "client(extra): " .. tostring(c):gsub("^[^\n]-:%d+: ", ""), 2) end
  self.clients[#self.clients + 1] = c
  return c
end

-- One control-API call; raises at `level` on any failure.
local function call(self, level, method, path, body)
  if self.stopped then error(PREFIX .. method .. " " .. path .. ": the server is stopped", level) end
  local text
  if body ~= nil then
    local err
    text, err = json.encode(body)
    if not text then error(PREFIX .. method .. " " .. path .. ": " .. tostring(err), level) end
  end
  local res, err = self.http:perform {
    method = method, url = self.url .. path, timeout = CONTROL_TIMEOUT, body = text,
    headers = text and { "Content-Type: application/json" } or nil,
  }
  if not res then
    error(PREFIX .. method .. " " .. path .. " failed: " .. tostring(err and (err.message or err.reason) or err),
      level)
  end
  if res.status >= 300 then
    error(PREFIX .. method .. " " .. path .. " answered " .. res.status .. ": " .. cap(res.body, 2000), level)
  end
  if res.status == 204 or res.body == "" then return true end
  local value, why = json.decode(res.body)
  if value == nil then error(PREFIX .. method .. " " .. path .. ": " .. tostring(why), level) end
  return value
end

--- Any control-API call (`/_fake/...`, see the fake server's README table).
-- @tparam string method "GET", "POST" or "DELETE"
-- @tparam string path under `/_fake/`, e.g. "/_fake/limits"
-- @tparam[opt] table body sent as JSON
-- @return the decoded answer, or true for one without a body
-- @usage local report = server:control("GET", "/_fake/limits")
function Server:control(method, path, body)
  if type(method) ~= "string" or not method:find("^[A-Z]+$") then
    error(PREFIX .. "control(method, path, body): method must be an upper-case HTTP method, e.g. \"GET\"", 2)
  end
  if type(path) ~= "string" or not path:find("^/_fake/") or path:find("[%c ]") then
    error(PREFIX .. "control(method, path, body): path must start with /_fake/ and hold no space or control "
      .. "character (CR, LF, ...)", 2)
  end
  if body ~= nil and type(body) ~= "table" then
    error(PREFIX .. "control(method, path, body): body must be a table", 2)
  end
  local value = call(self, 3, method, path, body) -- not a tail call: level 3 is the caller's line
  return value
end

-- A copy of list `t`, marked to encode as a JSON array; `t` must be a list
-- of tables (and not empty, unless `empty` is true): `{ path = "/x", status = 503 }`
-- for `{ { path = "/x", status = 503 } }` would otherwise do nothing, silently.
local function array(t, what, level, empty)
  if type(t) ~= "table" then error(PREFIX .. what .. " must be a list (table)", level + 1) end
  for k in pairs(t) do
    if type(k) ~= "number" or k % 1 ~= 0 or k < 1 or k > #t then
      error(PREFIX .. what .. " must be a list of tables, e.g. { { ... } }; it has the key " .. cap(k, 60), level + 1)
    end
  end
  if #t == 0 and not empty then error(PREFIX .. what .. " must not be empty", level + 1) end
  local a = {}
  for i = 1, #t do
    if type(t[i]) ~= "table" then error(PREFIX .. what .. ": item " .. i .. " must be a table", level + 1) end
    a[i] = t[i]
  end
  return json.array(a)
end

-- the fields of a logged request a filter may name (`headers` is a table: not comparable)
local FILTER_KEYS = { method = true, path = true, query = true, body = true, body_base64 = true,
  connection = true, listener = true, status = true }

local function matches(req, filter)
  for k, v in pairs(filter) do
    if req[k] ~= v then return false end
  end
  return true
end

--- The requests the server received (API and download host), oldest first.
-- Each is `{ method, path, query, headers, body, connection, listener, status }`:
-- `query` is the raw query string, `headers` has lower-case names, `listener`
-- is `"api"` or `"download"`, `status` the status answered (absent while it is
-- in flight); control-API calls are not in it.
-- @tparam[opt] table filter only those whose fields equal these, e.g. `{ method = "POST", path = "/v1/orders" }`:
--   fields `method`, `path`, `query`, `body`, `body_base64`, `connection`, `listener`, `status`,
--   each a string or a number (another field raises)
-- @treturn table a list
-- @usage local sent = server:requests { method = "POST" }
function Server:requests(filter)
  if filter ~= nil and type(filter) ~= "table" then error(PREFIX .. "requests(filter): filter must be a table", 2) end
  for k, v in pairs(filter or {}) do
    if not FILTER_KEYS[k] then
      error(PREFIX .. "requests(filter): unknown field " .. cap(k, 60) .. " (method, path, query, body, "
        .. "body_base64, connection, listener, status)", 2)
    end
    if type(v) ~= "string" and type(v) ~= "number" then
      error(PREFIX .. "requests(filter): " .. k .. " must be a string or a number", 2)
    end
  end
  local all = call(self, 3, "GET", "/_fake/requests").requests
  if not filter then return all end
  local some = json.array {}
  for _, req in ipairs(all) do
    if matches(req, filter) then some[#some + 1] = req end
  end
  return some
end

--- Forgets the requests received so far.
-- @usage server:clear_requests()
function Server:clear_requests()
  call(self, 3, "DELETE", "/_fake/requests")
end

--- Forgets all data, requests and faults; the clock runs again; latency and
-- limits go back to those the server was started with, budgets full.
-- @usage before_each(function() server:reset() end)
function Server:reset()
  call(self, 3, "POST", "/_fake/reset")
  self.frozen_ms = nil
end

--- Queues faults: each API request takes the first queued fault that applies to it.
-- A fault: `path` (only requests for it), `delay` (seconds), `status` with
-- `body` and `headers`, `proxy_502`, `empty`, `content_type`, `gzip`,
-- `truncate`, `close` (`"before"` or `"mid_body"`).
-- @tparam table list the faults, in order: a list of tables, not empty
-- @usage server:faults { { path = "/v1/orders", status = 503 }, { delay = 2 } }
function Server:faults(list)
  call(self, 3, "POST", "/_fake/faults", { faults = array(list, "faults(list): list", 2) })
end

--- The latency, jitter, grace and rate-limit budgets in force, and the counts
-- since start-up or reset (`requests`, `too_many_requests`, `remaining`, `in_flight`, `peak_in_flight`).
-- @treturn table the report
-- @usage assert.are.equal(0, server:limits().too_many_requests.total)
function Server:limits()
  local report = call(self, 3, "GET", "/_fake/limits")
  return report
end

--- Changes latency and limits (only those given; `voucherify.null` turns a budget off).
-- @tparam table settings `latency`, `jitter`, `grace` (seconds), `rate_limit`, `bulk`
--   (`{ requests = N, per = S }`), `cycle` (N or `{ requests = N, per = S }`)
-- @treturn table the report, as `server:limits()`
-- @usage server:set_limits { latency = 0.05, rate_limit = { requests = 10, per = 1 } }
function Server:set_limits(settings)
  if type(settings) ~= "table" then error(PREFIX .. "set_limits(settings): settings must be a table", 2) end
  local report = call(self, 3, "POST", "/_fake/limits", settings)
  return report
end

-- ISO 8601 of epoch milliseconds `ms`; nil when datetime cannot write it (out of its years)
local function iso_of(ms)
  local ok, iso = pcall(datetime.format, ms)
  return ok and iso or nil
end

-- set_clock and freeze_clock; `name` and `level` for the errors
local function set_clock(self, when, name, level)
  if when == nil then
    call(self, level + 1, "POST", "/_fake/clock", { now = json.null })
    self.frozen_ms = nil
    return nil
  end
  local ok, iso = pcall(datetime.param, when)
  local ms = ok and iso and datetime.parse(iso)
  iso = ms and iso_of(ms)
  if not iso then
    error(PREFIX .. name .. "(when): when must be an ISO 8601 date-time or epoch seconds, got "
      .. cap(when, 60), level)
  end
  call(self, level + 1, "POST", "/_fake/clock", { now = iso })
  self.frozen_ms = ms
  return iso
end

--- Freezes the server's clock: records created from now on get that time.
-- @param when an ISO 8601 date-time, or epoch seconds (a number, fractions
--   allowed); nil lets the clock run again
-- @return the frozen time as ISO 8601 (nil when running)
-- @usage server:set_clock("2024-01-01T00:00:00.000Z")
function Server:set_clock(when)
  local iso = set_clock(self, when, "set_clock", 3)
  return iso
end

--- The same as `set_clock` (the name the project's own specs use).
-- @param when as for `set_clock`
-- @return as `set_clock`
function Server:freeze_clock(when)
  local iso = set_clock(self, when, "freeze_clock", 3)
  return iso
end

--- Moves the frozen clock by `seconds` (negative: back).
-- @tparam number seconds how far
-- @return the new time as ISO 8601
-- @usage server:set_clock("2024-01-01T00:00:00Z"); server:advance_clock(3600)
function Server:advance_clock(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds == math.huge or seconds == -math.huge then
    error(PREFIX .. "advance_clock(seconds): seconds must be a finite number", 2)
  end
  if not self.frozen_ms then error(PREFIX .. "advance_clock: freeze the clock first (server:set_clock)", 2) end
  local ms = math.floor(self.frozen_ms + seconds * 1000 + 0.5)
  local iso = iso_of(ms)
  if not iso then error(PREFIX .. "advance_clock(seconds): the clock would leave the years it can show", 2) end
  call(self, 3, "POST", "/_fake/clock", { now = iso })
  self.frozen_ms = ms
  return iso
end

--- Adds customers as given, with their own `created_at` / `updated_at` (null:
-- never updated); no API request is logged.
-- @tparam table list customer objects (`id`, `source_id`, `name`, `email`, `metadata`, ...), a list, not empty
-- @treturn integer how many were added
-- @usage server:seed_customers { { id = "cust_1", source_id = "alice", created_at = "2024-01-01T00:00:00.000Z" } }
function Server:seed_customers(list)
  local list_ = array(list, "seed_customers(list): list", 2)
  return call(self, 3, "POST", "/_fake/customers", { customers = list_ }).count
end

--- Creates orders through the API (`POST /v1/orders`, one per order), so they
-- are what the API would have made of them.  These requests are in
-- `server:requests()` (call `clear_requests` after seeding if a test counts
-- them), count against rate limits and take queued faults: seed first.
-- @tparam table list order bodies, as for `client.orders:create`, a list, not empty
-- @treturn table the created orders, in order
-- @usage server:seed_orders { { source_id = "o-1", amount = 1000, status = "PAID" } }
function Server:seed_orders(list)
  local orders = array(list, "seed_orders(list): list", 2)
  if self.stopped then error(PREFIX .. "seed_orders: the server is stopped", 2) end
  local created = {}
  for i, order in ipairs(orders) do
    local res, err = self.http:perform {
      method = "POST", url = self.url .. "/v1/orders", timeout = CONTROL_TIMEOUT, body = assert(json.encode(order)),
      headers = { "Content-Type: application/json", "X-App-Id: " .. self.app_id, "X-App-Token: " .. self.app_token },
    }
    if not res or res.status ~= 200 then
      error(PREFIX .. "seed_orders: order " .. i .. ": "
        .. cap(res and (res.status .. " " .. res.body) or tostring(err and err.message or err), 2000), 2)
    end
    created[i] = assert(json.decode(res.body))
  end
  return created
end

--- Gives customer `id` `count` redeemables.
-- @tparam string id a customer id
-- @tparam integer count how many
-- @usage server:seed_redeemables(customer.id, 3)
function Server:seed_redeemables(id, count)
  if type(id) ~= "string" then error(PREFIX .. "seed_redeemables(id, count): id must be a string", 2) end
  call(self, 3, "POST", "/_fake/customers/" .. segment(id) .. "/redeemables", { count = count })
end

--- Sets the segments of customer `id`.
-- @tparam string id a customer id
-- @tparam table segments a list of `{ id = ..., name = ... }`
-- @usage server:set_segments(customer.id, { { id = "seg_1", name = "VIP" } })
function Server:set_segments(id, segments)
  if type(id) ~= "string" then error(PREFIX .. "set_segments(id, segments): id must be a string", 2) end
  call(self, 3, "POST", "/_fake/customers/" .. segment(id) .. "/segments",
    { segments = array(segments, "set_segments(id, segments): segments", 2, true) })
end

--- Makes the async action or export `id` end FAILED / ERROR.
-- @tparam string id its id
-- @usage server:fail_job(job.async_action_id)
function Server:fail_job(id)
  if type(id) ~= "string" then error(PREFIX .. "fail_job(id): id must be a string", 2) end
  call(self, 3, "POST", "/_fake/jobs/" .. segment(id) .. "/fail")
end

--- Sets the lifetime of the OAuth tokens issued from now on.
-- @tparam number seconds their lifetime
-- @usage server:oauth_ttl(0.5)
function Server:oauth_ttl(seconds)
  if type(seconds) ~= "number" or not (seconds >= 0 and seconds < math.huge) then
    error(PREFIX .. "oauth_ttl(seconds): seconds must be a finite number, not negative", 2)
  end
  call(self, 3, "POST", "/_fake/oauth", { ttl = seconds })
end

--- Makes every OAuth token issued so far invalid (the API answers 401).
-- @usage server:revoke_tokens()
function Server:revoke_tokens()
  call(self, 3, "POST", "/_fake/oauth/revoke")
end

-- busted ------------------------------------------------------------------

--- Gives the tests of the enclosing busted `describe` a server: started
-- before the first test, reset before each one, stopped after the last (with
-- the client, when asked for one).  Call it at the top of a `describe` body;
-- `bind` gets them before the first test, to set the block's locals.
-- @tparam[opt] table opts `start` (options for `testing.start`), `client`
--   (true, or options added to `client_options()`)
-- @tparam function bind called as `bind(server, client)`
-- @usage
-- describe("sync", function()
--   local server, client
--   testing.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)
--   it("...", function() ... end)
-- end)
function testing.suite(opts, bind)
  if type(opts) == "function" then opts, bind = nil, opts end
  if opts ~= nil and type(opts) ~= "table" then error(PREFIX .. "suite(opts, bind): opts must be a table", 2) end
  if type(bind) ~= "function" then error(PREFIX .. "suite(opts, bind): bind must be a function", 2) end
  local busted = require "busted"
  local want_client = opts and opts.client
  local server, client
  busted.setup(function()
    server = testing.start(opts and opts.start)
    if want_client then client = server:client(want_client ~= true and want_client or nil) end
    bind(server, client)
  end)
  busted.teardown(function()
    if server then server:stop() end
  end)
  busted.before_each(function() server:reset() end)
end

return testing
