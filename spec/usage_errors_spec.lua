-- Calling a resource method wrongly is a programmer mistake: it raises at the
-- caller's line, before any request.  Every public method of every resource
-- (client.orders, client.customers, client.async_actions, client.exports)
-- refuses a call made with `.` instead of `:` and an argument beyond those it
-- takes; its own argument checks still blame the caller's line.
local fake_server = require "fake_server"
local compat = require "voucherify.compat"

local unpack = compat.unpack

-- Every public method, how many arguments it takes (API.md), and a call
-- whose arguments its own checks refuse, with the start of that message.
local METHODS = {
  orders = {
    create = { 1, { 5 }, "'order' must be a table" },
    get = { 1, { nil }, "'id' must be a non-empty string" },
    update = { 2, { "x", 5 }, "'changes' must be a table" },
    list = { 1, { 5 }, "'params' must be a table or nil" },
    import = { 1, { 5 }, "'orders' must be a table" },
    export = { 1, { 5 }, "'params' must be a table or nil" },
    each = { 1, { 5 }, "'params' must be a table or nil" },
    pages = { 1, { 5 }, "'params' must be a table or nil" },
  },
  customers = {
    create = { 1, { 5 }, "'customer' must be a table" },
    get = { 1, { "" }, "'id' must be a non-empty string" },
    update = { 2, { "x", 5 }, "'changes' must be a table" },
    delete = { 1, { nil }, "'id' must be a non-empty string" },
    permanently_delete = { 1, { nil }, "'id' must be a non-empty string" },
    segments = { 1, { nil }, "'id' must be a non-empty string" },
    list = { 1, { 5 }, "'params' must be a table or nil" },
    each = { 1, { 5 }, "'params' must be a table or nil" },
    pages = { 1, { 5 }, "'params' must be a table or nil" },
    activity = { 2, { "x", 5 }, "'params' must be a table or nil" },
    each_activity = { 2, { nil }, "'id' must be a non-empty string" },
    activities = { 2, { "x", { bogus = 1 } }, "unknown parameter 'bogus'" },
    redeemables = { 2, { nil }, "'id' must be a non-empty string" },
    each_redeemable = { 2, { "x", 5 }, "'params' must be a table or nil" },
    import_csv = { 1, { 5 }, "'source' must be a table" },
    update_in_bulk = { 1, { 5 }, "'customers' must be a table" },
    update_metadata_in_bulk = { 1, { {} }, "'params.source_ids' must be a table" },
  },
  async_actions = {
    get = { 1, { nil }, "'id' must be a non-empty string" },
    wait = { 2, { "aa_1", { every = 1 } }, "unknown option 'every'" },
  },
  exports = {
    get = { 1, { nil }, "'id' must be a non-empty string" },
    wait = { 2, { "exp_1", 5 }, "'opts' must be a table or nil" },
    download = { 2, { "exp_1", { path = 5 } }, "'opts.path' must be a file path" },
  },
}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

describe("resource methods called wrongly", function()
  local server, client
  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  after_each(function()
    assert.are.same({}, server:requests()) -- nothing was sent
  end)

  -- raises the message `call` raises, checking that it starts with `call`'s line
  local function raised(call)
    local ok, err = pcall(call)
    assert.is_false(ok, "did not raise")
    local at = ("spec/usage_errors_spec.lua:%d: "):format(debug.getinfo(call, "S").linedefined)
    assert.are.equal(at, err:sub(1, #at), "blames another line: " .. err)
    return err:sub(#at + 1)
  end

  it("the table above lists every public method of every resource", function()
    for resource, methods in pairs(METHODS) do
      local names = {}
      for name, v in pairs(getmetatable(client[resource])) do
        if type(v) == "function" and name:sub(1, 2) ~= "__" then names[#names + 1] = name end
      end
      table.sort(names)
      assert.are.same(sorted_keys(methods), names, resource)
    end
  end)

  for _, resource in ipairs(sorted_keys(METHODS)) do
    describe("client." .. resource, function()
      for _, name in ipairs(sorted_keys(METHODS[resource])) do
        local arity, bad, bad_message = unpack(METHODS[resource][name])
        local where = resource .. ":" .. name

        it(name .. ": an extra argument", function()
          local args = {}
          for i = 1, arity do args[i] = "x" end
          args[arity + 1] = { timeout = 1, bogus = 1 }
          local r = client[resource]
          local function call() r[name](r, unpack(args, 1, arity + 1)) end
          assert.are.equal(("voucherify: %s takes %d argument%s (got %d)"):format(where, arity,
            arity == 1 and "" or "s", arity + 1), raised(call))
        end)

        it(name .. ": called with '.' instead of ':'", function()
          local expected = ("voucherify: %s: called with '.' instead of ':' (use client.%s:%s(...))")
            :format(where, resource, name)
          local r = client[resource]
          local function with_arg() r[name]("x") end
          local function without() r[name]() end
          local function other_self() r[name](client, "x") end
          assert.are.equal(expected, raised(with_arg))
          assert.are.equal(expected, raised(without))
          assert.are.equal(expected, raised(other_self))
        end)

        it(name .. ": its own checks still blame the caller's line", function()
          local r = client[resource]
          local function call() r[name](r, unpack(bad, 1, arity)) end
          local message = raised(call)
          local prefix = ("voucherify: %s: %s"):format(where, bad_message)
          assert.are.equal(prefix, message:sub(1, #prefix))
        end)
      end
    end)
  end
end)

describe("resource methods called rightly", function()
  local client
  fake_server.suite({ client = { max_retries = 0 } }, function(_, c) client = c end)

  it("trailing nils are no extra arguments (f(a, nil) is f(a) to any Lua function)", function()
    local order = assert(client.orders:create({ source_id = "nil-tail" }, nil))
    assert.are.equal(order.id, assert(client.orders:get("nil-tail", nil, nil)).id)
    local _, err = client.orders:get("missing", nil)
    assert.are.equal(404, err.status)
  end)

  it("an object inheriting from a resource (a view over it) calls its methods", function()
    local view = setmetatable({}, { __index = client.orders })
    assert(client.orders:create { source_id = "via-view" })
    assert.are.equal("via-view", assert(view:get("via-view")).source_id)
    local ok, err = pcall(function() view.get("via-view") end)
    assert.is_false(ok)
    assert.truthy(err:find("called with '.' instead of ':'", 1, true))
  end)
end)

describe("inside nginx (LuaJIT), with and without the C core", function()
  local in_nginx = require "support.in_nginx"
  local CHUNK = [[
local c = require("voucherify").new { app_id = "a", app_token = "b", base_url = "http://127.0.0.1:9" }
local function extra() c.orders:get("x", { timeout = 1, bogus = 1 }) end
local function dot() c.orders.get("x") end
local function own() c.orders:get(nil) end
local out = {}
for i, f in ipairs({ extra, dot, own }) do out[i] = select(2, pcall(f)) end
return out
]]
  for _, core in ipairs({ true, false }) do
    (in_nginx.available() and it or pending)("the same errors blame the same lines (core: " .. tostring(core) .. ")",
      function()
        local got = in_nginx.run(CHUNK, { core = core })
        assert.truthy(got[1]:match("chunk%.lua:2: voucherify: orders:get takes 1 argument %(got 2%)$"), got[1])
        assert.truthy(got[2]:match("chunk%.lua:3: voucherify: orders:get: called with '%.' instead of ':'"), got[2])
        assert.truthy(got[3]:match("chunk%.lua:4: voucherify: orders:get: 'id' must be a non%-empty string"), got[3])
      end)
  end
end)
