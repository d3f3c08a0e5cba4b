-- Every example `make demo` runs (examples/expected.lua), run here the same
-- way as a child process against a fake server of its own: it must exit 0,
-- print the lines it promises, and leave the server in the state it claims
-- (orders, customers, files, no 429).  An example that breaks, or quietly
-- prints wrong figures, fails `make test`.
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"
local nginx_server = require "support.nginx"
local process = require "support.process"
local voucherify = require "voucherify"

local examples = dofile("examples/expected.lua")

-- smaller than `make demo`'s 2000, to keep the suite short: still 2.5 s of the plan's floor
local BULK_COUNT = 1000

-- a shell word that stands for `s` exactly
local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

local function by_name(name)
  for _, example in ipairs(examples) do
    if example.name == name then return example end
  end
  error("no example named " .. name .. " in examples/expected.lua")
end

local _, ROOT = process.sh("pwd")

-- Runs an example against `server` (nil: it starts its own); returns its exit
-- status and everything it printed.
local function run(example, server, out_dir, extra_env)
  local env = { LUA_PATH = "lua/?.lua;lua/?/init.lua;fakeserver/?.lua;;", LUA_CPATH = "build/?.so;;" }
  if server then
    env.VOUCHERIFY_BASE_URL, env.VOUCHERIFY_APP_ID = server.url, fake_server.APP_ID
    env.VOUCHERIFY_APP_TOKEN = fake_server.APP_TOKEN
  end
  for k, v in pairs(example.env or {}) do env[k] = v end
  for k, v in pairs(extra_env or {}) do env[k] = v end
  local words = {}
  for k, v in pairs(env) do words[#words + 1] = k .. "=" .. quote(v) end
  words[#words + 1] = "timeout 60" -- bounded: a hung example fails its test instead of the whole run
  for _, word in ipairs(example.command) do
    words[#words + 1] = quote((word:gsub("%$LUA", fake_server.LUA):gsub("%$OUT", out_dir):gsub("%$ROOT", ROOT)))
  end
  local output = process.output("env " .. table.concat(words, " ") .. " 2>&1; echo \"exit $?\"")
  local status = output:match("exit (%d+)\n$")
  return tonumber(status), output:gsub("exit %d+\n$", "")
end

-- The example runs, exits 0 and prints each of its `expect` patterns.
-- @return its server (to look at what it did there), its output, the directory for its files
local function run_and_check(name, extra_env)
  local example = by_name(name)
  local server = example.server ~= false and fake_server.start(example.server) or nil
  local dir = process.temp_dir("example")
  local ok, err = pcall(function()
    local status, output = run(example, server, dir, extra_env)
    assert(status == 0, ("%s exited with %s:\n%s"):format(name, tostring(status), output))
    for _, pattern in ipairs(example.expect) do
      assert(("\n" .. output):find(pattern), ("%s did not print %q:\n%s"):format(name, pattern, output))
    end
    return output
  end)
  if not ok then
    -- no server left running: busted would wait for it at exit
    if server then server:stop() end
    os.execute("rm -rf " .. dir)
    error(err, 0)
  end
  return server, err, dir
end

describe("examples (make demo)", function()
  local server, dir

  after_each(function()
    if server then server:stop() end
    if dir then os.execute("rm -rf " .. dir) end
    server, dir = nil, nil
  end)

  it("lists every example of examples/ in examples/expected.lua, so none is left out of make demo", function()
    local listed = {}
    for _, example in ipairs(examples) do listed[example.name] = true end
    local _, ls = process.sh("ls examples")
    for entry in ls:gmatch("[^\n]+") do
      local name = entry:match("^(.-)%.lua$") or entry
      if name ~= "expected" and name ~= "run" then
        assert(listed[name], "examples/" .. entry .. " is not run by make demo: add it to examples/expected.lua")
      end
    end
  end)

  it("orders_demo creates 120 orders, iterates them, updates one, exports", function()
    local output
    server, output, dir = run_and_check("orders_demo")
    local client <close> = voucherify.new(server:client_options())
    local page = assert(client.orders:list { limit = 1 })
    assert.are.equal(120, page.total)
    assert.are.equal("FULFILLED", assert(client.orders:get("demo-order-005")).status)
    -- the revenue it prints is the sum of what the server holds
    local paid = 0
    for order in client.orders:each {} do
      if order.status == "PAID" then paid = paid + order.total_amount end
    end
    assert.matches(("PAID revenue %.2f\n"):format(paid / 100), output, 1, true)
  end)

  it("customers_sync imports 60 customers of 61 rows and tags them all with metadata", function()
    local _
    server, _, dir = run_and_check("customers_sync")
    local client <close> = voucherify.new(server:client_options())
    local tagged = 0
    for customer in client.customers:each {} do
      if type(customer.metadata) == "table" and customer.metadata.synced_by == "voucherify-lua" then
        tagged = tagged + 1
      end
    end
    assert.are.equal(60, tagged)
    local _, err = client.customers:get("sync-bad")
    assert.are.equal(404, err.status)
  end)

  it("export_orders saves a CSV with the fields it asked for and the 8 orders it made", function()
    local _
    server, _, dir = run_and_check("export_orders")
    local csv = assert(process.read_file(dir .. "/orders-export.csv"))
    local lines = {}
    for line in csv:gmatch("[^\r\n]+") do lines[#lines + 1] = line end
    assert.are.equal("id,source_id,status,amount,created_at,metadata.channel", lines[1])
    assert.are.equal(9, #lines)
    for i = 2, 9 do assert.matches("export%-demo%-%d", lines[i]) end
  end)

  it("bulk_sync creates its orders at the plan's rate, and the server sent no 429", function()
    local output
    server, output, dir = run_and_check("bulk_sync", { BULK_SYNC_COUNT = BULK_COUNT })
    assert.matches(("created %d, failed 0"):format(BULK_COUNT), output, 1, true)
    local stats = fake_limits.stats(server)
    assert.are.equal(0, stats.too_many_requests.total)
    assert.are.equal(BULK_COUNT, stats.requests)
    -- 1000 at 400 per second cannot take less than 2.5 s: it was paced, not lucky
    local took = tonumber(output:match("in ([%d.]+) s; the plan's floor"))
    assert.is_true(took >= 2.4, "took " .. tostring(took))
  end)

  it("openresty: four nginx workers create 40 orders at once within the server's limit, no 429", function()
    assert(nginx_server.available(), "nginx with the lua module is needed: run `make deps`")
    local output
    server, output, dir = run_and_check("openresty")
    local stats = fake_limits.stats(server)
    assert.are.equal(0, stats.too_many_requests.total)
    local client <close> = voucherify.new(server:client_options())
    assert.are.equal(42, assert(client.orders:list { limit = 1 }).total)
    for i = 1, 40 do
      assert.are.equal(i * 100, assert(client.orders:get(("burst-%03d"):format(i))).amount)
    end
    -- 40 + 2 creates through one budget of 20 per second take 2 s at least, whatever the workers
    local took = tonumber(output:match("served by %d workers in ([%d.]+) s"))
    assert.is_true(took >= 1.7, "took " .. tostring(took))
  end)

  it("test_my_code: a user's module passes its own busted spec against the test kit's fake server", function()
    server, _, dir = run_and_check("test_my_code")
  end)
end)
