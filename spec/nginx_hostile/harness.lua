--- Test helper: a private nginx (lua-nginx-module, LuaJIT) that runs the
-- cases of nginx_hostile/cases.lua on the cosocket transport, started by
-- spec/support/nginx.lua.  It listens on a unix socket inside its own prefix,
-- so nothing is shared with another copy of the suite running at the same
-- time: no port, no fixed path.
local json = require "voucherify.json"
local socket = require "cqueues.socket"
local nginx_server = require "support.nginx"
local process = require "support.process"

local harness = {}

-- GET `target` over the unix socket; returns the decoded JSON body (raises
-- unless nginx answered 200).  Replaces support.nginx's `get`, which speaks TCP.
local function get(self, target, timeout)
  local conn = assert(socket.connect { path = self.prefix .. "/nginx.sock" })
  conn:settimeout(timeout or 60)
  conn:setmode("bn", "bn")
  assert(conn:write(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n"):format(target)))
  assert(conn:flush())
  local raw = conn:read("*a") or ""
  conn:close()
  local status = tonumber(raw:match("^HTTP/1%.%d (%d%d%d)"))
  local body = raw:match("\r\n\r\n(.*)$") or ""
  if not status then error("no answer from nginx for " .. target .. ": " .. raw .. "\n" .. self:file("error.log")) end
  if status ~= 200 then
    error(("nginx answered %d for %s: %s\n%s"):format(status, target, body, self:file("error.log")))
  end
  return assert(json.decode(body))
end

--- Starts nginx (spec/support/nginx.lua); `cpath` is where voucherify/core.so
-- is found (the LuaJIT build), nil for none (the pure-Lua fallbacks).
-- @return the support.nginx object, its `get(target[, timeout])` over the unix socket
function harness.start(cpath)
  local _, root = process.sh("pwd")
  local nginx = nginx_server.start { conf = "spec/nginx_hostile/nginx.conf.in", port = false,
    vars = { CPATH = cpath and (root .. "/" .. cpath) or "@PREFIX@/none/?.so" } }
  nginx.get = get
  return nginx
end

--- Percent-encodes a query value.
function harness.escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

return harness
