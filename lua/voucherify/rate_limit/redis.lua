--- The rate limiter's budget in Redis, shared by every process on every host.
--
-- Each decision is one script run inside Redis (EVALSHA, EVAL when Redis
-- does not know the script yet), so it is atomic without locks.  The script
-- is `voucherify.rate_limit.gcra`'s step plus a few lines around it, and
-- reads the time from Redis (TIME), so that hosts whose clocks disagree
-- share one budget; waits come back as durations (microseconds).
--
-- `connect()` returns a connected client with `eval(script, numkeys, ...)`
-- (and `evalsha`): lua-resty-redis (answers `res, err`; a Redis error is
-- `false, "ERR ..."`) or redis-lua (raises on any error).  Both are handled.
-- A client that has `set_keepalive` (lua-resty-redis: cosockets cannot
-- outlive a request) goes back to nginx's pool after each decision; any other
-- is kept and reused until it fails.  Give `connect` a short timeout: a Redis
-- that hangs holds up the call that waits for its turn.
-- See voucherify.rate_limit.local_store for the store interface.
-- @module voucherify.rate_limit.redis

local gcra = require "voucherify.rate_limit.gcra"

local redis = {}

-- Redis before 5 refuses writes after a non-deterministic command (TIME)
-- unless the script asks for effects replication; later ones ignore it.
-- A stored time expires a second after it stops mattering.
redis.SCRIPT = gcra.SOURCE .. [[
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat, stop = tonumber(redis.call("GET", KEYS[1])), tonumber(redis.call("GET", KEYS[2]))
local new_tat, new_stop, code, value = step(ARGV[1], tat, stop, now, tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]))
local function keep(key, old, new)
  if new and new ~= old and new > now then
    redis.call("SET", key, string.format("%.0f", new), "PX", math.ceil((new - now) / 1000) + 1000)
  end
end
keep(KEYS[1], tat, new_tat)
keep(KEYS[2], stop, new_stop)
return { code, value, (new_tat or now) - now }
]]

-- asks Redis for a script's SHA1 (no SHA1 needed here, in any Lua)
local SHA_OF = "return redis.sha1hex(ARGV[1])"

local Store = { __name = "voucherify.rate_limit.redis" }
Store.__index = Store

--- Makes a store in Redis.
-- @tparam function connect returns a connected Redis client, or `nil, err` (or raises)
-- @tparam[opt] table opts `prefix` for the keys (default "voucherify:rate_limit:")
function redis.new(connect, opts)
  if type(connect) ~= "function" then
    error("voucherify.rate_limit.redis: expects a function that returns a connected Redis client", 3)
  end
  local prefix = opts and opts.prefix or "voucherify:rate_limit:"
  if type(prefix) ~= "string" then error("voucherify.rate_limit.redis: 'prefix' must be a string", 3) end
  return setmetatable({ connect = connect, prefix = prefix, names = {} }, Store)
end

-- A command on `client`, either way a client reports failure:
-- -> the reply, or nil and the error text.
local function command(client, name, ...)
  local method = client[name]
  if type(method) ~= "function" then return nil, "the Redis client has no " .. name .. " method" end
  local ok, res, err = pcall(method, client, ...)
  if not ok then return nil, tostring(res) end
  if res == nil or res == false then return nil, tostring(err or "no reply") end
  return res
end

-- the script's result through `client`: EVALSHA, and EVAL when Redis does not
-- have the script (a first run, a restart, SCRIPT FLUSH)
local function run(self, client, ...)
  if client.evalsha then
    if not self.sha then self.sha = command(client, "eval", SHA_OF, 0, redis.SCRIPT) end
    if self.sha then
      local res, err = command(client, "evalsha", self.sha, 2, ...)
      if res or not err:find("NOSCRIPT", 1, true) then return res, err end
    end
  end
  return command(client, "eval", redis.SCRIPT, 2, ...)
end

local function client_of(self)
  local client = self.client
  if client then return client end
  local ok, c, err = pcall(self.connect)
  if not ok then return nil, tostring(c) end
  if not c then return nil, tostring(err or "connect() returned nothing") end
  return c
end

local function release(self, client, failed)
  if failed then
    self.client = nil
    if client.close then pcall(client.close, client) end
  elseif client.set_keepalive then
    self.client = nil
    pcall(client.set_keepalive, client)
  else
    self.client = client
  end
end

-- whole microseconds as text (Redis' Lua reads them with tonumber)
local function us(seconds)
  return ("%.0f"):format(seconds * 1e6)
end

-- One decision through a connection (the kept one, or a new one).
local function decide(self, keys, op, budget, arg)
  local client, err = client_of(self)
  if not client then return nil, "redis: " .. err end
  local res
  res, err = run(self, client, keys[1], keys[2], op, us(budget.interval), us(budget.tolerance), us(arg))
  local code = type(res) == "table" and tonumber(res[1])
  release(self, client, not code)
  if not code then return nil, "redis: " .. tostring(err or "unexpected reply") end
  return code, tonumber(res[2]) / 1e6, tonumber(res[3]) / 1e6
end

--- Runs one decision in Redis (see voucherify.rate_limit.local_store); `now` is not used.
function Store:update(budget, op, _, arg)
  local keys = self.names[budget.key]
  if not keys then
    keys = { self.prefix .. budget.key, self.prefix .. budget.stop_key }
    self.names[budget.key] = keys
  end
  local kept = self.client ~= nil
  local code, value, ahead = decide(self, keys, op, budget, arg)
  -- a kept connection may have died since (a Redis restart, an idle timeout):
  -- one new one before the store counts as failed
  if not code and kept then code, value, ahead = decide(self, keys, op, budget, arg) end
  return code, value, ahead
end

return redis
