--- Test helper: a loopback HTTP server scripted byte by byte, for the
-- servers the fake server cannot imitate (wrong lengths, CR in headers,
-- connections closed after the request was read, cursors that never advance).
--
--   local srv = raw_server.start([[
--     return function(conn, ctx)
--       local req = ctx.read_request(conn); ctx.record(req)
--       conn:write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
--     end
--   ]])
--   -- srv.url, srv:requests(), srv:stop()
--
-- The script runs in a child process (lua5.4 + cqueues, see raw_server_main.lua);
-- `ctx` gives read_request, record, index (nth connection), state (shared by
-- all connections), json and sleep.  Start-up is synchronised on the line the
-- child prints once it listens; `record` is flushed before the script answers,
-- so after a call returns, `requests()` holds what the server read.
local json = require "voucherify.json"

local raw_server = {}

raw_server.LUA = os.getenv("LUA") or "lua5.4"

local Server = {}
Server.__index = Server

--- Starts a server running `source` (Lua text returning function(conn, ctx)).
function raw_server.start(source)
  local script, log = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "wb"))
  f:write(source)
  f:close()
  local pipe = assert(io.popen(("exec %s spec/support/raw_server_main.lua %s %s"):format(
    raw_server.LUA, script, log), "r"))
  local line = pipe:read("l")
  local url, pid = (line or ""):match("^listening on (%S+) pid (%d+)$")
  if not url then
    pipe:close()
    os.remove(script)
    os.remove(log)
    error("raw server did not start: " .. tostring(line))
  end
  return setmetatable({ url = url, pid = pid, pipe = pipe, script = script, log = log }, Server)
end

--- Every entry the script recorded so far, oldest first.
function Server:requests()
  local out = {}
  local f = assert(io.open(self.log, "rb"))
  for line in f:lines() do out[#out + 1] = assert(json.decode(line)) end
  f:close()
  return out
end

--- Stops the server and waits for its process to exit.
function Server:stop()
  if not self.pid then return end
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  self.pipe:close()
  os.remove(self.script)
  os.remove(self.log)
  self.pid = nil
end

return raw_server
