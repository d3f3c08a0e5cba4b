-- Differential tests: our decoder against lua-cjson (Debian's 2.1.0) on
-- realistic Voucherify bodies and on edge cases.  For every document both
-- accept, the values must be equal except where our mapping deliberately
-- differs (documented in the README, "JSON"):
--   * integers decode as Lua integers (cjson: floats) - compared by value;
--   * integers beyond 2^53 stay exact (cjson rounds them to a double);
--   * arrays carry voucherify.array_mt (cjson: no metatable).
-- Documents only one of them accepts must be in ACCEPTANCE_DIFFERS.
local cjson = require "cjson"
local voucherify = require "voucherify"
local fixtures = require "bench.fixtures"
local json = voucherify.json

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function corpus()
  local docs = {}
  local p = io.popen("ls spec/corpus/*.json")
  for path in p:lines() do docs[#docs + 1] = { path, read(path) } end
  p:close()
  docs[#docs + 1] = { "fixture: 100-order list page", assert(json.encode(fixtures.list(100, 7))) }
  docs[#docs + 1] = { "fixture: one order", assert(json.encode(fixtures.list(1, 9).orders[1])) }
  return docs
end

-- Compares our value `a` with cjson's `b`; returns nil or the path of the first difference.
local function diff(a, b, path)
  path = path or "$"
  if type(a) == "number" and type(b) == "number" then
    if math.type(a) == "integer" and (a > 2 ^ 53 or a < -2 ^ 53) then
      -- deliberate: exact here, rounded by cjson
      if math.abs(a - b) <= math.abs(b) * 2 ^ -52 then return nil end
      return path
    end
    if a == b then return nil end
    return path
  end
  if type(a) ~= type(b) then return path end
  if type(a) ~= "table" then
    if a == b then return nil end
    return path
  end
  for k, v in pairs(a) do
    local d = diff(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) end
  end
  return nil
end

-- Inputs cjson accepts and we reject on purpose (RFC 8259: JSON text is UTF-8;
-- a number must fit a double; a lone surrogate is not a character).
local ACCEPTANCE_DIFFERS = {
  ['"\255"'] = "invalid UTF-8",
  ['"\192\175"'] = "overlong UTF-8",
  ['"\237\160\128"'] = "encoded surrogate",
  ["1e400"] = "out of double range",
  ["-1e400"] = "out of double range",
  ["01"] = "leading zero",
}

local EDGE = {
  "0", "-0", "0.1", "1e2", "-1.5e-7", "9007199254740993", "9223372036854775807", "-9223372036854775808",
  "123456789012345678901234567890", '""', '"\\u00e9\\ud83d\\ude00"', '"a\\u0000b"', "[]", "{}",
  '[[],{},[{}]]', '{"a":{"b":{"c":[1,2,{"d":null}]}}}', '{"a":1,"a":2}', "true", "false", "null",
  '"\255"', '"\192\175"', '"\237\160\128"', '"\\ud83d"', '"\\ude00"', "1e400", "-1e400", '"\127"',
  "[1,]", "01", "[1] x", "", " ", '{"a" 1}', '"\\x"',
}

-- Values that the decoder's string caches (by position, and by a hash of
-- the bytes) must tell apart: shared 16-byte prefixes, lengths around 16 and
-- the 40-byte limit, empty, non-ASCII, escaped forms of cached strings;
-- drawn in a pseudo-random order so each position sees several of them.
local function near_collisions()
  local words = { "", "a", "ab", "abc", "status_000000000", "status_0000000001", "status_0000000002",
    "status_00000000012", "FULFILLED", "FULFILLED ", "fulfilled", "piñata", "piñatb", "東京", "東京 ",
    ("x"):rep(15), ("x"):rep(16), ("x"):rep(17), ("y"):rep(39) .. "1", ("y"):rep(39) .. "2", ("y"):rep(41) }
  local escaped = { '"FULF\\u0049LLED"', '"a\\"b"', '"status_000000000\\u0031"', '"\\u6771\\u4eac"' }
  local state, parts = 11, {}
  local function rnd(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  local function value()
    if rnd(6) == 1 then return escaped[rnd(#escaped)] end
    return assert(json.encode(words[rnd(#words)]))
  end
  for i = 1, 400 do
    -- the same keys in varying order and number, numbers of every length around the fast path's 18 digits
    parts[i] = ('{"v":%s,"w":%s,"n":%s,%s"tags":[%s,%s]}'):format(value(), value(),
      ({ "7", "123456789012345678", "1234567890123456789", "12345678901234567890", "-42", "0", "15e2",
         "1.5", "100000000000000000.5" })[rnd(9)],
      rnd(2) == 1 and ('"x":%s,'):format(value()) or "", value(), value())
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

describe("json.decode against cjson.decode", function()
  it("agrees on repeated values that differ by a byte, a length or an escape, decoded twice", function()
    local text = near_collisions()
    local theirs = cjson.decode(text)
    for _ = 1, 2 do -- the second decode runs on caches the first filled
      local ours, err = json.decode(text)
      assert.is_nil(err)
      local where = diff(ours, theirs)
      assert.is_nil(where, "values differ at " .. tostring(where))
    end
  end)

  for _, doc in ipairs(corpus()) do
    it("agrees on " .. doc[1], function()
      local ours, err = json.decode(doc[2])
      assert.is_nil(err)
      local theirs = cjson.decode(doc[2])
      local where = diff(ours, theirs)
      assert.is_nil(where, "values differ at " .. tostring(where))
    end)
  end

  it("keeps integers exact where cjson rounds", function()
    local ours = json.decode("[9007199254740993]")[1]
    local theirs = cjson.decode("[9007199254740993]")[1]
    assert.are.equal("integer", math.type(ours))
    assert.are.equal(9007199254740993, ours)
    assert.are_not.equal(9007199254740993, math.tointeger(theirs))
  end)

  it("marks arrays where cjson does not, so empty arrays survive a round trip", function()
    local ours = json.decode('{"items":[]}')
    local theirs = cjson.decode('{"items":[]}')
    assert.are.equal("[]", json.encode(ours.items))
    assert.are.equal("{}", cjson.encode(theirs.items))
  end)

  for _, input in ipairs(EDGE) do
    it(("agrees on accepting %q, or differs on purpose"):format(input), function()
      local ours, err = json.decode(input)
      local ok, theirs = pcall(cjson.decode, input)
      local ours_ok = err == nil
      if ok and theirs ~= theirs then ok = false end -- cjson may yield NaN
      if ours_ok and ok then
        assert.is_nil(diff(ours, theirs))
      elseif ours_ok ~= ok then
        assert.is_string(ACCEPTANCE_DIFFERS[input], ("acceptance differs on %q: ours %s, cjson %s")
          :format(input, tostring(ours_ok), tostring(ok)))
        assert.is_false(ours_ok)
      end
    end)
  end
end)
