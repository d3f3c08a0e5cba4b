-- The same hostile servers against both transports: libcurl (csrc/http.c) in
-- this process, the cosocket transport (lua/voucherify/transport/ngx.lua)
-- inside a real nginx.  Each case of spec/nginx_hostile/cases.lua runs once
-- per transport against a fresh raw server (spec/support/raw_server.lua); the
-- outcome (result or error kind, limits, status) and what the server read
-- (method, target, body) must be what the case expects, and the same for both.
local raw_server = require "support.raw_server"
local harness = require "nginx_hostile.harness"
local cases = require "nginx_hostile.cases"
local voucherify = require "voucherify"
local json = require "voucherify.json"
local process = require "support.process"

local function server_source(case)
  if type(case.server) == "table" then
    return cases.PRELUDE .. ([[
return function(conn, ctx)
  rec(ctx, ctx.read_request(conn))
  conn:write(%q)
  conn:flush()
end]]):format(case.server.reply)
  end
  return cases.PRELUDE .. case.server
end

-- false, not nil, for a missing file: what a case expects (contents = false)
local function read_file(path)
  return process.read_file(path) or false
end

local write_file = process.write_file

-- Prepares the output path a download case writes to (case.param_kind).
local function prepare_download(case)
  local dir = process.temp_dir("hostile")
  local path = dir .. "/export.csv"
  if case.param_kind == "file" then
    write_file(path, "old contents")
  elseif case.param_kind == "fifo" then
    assert(os.execute("mkfifo " .. path))
  elseif case.param_kind == "symlink" then
    write_file(dir .. "/users-file", "the user's file")
    assert(os.execute(("ln -s %s/users-file %s"):format(dir, path)))
  end
  return dir, path
end

-- What the server read, comparable across transports: multipart bodies carry
-- a random boundary (and each transport its own part headers), so only
-- their presence is compared; JSON bodies are compared as values.
local function received(srv)
  local out = {}
  for _, r in ipairs(srv:requests()) do
    local body = r.body
    if type(body) == "string" and body:find("^%-%-") then body = "(multipart)" end
    -- JSON bodies as values: the two Luas order object keys differently
    if type(body) == "string" and body:find("^[%[{]") then body = json.decode(body) or body end
    out[#out + 1] = { method = r.method, target = r.target, body = body }
  end
  return out
end

local function check(case, outcome, reqs, label)
  for field, want in pairs(case.expect) do
    if field == "copies" then
      for pattern, n in pairs(want) do
        local got = 0
        for _, r in ipairs(reqs) do
          if (r.method .. " " .. r.target):find(pattern) then got = got + 1 end
        end
        assert.are.equal(n, got, ("%s: the server read %d copies of %s, not %d"):format(label, got, pattern, n))
      end
    elseif field == "max_requests" then
      assert.is_true(#reqs <= want, ("%s: %d requests, more than %d"):format(label, #reqs, want))
    elseif field ~= "contents" and field ~= "target" then
      assert.are.same(want, outcome[field], label .. ": " .. field .. " in " .. json.encode(outcome))
    end
  end
end

describe("hostile servers, the same outcome on both transports", function()
  local nginx

  setup(function()
    nginx = harness.start("build/luajit/?.so")
  end)

  teardown(function()
    if nginx then nginx:stop() end
  end)

  -- Runs `case` on one transport; returns the outcome, what the server read,
  -- and the download directory (if any).
  local function run(case, transport)
    local dir, param = nil, case.param
    if case.param_kind then dir, param = prepare_download(case) end
    local srv = raw_server.start(server_source(case))
    local ok, outcome = pcall(function()
      if transport == "curl" then
        return cases.run(case.name, voucherify, srv.url, "curl", param)
      end
      local target = ("/run?case=%s&base=%s"):format(harness.escape(case.name), harness.escape(srv.url))
      if param then target = target .. "&param=" .. harness.escape(param) end
      return nginx:get(target)
    end)
    local reqs = received(srv)
    srv:stop()
    assert(ok, outcome)
    assert.is_nil(outcome.raised, transport .. ": the case raised: " .. tostring(outcome.raised))
    outcome = json.decode(json.encode(outcome))
    if dir then
      local path = dir .. "/export.csv"
      if case.expect.contents ~= nil then
        assert.are.equal(case.expect.contents, read_file(path), transport .. ": the output file")
      end
      if case.expect.target ~= nil then
        assert.are.equal(case.expect.target, read_file(dir .. "/users-file"), transport .. ": the symlink's target")
      end
      os.execute("rm -rf " .. dir)
    end
    return outcome, reqs
  end

  for _, case in ipairs(cases.list) do
    it(case.name, function()
      local curl_outcome, curl_reqs = run(case, "curl")
      check(case, curl_outcome, curl_reqs, "libcurl")
      local ngx_outcome, ngx_reqs = run(case, "ngx")
      check(case, ngx_outcome, ngx_reqs, "cosocket")
      assert.are.same(curl_outcome, ngx_outcome, "the outcomes differ")
      assert.are.same(curl_reqs, ngx_reqs, "the server read different requests")
    end)
  end
end)
