--- Test helper: a real redis-server (Debian's package) on a random free
-- loopback port, in a directory of its own, and Debian's redis-lua client.
--
--   local server = redis_server.start()
--   local client = server:connect()      -- a redis-lua client
--   server:stop(); server:restart()      -- the same port again
--
-- Debian installs redis-lua (package lua-redis) for Lua 5.1-5.3 only; it is
-- pure Lua on LuaSocket, whose C part Debian builds for 5.4 as well, so it is
-- loaded here from the newest of those directories.
local process = require "support.process"

local redis_server = {}

-- where Debian's lua-redis puts redis.lua, newest Lua first
local REDIS_LUA = { "/usr/share/lua/5.4/redis.lua", "/usr/share/lua/5.3/redis.lua", "/usr/share/lua/5.2/redis.lua",
  "/usr/share/lua/5.1/redis.lua" }

--- The redis-lua module (`redis.connect`), or nil and why.
function redis_server.client()
  if package.loaded.redis then return package.loaded.redis end
  local path = package.searchpath("redis", package.path)
  if not path then
    for _, candidate in ipairs(REDIS_LUA) do
      local f = io.open(candidate)
      if f then
        f:close()
        path = candidate
        break
      end
    end
  end
  if not path then return nil, "redis-lua is not installed (Debian package lua-redis)" end
  local ok, module = pcall(dofile, path)
  if not ok then return nil, "redis-lua does not load: " .. tostring(module) end
  package.loaded.redis = module
  return module
end

--- True when redis-server and redis-lua (with LuaSocket) are installed.
function redis_server.available()
  return (process.sh("command -v redis-server")) and redis_server.client() ~= nil
end

local Server = {}
Server.__index = Server

-- Starts redis-server on `port` in the foreground of a pipe; true once it
-- accepts connections, false when the port is taken.
local function launch(self, port)
  -- `exec` keeps the shell's pid, which is printed first
  local pipe = assert(io.popen(("echo $$; exec redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no"
    .. " --daemonize no --dir %s 2>&1"):format(port, self.dir)))
  local pid = pipe:read("l")
  local log = {}
  for line in pipe:lines() do
    log[#log + 1] = line
    if line:find("Ready to accept connections", 1, true) then
      self.pipe, self.pid, self.port = pipe, pid, port
      return true
    end
  end
  pipe:close()
  local text = table.concat(log, "\n")
  if text:find("Address already in use", 1, true) then return false end
  error("redis-server did not start:\n" .. text)
end

--- Starts a server on a free port.
function redis_server.start()
  local self = setmetatable({ dir = process.temp_dir("redis") }, Server)
  for _ = 1, 10 do
    -- to redis-server, --port 0 means no TCP listener at all: we pick one
    if launch(self, process.random_port()) then return self end
  end
  os.execute("rm -rf " .. self.dir)
  error("no free port for redis-server after 10 tries")
end

--- A new redis-lua connection to the server (raises when it is down).
function Server:connect()
  return assert(redis_server.client()).connect { host = "127.0.0.1", port = self.port, timeout = 1 }
end

--- Stops the server and waits until it has exited (the data goes with it).
function Server:stop()
  if not self.pipe then return end
  os.execute("kill " .. self.pid)
  self.pipe:read("a")
  self.pipe:close()
  self.pipe = nil
end

--- Starts the server again on the same port, empty.
function Server:restart()
  self:stop()
  assert(launch(self, self.port), "the port of the stopped redis-server was taken")
end

--- Stops the server and removes its directory.
function Server:close()
  self:stop()
  os.execute("rm -rf " .. self.dir)
end

return redis_server
