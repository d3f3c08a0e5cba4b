local voucherify = require "voucherify"
local json = voucherify.json

local null, array_mt = voucherify.null, voucherify.array_mt

describe("voucherify.json", function()
  describe("decode", function()
    it("keeps integers as integers and other numbers as floats", function()
      local t = assert(json.decode('[1, -7, 0, 2.5, 1e2, 1.0, 12345678901]'))
      assert.are.equal("integer", math.type(t[1]))
      assert.are.equal(1, t[1])
      assert.are.equal(-7, t[2])
      assert.are.equal("integer", math.type(t[3]))
      assert.are.equal("float", math.type(t[4]))
      assert.are.equal(2.5, t[4])
      assert.are.equal("float", math.type(t[5]))
      assert.are.equal(100.0, t[5])
      assert.are.equal("float", math.type(t[6]))
      assert.are.equal(12345678901, t[7])
      assert.are.equal("integer", math.type(t[7]))
    end)

    it("decodes large integers exactly", function()
      assert.are.equal(9007199254740993, json.decode("9007199254740993")) -- 2^53 + 1
      assert.are.equal(math.mininteger, json.decode("-9223372036854775808")) -- -2^63
      assert.are.equal(math.maxinteger, json.decode("9223372036854775807"))
      local beyond = json.decode("9223372036854775808") -- 2^63 does not fit
      assert.are.equal("float", math.type(beyond))
      assert.are.equal(2.0 ^ 63, beyond)
    end)

    it("decodes null as voucherify.null, which equals cjson.null", function()
      local t = assert(json.decode('{"a": null, "b": [null]}'))
      assert.are.equal(null, t.a)
      assert.are.equal(null, t.b[1])
      assert.are.equal(require("cjson").null, null)
    end)

    it("marks arrays with array_mt, and not objects", function()
      local t = assert(json.decode('{"list": [], "obj": {}, "nested": [[1], {"x": []}]}'))
      assert.are.equal(array_mt, getmetatable(t.list))
      assert.is_nil(getmetatable(t.obj))
      assert.is_nil(getmetatable(t))
      assert.are.equal(array_mt, getmetatable(t.nested))
      assert.are.equal(array_mt, getmetatable(t.nested[1]))
      assert.are.equal(array_mt, getmetatable(t.nested[2].x))
    end)

    it("decodes every escape, \\u escapes and surrogate pairs into UTF-8", function()
      local s = assert(json.decode([["\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \u20ac \ud83d\ude00 \u0000"]]))
      assert.are.equal('" \\ / \b \f \n \r \t A \u{e9} \u{20ac} \u{1F600} \0', s)
    end)

    it("passes raw UTF-8 through", function()
      assert.are.equal("Zoë ☕ 😀", json.decode('"Zoë ☕ 😀"'))
    end)

    local bad = {
      { "", "unexpected end of input at offset 0" },
      { "   ", "unexpected end of input at offset 3" },
      { "[1,]", "unexpected character at offset 3" },
      { '{"a":1,}', "expected a string key in object at offset 7" },
      { "[1 2]", "expected ',' or ']' in array at offset 3" },
      { '{"a" 1}', "expected ':' after object key at offset 5" },
      { "01", "leading zero in number at offset 0" },
      { "1.", "digit expected after '.' at offset 0" },
      { "-", "invalid number at offset 0" },
      { "tru", "invalid literal at offset 0" },
      { '{"a":1} x', "unexpected data after the JSON value at offset 8" },
      { '"abc', "unterminated string at offset 0" },
      { '"\\x"', "invalid escape at offset 1" },
      { '"\\u12"', "invalid \\u escape at offset 1" },
      { '"\\ud800"', "lone high surrogate in \\u escape at offset 1" },
      { '"\\udc00"', "lone low surrogate in \\u escape at offset 1" },
      { '"a\tb"', "control character in string at offset 2" },
      { '"\255"', "invalid UTF-8 in string at offset 1" },
      { '"\192\175"', "invalid UTF-8 in string at offset 1" }, -- overlong '/'
      { "1e400", "number out of range at offset 0" },
    }
    for _, case in ipairs(bad) do
      it(("rejects %q with the byte offset"):format(case[1]), function()
        local v, err = json.decode(case[1])
        assert.is_nil(v)
        assert.is_string(err)
        assert.truthy(err:find(case[2], 1, true), err)
      end)
    end

    it("rejects nesting deeper than 1000 levels without overflowing the C stack", function()
      local ok_doc = string.rep("[", 1000) .. string.rep("]", 1000)
      assert.is_table(json.decode(ok_doc))
      local v, err = json.decode(string.rep("[", 100000))
      assert.is_nil(v)
      assert.truthy(err:find("nesting deeper than 1000 levels at offset 1000", 1, true), err)
    end)

    it("raises for a non-string argument (a programmer mistake)", function()
      assert.has_error(function() json.decode({}) end)
    end)
  end)

  describe("encode", function()
    it("writes integers exactly and floats with round-trip precision", function()
      assert.are.equal("[1,-7,9007199254740993,-9223372036854775808]",
        json.encode({ 1, -7, 9007199254740993, math.mininteger }))
      assert.are.equal("0.1", json.encode(0.1))
      assert.are.equal(1 / 3, json.decode(json.encode(1 / 3)))
      assert.are.equal("2.0", json.encode(2.0))
      assert.are.equal("float", math.type(json.decode(json.encode(2.0))))
      assert.are.equal("1e+300", json.encode(1e300))
    end)

    -- Prices and weights take a path without printf or strtod (issue 12): it
    -- must write what the %.15g..%.17g search writes, digit for digit.
    local floats = {
      { 13.654, "13.654" }, { -1234.5678, "-1234.5678" }, { 0.07, "0.07" }, { 0.0001, "0.0001" },
      { 0.00012, "0.00012" }, { 5e-05, "5e-05" }, { -0.5, "-0.5" }, { 2.0, "2.0" }, { -0.0, "-0.0" },
      { 999999999999999.0, "999999999999999.0" }, { 1e15, "1e+15" },
      { 123456789012345.6, "123456789012345.6" }, { 101.42857142857143, "101.42857142857143" },
      { 1 / 3, "0.3333333333333333" }, { 2 ^ -30, "9.313225746154785e-10" },
    }
    for _, case in ipairs(floats) do
      it(("writes %s"):format(case[2]), function()
        assert.are.equal(case[2], json.encode(case[1]))
      end)
    end

    it("writes 100000 random floats in their shortest form that reads back the same", function()
      local state = 7
      local function rnd(n)
        state = (state * 1103515245 + 12345) % 2147483648
        return state % n
      end
      for _ = 1, 100000 do
        local v = rnd(100000000) / 10 ^ rnd(12) * (rnd(2) == 0 and 1 or -1) + (rnd(4) == 0 and rnd(1000) / 7 or 0)
        local text = json.encode(v)
        assert(json.decode(text) == v, text)
        -- shortest: one significant digit fewer no longer reads back (%.15g is the floor)
        local digits = #text:gsub("^%-", ""):gsub("e.*", ""):gsub("%.", ""):gsub("^0+", "")
        if digits > 15 then
          assert(tonumber(("%." .. (digits - 1) .. "g"):format(v)) ~= v, text)
        end
      end
    end)

    it("writes subnormal floats in their shortest form too", function()
      assert.are.equal("5e-324", json.encode(5e-324))
      assert.are.equal("-5e-324", json.encode(-5e-324))
      assert.are.equal("1e-320", json.encode(1e-320))
      assert.are.equal("2.225073858507201e-308", json.encode(2.225073858507201e-308))
      local state = 11
      for _ = 1, 2000 do
        state = (state * 1103515245 + 12345) % 2147483648
        local v = (state % 100000 + 1) * 5e-324 * (state % 3 + 1)
        local text = json.encode(v)
        assert(json.decode(text) == v, text)
        local digits = #text:gsub("^%-", ""):gsub("e.*", ""):gsub("%.", ""):gsub("^0+", "")
        if digits > 1 then
          assert(tonumber(("%." .. (digits - 1) .. "g"):format(v)) ~= v, text)
        end
      end
    end)

    it("round-trips null, empty arrays and empty objects", function()
      local text = '{"a":null,"b":[],"c":{},"d":[[],{}]}'
      local back = assert(json.encode(assert(json.decode(text))))
      local again = assert(json.decode(back))
      assert.are.equal(null, again.a)
      assert.are.equal(array_mt, getmetatable(again.b))
      assert.are.equal(0, #again.b)
      assert.is_nil(getmetatable(again.c))
      assert.are.equal("[]", json.encode(again.b))
      assert.are.equal("{}", json.encode(again.c))
      assert.are.equal("[[],{}]", json.encode(again.d))
    end)

    it("encodes an empty plain table as {} and voucherify.array() as []", function()
      assert.are.equal("{}", json.encode({}))
      assert.are.equal("[]", json.encode(voucherify.array()))
      assert.are.equal("[1,2]", json.encode(voucherify.array({ 1, 2 })))
    end)

    it("treats tables with keys 1..n as arrays and others as objects", function()
      assert.are.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
      local holes = assert(json.decode(json.encode({ [1] = "a", [3] = "c" })))
      assert.are.same({ ["1"] = "a", ["3"] = "c" }, holes)
      assert.are.same({ ["1"] = 1, x = 2 }, json.decode(json.encode({ 1, x = 2 })))
    end)

    it("keeps a long plain prefix before the first escape or non-ASCII byte", function()
      assert.are.equal([["0123456789abcdef\"x"]], json.encode('0123456789abcdef"x'))
      local text = 'Crème brûlée 東京, a long line of plain text, then a "quote" and a tab\t.'
      assert.are.equal(text, json.decode(json.encode(text)))
      assert.are.equal('"' .. ("plain"):rep(20) .. '"', json.encode(("plain"):rep(20)))
    end)

    it("escapes quotes, backslashes and control characters", function()
      assert.are.equal([["a\"b\\c\n\t\u0001\u001f/é"]], json.encode('a"b\\c\n\t\1\31/é'))
      assert.are.equal('"\\u0000"', json.encode("\0"))
    end)

    it("rejects strings that are not valid UTF-8, naming the field path", function()
      local v, err = json.encode({ items = { { name = "ok" }, { product = { name = "bad\255" } } } })
      assert.is_nil(v)
      assert.are.equal("items[2].product.name: string is not valid UTF-8", err)
      assert.is_nil((json.encode("\237\160\128"))) -- an encoded UTF-16 surrogate
      assert.is_nil((json.encode("\192\175"))) -- overlong
    end)

    it("rejects values JSON cannot represent", function()
      local v, err = json.encode({ f = print })
      assert.is_nil(v)
      assert.are.equal("f: cannot encode a function value", err)
      assert.is_nil((json.encode(0 / 0)))
      assert.is_nil((json.encode(math.huge)))
      local cyclic = {}
      cyclic.self = cyclic
      v, err = json.encode(cyclic)
      assert.is_nil(v)
      assert.truthy(err:find("nesting deeper than 1000 levels", 1, true))
    end)

    it("round-trips a realistic order", function()
      local order = {
        id = "ord_1", amount = 2700, status = "PAID", source_id = null,
        items = { { quantity = 1, price = 700, product = { name = "Vase – Boho" } } },
        metadata = { tags = { "a", "b" }, ratio = 0.25, flag = true, none = null },
      }
      assert.are.same(order, assert(json.decode(assert(json.encode(order)))))
    end)
  end)
end)
