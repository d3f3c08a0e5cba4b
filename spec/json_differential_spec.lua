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

describe("json.decode against cjson.decode", function()
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
