-- The decoder's decision for every edge case, as RFC 8259 and a careful
-- parser would make it.  REJECT rows give the reason and the 0-based offset.
local voucherify = require "voucherify"
local json = voucherify.json
local null, array_mt = voucherify.null, voucherify.array_mt

local REJECT = {}

local function deep(n, open, close)
  return string.rep(open, n) .. string.rep(close, n)
end

local cases = {
  -- structure
  { "empty input", "", REJECT, "unexpected end of input at offset 0" },
  { "whitespace only", " \t\r\n ", REJECT, "unexpected end of input at offset 5" },
  { "surrounding whitespace", " \t\r\n[1]\n ", { 1 } },
  { "top-level scalar", "42", 42 },
  { "top-level string", '"x"', "x" },
  { "top-level null", "null", null },
  { "top-level false (regression: fuzz round trip)", "false", false },
  { "trailing comma in array", "[1,2,]", REJECT, "unexpected character at offset 5" },
  { "trailing comma in object", '{"a":1,}', REJECT, "expected a string key in object at offset 7" },
  { "missing comma", '[1 2]', REJECT, "expected ',' or ']' in array at offset 3" },
  { "trailing garbage", "[1] x", REJECT, "unexpected data after the JSON value at offset 4" },
  { "two values", "1 2", REJECT, "unexpected data after the JSON value at offset 2" },
  { "single quotes", "['a']", REJECT, "unexpected character at offset 1" },
  { "unquoted key", "{a:1}", REJECT, "expected a string key in object at offset 1" },
  { "comment", "[1] // x", REJECT, "unexpected data after the JSON value at offset 4" },
  { "duplicate keys: the last wins", '{"a":1,"a":2}', { a = 2 } },
  { "nesting 1000 deep", deep(1000, "[", "]"), "table" },
  { "nesting 1001 deep", deep(1001, "[", "]"), REJECT, "nesting deeper than 1000 levels at offset 1000" },
  { "objects 1001 deep", string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001), REJECT,
    "nesting deeper than 1000 levels at offset 5000" },
  { "unterminated array", "[1,", REJECT, "unexpected end of input at offset 3" },
  { "unterminated object", '{"a":1', REJECT, "unterminated object at offset 6" },
  { "literal typo", "nul", REJECT, "invalid literal at offset 0" },
  { "capitalised literal", "True", REJECT, "unexpected character at offset 0" },
  -- strings and escapes
  { "every escape", [["\" \\ \/ \b \f \n \r \t"]], '" \\ / \b \f \n \r \t' },
  { "escape first (regression: fuzz, empty run before it)", [["\n"]], "\n" },
  { "\\u escapes, upper and lower case hex", [["\u00E9\u00e9\u0041"]], "ééA" },
  { "\\u0000 gives a NUL byte", [["a\u0000b"]], "a\0b" },
  { "surrogate pair", [["\ud83d\ude00"]], "😀" },
  { "surrogate pair, upper case", [["\uD834\uDD1E"]], "𝄞" },
  { "lone high surrogate", [["\ud83d"]], REJECT, "lone high surrogate in \\u escape at offset 1" },
  { "high surrogate + non-surrogate", [["\ud83d\u0041"]], REJECT, "lone high surrogate in \\u escape at offset 1" },
  { "lone low surrogate", [["\ude00"]], REJECT, "lone low surrogate in \\u escape at offset 1" },
  { "short \\u escape", [["\u12"]], REJECT, "invalid \\u escape at offset 1" },
  { "bad hex in \\u", [["\u12G4"]], REJECT, "invalid \\u escape at offset 1" },
  { "unknown escape", [["\a"]], REJECT, "invalid escape at offset 1" },
  { "raw NUL byte in a string", '"a\0b"', REJECT, "control character in string at offset 2" },
  { "raw newline in a string", '"a\nb"', REJECT, "control character in string at offset 2" },
  { "raw tab in a string", '"\t"', REJECT, "control character in string at offset 1" },
  { "DEL is allowed raw", '"\127"', "\127" },
  { "raw UTF-8", '"Zoë ☕ 😀"', "Zoë ☕ 😀" },
  { "overlong 2-byte '/'", '"\192\175"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "overlong 3-byte", '"\224\128\175"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "overlong 4-byte", '"\240\128\128\175"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "encoded surrogate", '"\237\160\128"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "past U+10FFFF", '"\244\144\128\128"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "lone continuation byte", '"a\128"', REJECT, "invalid UTF-8 in string at offset 2" },
  { "truncated sequence", '"\226\130"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "0xFF byte", '"\255"', REJECT, "invalid UTF-8 in string at offset 1" },
  { "invalid UTF-8 after an escape", '"\\n\255"', REJECT, "invalid UTF-8 in string at offset 3" },
  { "unterminated string", '"abc', REJECT, "unterminated string at offset 0" },
  -- numbers
  { "2^63 - 1 is an integer", "9223372036854775807", math.maxinteger },
  { "-2^63 is an integer", "-9223372036854775808", math.mininteger },
  { "2^63 becomes a float", "9223372036854775808", 2.0 ^ 63 },
  { "-2^63 - 1 becomes a float", "-9223372036854775809", -(2.0 ^ 63) },
  { "2^53 + 1 stays exact", "9007199254740993", 9007199254740993 },
  { "huge integer becomes a float", "123456789012345678901234567890", 1.2345678901234568e29 },
  { "1e400 is out of range", "1e400", REJECT, "number out of range at offset 0" },
  { "-1e400 is out of range", "-1e400", REJECT, "number out of range at offset 0" },
  { "1e-400 underflows to 0.0", "1e-400", 0.0 },
  { "-0 keeps its sign as a float", "-0", -0.0 },
  { "-0.0", "-0.0", -0.0 },
  { "0.1", "0.1", 0.1 },
  { "exponent forms", "[1e2,1E2,1e+2,1e-2]", { 100.0, 100.0, 100.0, 0.01 } },
  { "leading zero", "01", REJECT, "leading zero in number at offset 0" },
  { "negative leading zero", "-01", REJECT, "leading zero in number at offset 0" },
  { "leading plus", "+1", REJECT, "unexpected character at offset 0" },
  { "leading dot", ".5", REJECT, "unexpected character at offset 0" },
  { "trailing dot", "1.", REJECT, "digit expected after '.' at offset 0" },
  { "empty exponent", "1e", REJECT, "digit expected in exponent at offset 0" },
  { "hex", "0x10", REJECT, "unexpected data after the JSON value at offset 1" },
  { "NaN", "NaN", REJECT, "unexpected character at offset 0" },
  { "Infinity", "Infinity", REJECT, "unexpected character at offset 0" },
}

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a == 0 and b == 0 then return 1 / a == 1 / b end -- -0.0 vs 0.0
    return a == b
  end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

describe("json.decode edge cases", function()
  for _, case in ipairs(cases) do
    local name, input, want, reason = case[1], case[2], case[3], case[4]
    it(name, function()
      local value, err = json.decode(input)
      if want == REJECT then
        assert.is_nil(value)
        assert.is_string(err)
        assert.truthy(err:find(reason, 1, true), ("got %q"):format(err))
      elseif want == "table" then
        assert.is_nil(err)
        assert.are.equal(array_mt, getmetatable(value))
      else
        assert.is_nil(err)
        assert.is_true(same(want, value), ("got %s"):format(tostring(value)))
      end
    end)
  end

  it("a string is accepted exactly when re-encoding it works", function()
    for _, case in ipairs(cases) do
      local value = json.decode(case[2])
      if type(value) == "string" then assert.is_string(json.encode(value)) end
    end
  end)
end)
