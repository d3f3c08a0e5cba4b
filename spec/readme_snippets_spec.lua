-- Every ```lua block of README.md runs, as written, against the fake server:
-- each in a Lua 5.4 child process of its own, in a fresh directory, with the
-- names the README leaves to the reader (`client`, `id`, `list`, `orders`,
-- ...) defined, and must end without an error and without a failed API call.
-- A snippet that stops working fails here.
--
-- How a block is run:
-- - `voucherify.new` gets `base_url` pointing at the fake server (credentials
--   too, when the block leaves them out) and an `on_response` hook that
--   records every call; every call must succeed unless the block's entry in
--   SNIPPETS below allows its failure.
-- - `...` alone as a statement ("your code here": `do ... end`) is dropped;
--   `...` as a value (`app_id = ...`) is the chunk's varargs: nothing.
-- - A block that calls `describe(` is a busted spec (the test kit's example):
--   it runs with busted, the checkout's lua/, fakeserver/ and
--   examples/test_my_code/ (its module) on the path, and must pass.
-- - A block whose info string is "lua -- not run" is only compiled.
-- - Errors name README.md and the line there.
local fake_server = require "fake_server"
local json = require "voucherify.json"
local process = require "support.process"
local voucherify = require "voucherify"

-- README_FILE: another copy, to try an edit of the README before making it
local README = os.getenv("README_FILE") or "README.md"

-- What a block needs beyond the defaults, found by a plain substring of its
-- first line: `allow` (patterns of "METHOD /path status" a call may fail
-- with), `check(server, run)` (run = { output, calls, dir }) for what the
-- block should have done.
local SNIPPETS = {
  {
    first_line = 'local voucherify = require "voucherify"',
    check = function(server, run)
      local client <close> = voucherify.new(server:client_options())
      assert.are.equal("FULFILLED", assert(client.orders:get("web-1001")).status)
      assert.matches("exp_%w+\tSCHEDULED\n", run.output)
    end,
  },
  {
    first_line = "local c = assert(client.customers:create {",
    check = function(server)
      local client <close> = voucherify.new(server:client_options())
      local _, err = client.customers:get("alice@example.com")
      assert.are.equal(404, err and err.status) -- deleted
    end,
  },
  {
    first_line = "local job = assert(client.orders:import(list))",
    check = function(_, run)
      local csv = assert(process.read_file(run.dir .. "/orders.csv"), "no orders.csv written")
      assert.are.equal("id,source_id,status,amount", csv:match("^[^\r\n]*"))
    end,
  },
  {
    first_line = "local voucher, err, res = client:request {",
    -- the fake server implements no voucher endpoint: the call is made, and answered 404
    allow = { "^GET /v1/vouchers/[^ ]+ 404$", "^POST /v1/vouchers/qualification 404$" },
    check = function(_, run)
      assert.are.equal(2, #run.calls)
    end,
  },
  {
    first_line = "client:map(orders,",
    check = function(server, run)
      assert.are.equal(3, #run.calls)
      local client <close> = voucherify.new(server:client_options())
      assert.is_truthy(client.orders:get("readme-map-3"))
    end,
  },
}

-- The child's side: defines what the README leaves to the reader, runs the
-- block, writes the calls it made to calls.json.
-- arg: ROOT, the block's file, its first line in README.md
local RUNNER = [==[
local root, block_file, first_line = arg[1], arg[2], tonumber(arg[3])
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath
local voucherify = require "voucherify"
local json = require "voucherify.json"
local base_url, app_id, app_token = os.getenv("VOUCHERIFY_BASE_URL"), os.getenv("VOUCHERIFY_APP_ID"),
  os.getenv("VOUCHERIFY_APP_TOKEN")

-- data the snippets take for granted
local seed = voucherify.new { base_url = base_url, app_id = app_id, app_token = app_token }
local existing = assert(seed.orders:create { source_id = "readme-1", status = "PAID", amount = 1000 })
seed:close()
local f = assert(io.open("customers.csv", "w"))
f:write("Source_id,Name,Email\nann,Ann,ann@x.io\nbob,Bob,bob@x.io\n")
f:close()

local calls = {}
local new = voucherify.new
voucherify.new = function(options)
  local o = {}
  for k, v in pairs(options) do o[k] = v end
  o.base_url, o.cluster = base_url, nil
  if not (o.app_id or o.access_token) then o.app_id, o.app_token = app_id, app_token end
  o.on_response = function(info) calls[#calls + 1] = ("%s %s %s"):format(info.method, info.path, info.status) end
  return new(o)
end

local env = setmetatable({
  voucherify = voucherify,
  client = voucherify.new {},
  id = existing.id,
  code = "WELCOME-10",
  trace_id = "trace-readme",
  list = { { source_id = "readme-import-1", status = "PAID" }, { source_id = "readme-import-2" } },
  orders = { { source_id = "readme-map-1" }, { source_id = "readme-map-2" }, { source_id = "readme-map-3" } },
  connect = function() error("this snippet's run has no Redis") end,
}, { __index = _G })
local text = assert(io.open(block_file)):read("a")
local chunk = assert(load(("\n"):rep(first_line - 1) .. text, "@README.md", "t", env))
chunk()
f = assert(io.open("calls.json", "w"))
f:write(json.encode(json.array(calls)))
f:close()
]==]

-- The ```lua blocks of README.md: { line = the first code line, text, run = false for "-- not run" }
local function lua_blocks(text)
  local blocks, line, current = {}, 0, nil
  for l in (text .. "\n"):gmatch("(.-)\n") do
    line = line + 1
    if current then
      if l:match("^```%s*$") then
        current.text = table.concat(current.lines, "\n") .. "\n"
        blocks[#blocks + 1], current = current, nil
      else
        current.lines[#current.lines + 1] = l
      end
    elseif l:match("^```lua") then
      current = { line = line + 1, lines = {}, run = not l:match("^```lua%s+%-%-%s*not run") }
    end
  end
  assert(not current, "README.md: a ```lua block is not closed")
  return blocks
end

-- `...` alone as a statement is dropped; the line count is kept for the error lines
local function runnable(text)
  return (text:gsub("(%f[%w_]do)%s+%.%.%.%s+(end%f[^%w_])", "%1 %2"):gsub("\n%s*%.%.%.%s*\n", "\n\n"))
end

local function entry_for(block)
  local first = block.lines[1] or ""
  local found
  for _, entry in ipairs(SNIPPETS) do
    if first:find(entry.first_line, 1, true) then
      assert(not found, "two entries of SNIPPETS match README.md:" .. block.line)
      found = entry
    end
  end
  return found or {}
end

local blocks = lua_blocks(assert(process.read_file(README), "no " .. README))

describe("README.md's Lua snippets, run against the fake server", function()
  local server, dir
  fake_server.suite(function(s) server = s end)

  before_each(function()
    dir = process.temp_dir("readme")
    process.write_file(dir .. "/run.lua", RUNNER)
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("has runnable snippets, and each entry of the spec still matches one", function()
    assert.is_true(#blocks >= 5, "found only " .. #blocks .. " ```lua blocks")
    for _, entry in ipairs(SNIPPETS) do
      local used = false
      for _, block in ipairs(blocks) do
        if (block.lines[1] or ""):find(entry.first_line, 1, true) then used = true end
      end
      assert(used, "no ```lua block of README.md starts with " .. entry.first_line .. ": update SNIPPETS")
    end
  end)

  for _, block in ipairs(blocks) do
    local title = ("README.md:%d %s"):format(block.line, block.lines[1] or "")
    if block.run and block.text:find("%f[%w_]describe%s*%(") then
      it(title .. " (a busted spec)", function()
        process.write_file(dir .. "/snippet_spec.lua", ("\n"):rep(block.line - 1) .. block.text)
        local _, root = process.sh("pwd")
        -- the module under test is examples/test_my_code's
        local output = process.output(("cd %s && LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;%s/fakeserver/?.lua;"
          .. "%s/examples/test_my_code/?.lua;;' LUA_CPATH='%s/build/?.so;;' timeout 60 %s /usr/bin/busted -o TAP"
          .. " snippet_spec.lua 2>&1; echo \"exit $?\""):format(dir, root, root, root, root, root, fake_server.LUA))
        assert(output:match("exit 0\n$") and output:find("\nok "), "the spec did not pass:\n" .. output)
      end)
    elseif not block.run then
      it(title .. " (not run: compiles)", function()
        assert(load(runnable(block.text), "@README.md", "t", {}))
      end)
    else
      it(title, function()
        local entry = entry_for(block)
        process.write_file(dir .. "/block.lua", runnable(block.text))
        local _, root = process.sh("pwd")
        local opts = server:client_options()
        local output = process.output(("cd %s && VOUCHERIFY_BASE_URL=%s VOUCHERIFY_APP_ID=%s VOUCHERIFY_APP_TOKEN=%s"
          .. " timeout 60 %s run.lua %s block.lua %d 2>&1; echo \"exit $?\""):format(dir, opts.base_url,
          opts.app_id, opts.app_token, fake_server.LUA, root, block.line))
        local status = output:match("exit (%d+)\n$")
        output = output:gsub("exit %d+\n$", "")
        assert(status == "0", ("the snippet failed (exit %s):\n%s"):format(tostring(status), output))
        local calls = assert(json.decode(assert(process.read_file(dir .. "/calls.json"))))
        for _, call in ipairs(calls) do
          local status_code = tonumber(call:match("(%d+)$"))
          local allowed = status_code and status_code < 400
          for _, pattern in ipairs(entry.allow or {}) do allowed = allowed or call:find(pattern) ~= nil end
          assert(allowed, ("a call of the snippet failed: %s\nits calls:\n%s\n%s"):format(call,
            table.concat(calls, "\n"), output))
        end
        if entry.check then entry.check(server, { output = output, calls = calls, dir = dir }) end
      end)
    end
  end
end)
