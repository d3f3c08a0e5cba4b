-- The per-call shortcuts of issue 12 change no result: the fast checks of
-- voucherify.url give what the former gsub-only code gave for every byte and
-- number, and the endpoints' shared call descriptions (one per declaration,
-- the id passed beside it) keep calls in flight at once apart.
local url = require "voucherify.url"
local fake_server = require "fake_server"

-- the former code, as the reference
local function escape_byte(c) return ("%%%02X"):format(c:byte()) end
local function old_escape(s) return (s:gsub("[^%w%-%._~]", escape_byte)) end
local function old_segment(s)
  if not s:find("[^%w%-_~]") then return s end
  if s:find("^%.+$") then return (s:gsub(".", "%%2E")) end
  return old_escape(s)
end
local function old_format(v)
  if type(v) == "number" and v == math.floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then return ("%d"):format(v) end
  return tostring(v)
end
local function old_query(list)
  local out = {}
  for i, p in ipairs(list) do
    out[i] = (p[1]:gsub("[^%w%-%._~%[%]%$]", escape_byte)) .. "=" .. old_escape(old_format(p[2]))
  end
  return table.concat(out, "&")
end

describe("url's fast paths", function()
  it("escape every byte, alone and inside an id, as before", function()
    for b = 0, 255 do
      local c = string.char(b)
      for _, s in ipairs({ c, "ord_" .. c, c .. "x" .. c, c:rep(3) }) do
        assert.are.equal(old_segment(s), url.segment(s))
        assert.are.equal(old_escape(s), url.escape(s))
        assert.are.equal(old_query({ { s, s } }), url.query({ { s, s } }))
      end
    end
  end)

  it("escape random byte strings as before", function()
    math.randomseed(12)
    for _ = 1, 2000 do
      local t = {}
      for i = 1, math.random(0, 12) do t[i] = string.char(math.random(0, 255)) end
      local s = table.concat(t)
      assert.are.equal(old_segment(s), url.segment(s))
      assert.are.equal(old_query({ { s, s } }), url.query({ { s, s } }))
    end
  end)

  it("format numbers as before, cached small integers included (floats, -0, the cache's edges)", function()
    local values = { 0, -0.0, 1, 1.0, 100, 100.0, 1023, 1024, 1024.0, 1025, -1, -100.0, 0.5, 99.5, 2 ^ 53,
      -2 ^ 53, 2 ^ 53 + 2, 1e300, -1e300, 1 / 0, -1 / 0, 0 / 0, "100", "1e2", true, false }
    for _, v in ipairs(values) do
      for _ = 1, 2 do -- (the second time from the cache)
        assert.are.equal(old_format(v), url.format_value(v))
        assert.are.equal(old_query({ { "limit", v } }), url.query({ { "limit", v } }))
      end
    end
  end)
end)

describe("calls by id sharing their endpoint's description", function()
  local server, client
  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  it("keep each call's own id when many run at once (client:map), escaped ids included", function()
    local ids, want = {}, {}
    for i = 1, 24 do
      local source_id = i % 3 == 0 and ("web/" .. i .. " ü") or ("web-" .. i)
      local o = assert(client.orders:create { source_id = source_id, amount = i * 100 })
      ids[i], want[i] = (i % 2 == 0) and o.id or source_id, o.id
    end
    local seen = 0
    for i, order, err in client:map(ids, function(c, id) return c.orders:get(id) end, { concurrency = 8 }) do
      assert.is_nil(err)
      assert.are.equal(want[i], order.id)
      assert.are.equal(i * 100, order.amount)
      seen = seen + 1
    end
    assert.are.equal(24, seen)
    -- and a view's calls (their own client table) go to the same paths
    local view = client:with { timeout = 5 }
    assert.are.equal(want[3], assert(view.orders:get(ids[3])).id)
    local log = server:requests()
    assert.are.equal("/v1/orders/" .. url.segment(ids[3]), log[#log].path)
  end)

  it("raise at the caller's line for a bad id, as run's check did", function()
    local line
    local ok, msg = pcall(function()
      line = debug.getinfo(1, "l").currentline; client.orders:get("")
    end)
    assert.is_false(ok)
    assert.matches("get_overhead_spec.lua:" .. line .. ": voucherify: orders:get: 'id' must be a non%-empty string",
      msg)
  end)
end)
