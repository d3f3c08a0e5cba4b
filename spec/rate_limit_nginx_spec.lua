-- The rate limiter's shared-dictionary store in a real nginx with four
-- workers: they take turns in one budget as fast as they can, all at once,
-- and the turns they were given never put more than N in a window of S; a
-- billing-cycle stop one worker learns stops the others.  The nginx needs no
-- port: each worker runs the test in a timer from init_worker and writes what
-- it got to a file.
local clock = require "voucherify.clock"
local nginx_server = require "support.nginx"
local process = require "support.process"

local WORKERS, TURNS, REQUESTS, PER = 4, 250, 20, 0.2

local read = process.read_file

-- The nginx: every worker runs the test (LuaJIT) in a timer from
-- init_worker, and writes what it got to @PREFIX@/worker-<id>.txt (or .err).
local CONF = nginx_server.LUA_MODULES .. [[
# workers run as whoever runs the specs, so they can write to the prefix
user @USER@;
worker_processes @WORKERS@;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
events { worker_connections 16; }
http {
]] .. nginx_server.HTTP_BASE .. [[
  lua_shared_dict rate_limit 1m;
  lua_shared_dict sync 64k;
  init_worker_by_lua_block {
    local function wait_for(dict, key, value)
      while (dict:get(key) or 0) < value do ngx.sleep(0.001) end
    end

    local function run(workers, turns)
      local clock = require "voucherify.clock"
      local rate_limit = require "voucherify.rate_limit"
      local sync = ngx.shared.sync
      local limiter = rate_limit.new({ requests = @REQUESTS@, per = @PER@,
        store = rate_limit.shared_dict(ngx.shared.rate_limit) }, { namespace = "spec" })
      -- every worker starts when all are there, then takes its turns as fast as it can
      sync:incr("ready", 1, 0)
      wait_for(sync, "ready", workers)
      local lines = {}
      for i = 1, turns do
        local now = clock.now()
        lines[i] = string.format("%.9f", now + assert(limiter:turn("api_calls", nil, now)))
      end
      sync:incr("done", 1, 0)
      wait_for(sync, "done", workers)
      if ngx.worker.id() == 0 then
        limiter:observe("api_calls", 429, { ["x-rate-limit-type"] = "api_calls_cycle", ["retry-after"] = "60" },
          clock.now())
        sync:set("stopped", 1)
      end
      wait_for(sync, "stopped", 1)
      local wait, why = limiter:turn("bulk_api_calls", nil, clock.now())
      lines[#lines + 1] = "cycle " .. tostring(wait) .. " " .. tostring(why and why.limit_type)
      return table.concat(lines, "\n") .. "\n"
    end

    ngx.timer.at(0, function()
      local ok, result = pcall(run, @WORKERS@, @TURNS@)
      local name = string.format("@PREFIX@/worker-%d.%s", ngx.worker.id(), ok and "txt" or "err")
      local f = io.open(name .. ".part", "w")
      f:write(tostring(result))
      f:close()
      os.rename(name .. ".part", name) -- whole, or not there
    end)
  }
}
]]

-- Runs the workers and returns each one's output.
local function run_workers()
  local dir = process.temp_dir("nginx")
  local conf = assert(io.open(dir .. "/rate_limit.conf.in", "w"))
  conf:write(CONF)
  conf:close()
  local nginx = nginx_server.start { conf = dir .. "/rate_limit.conf.in", port = false,
    vars = { WORKERS = WORKERS, TURNS = TURNS, REQUESTS = REQUESTS, PER = PER } }
  os.execute("rm -rf " .. dir)
  local outputs, errs = {}, {}
  local give_up = clock.now() + 30
  while #outputs + #errs < WORKERS and clock.now() < give_up do
    clock.sleep(0.05)
    outputs, errs = {}, {}
    for id = 0, WORKERS - 1 do
      local text = read(("%s/worker-%d.txt"):format(nginx.prefix, id))
      local err = read(("%s/worker-%d.err"):format(nginx.prefix, id))
      if text then outputs[#outputs + 1] = text end
      if err then errs[#errs + 1] = err end
    end
  end
  local log = nginx:file("error.log")
  nginx:stop()
  assert(#errs == 0, "a worker failed: " .. table.concat(errs, "\n"))
  assert(#outputs == WORKERS, "the workers did not finish:\n" .. log)
  return outputs
end

describe("rate_limit with a shared dictionary, in nginx with " .. WORKERS .. " workers", function()
  local outputs

  setup(function()
    assert(nginx_server.available(), "nginx with the lua module is needed: run `make deps`")
    outputs = run_workers()
  end)

  it("never gives more than N turns in a window of S to all the workers together, and uses the whole budget", function()
    local sends = {}
    for _, text in ipairs(outputs) do
      for t in text:gmatch("(%d+%.%d+)\n") do sends[#sends + 1] = tonumber(t) end
    end
    assert.are.equal(WORKERS * TURNS, #sends)
    table.sort(sends)
    -- turns are spaced by S / N (one clock for all workers: they only queue up, nobody waits)
    local interval, closest = PER / REQUESTS, math.huge
    for i = 2, #sends do closest = math.min(closest, sends[i] - sends[i - 1]) end
    assert.is_true(closest >= interval - 1e-9, ("two turns %.6f s apart"):format(closest))
    assert.is_near((#sends - 1) * interval, sends[#sends] - sends[1], 0.05)
  end)

  it("stops every worker once one of them has seen a billing-cycle 429", function()
    for _, text in ipairs(outputs) do
      assert.matches("cycle nil api_calls_cycle\n", text, 1, true)
    end
  end)
end)
