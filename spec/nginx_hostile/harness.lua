--- Test helper: a private nginx (lua-nginx-module, LuaJIT) that runs the
-- cases of nginx_hostile/cases.lua on the cosocket transport.  It listens on
-- a unix socket inside its own `mktemp -d` prefix, so nothing is shared with
-- another copy of the suite running at the same time: no port, no fixed path.
local json = require "voucherify.json"
local socket = require "cqueues.socket"

local harness = {}

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok, (out:gsub("%s+$", ""))
end

local Nginx = {}
Nginx.__index = Nginx

--- Starts nginx; `cpath` is where voucherify/core.so is found (the LuaJIT
-- build), nil for none (the pure-Lua fallbacks).
function harness.start(cpath)
  local ok, prefix = sh("mktemp -d")
  assert(ok, "mktemp -d failed: " .. prefix)
  assert(os.execute("mkdir " .. prefix .. "/tmp"))
  local _, root = sh("pwd")
  local _, user = sh("id -un")
  local _, group = sh("id -gn")
  local conf = assert(io.open("spec/nginx_hostile/nginx.conf.in")):read("a")
  conf = conf:gsub("@(%u+)@", {
    PREFIX = prefix, ROOT = root,
    CPATH = cpath and (root .. "/" .. cpath) or (prefix .. "/none/?.so"),
    -- workers run as whoever runs the specs, so they can read the checkout
    USER = ("user %s %s;"):format(user, group),
  })
  local f = assert(io.open(prefix .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  -- the master creates the socket before the daemonising command returns
  local started, out = sh(("nginx -e %s/error.log -p %s -c %s/nginx.conf"):format(prefix, prefix, prefix))
  if not started then
    os.execute("rm -rf " .. prefix)
    error("nginx did not start: " .. out)
  end
  return setmetatable({ prefix = prefix }, Nginx)
end

--- GET `target` over the unix socket; returns the status and the decoded JSON body.
function Nginx:get(target, timeout)
  local conn = assert(socket.connect { path = self.prefix .. "/nginx.sock" })
  conn:settimeout(timeout or 60)
  conn:setmode("bn", "bn")
  assert(conn:write(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n"):format(target)))
  assert(conn:flush())
  local raw = conn:read("*a") or ""
  conn:close()
  local status = tonumber(raw:match("^HTTP/1%.%d (%d%d%d)"))
  local body = raw:match("\r\n\r\n(.*)$") or ""
  assert(status, "no answer from nginx for " .. target .. ": " .. raw .. "\n" .. self:log())
  assert(status == 200, ("nginx answered %d for %s: %s\n%s"):format(status, target, body, self:log()))
  return assert(json.decode(body))
end

--- nginx's error.log so far.
function Nginx:log()
  local f = io.open(self.prefix .. "/error.log")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

--- Stops nginx (waiting for the master to exit) and removes its prefix.
function Nginx:stop()
  local pid = io.open(self.prefix .. "/nginx.pid")
  local master = pid and pid:read("n")
  if pid then pid:close() end
  sh(("nginx -p %s -c %s/nginx.conf -s stop"):format(self.prefix, self.prefix))
  if master then
    -- the signal is asynchronous: wait (bounded) until the master is gone
    for _ = 1, 500 do
      if not os.execute(("kill -0 %d 2>/dev/null"):format(master)) then break end
      require("voucherify.core").sleep(0.01)
    end
  end
  os.execute("rm -rf " .. self.prefix)
end

--- Percent-encodes a query value.
function harness.escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

return harness
