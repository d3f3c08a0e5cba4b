-- Partial decoding (issue 12): core.json_select(tree) compiles a tree of
-- member names once; core.json_decode(text, selector) then builds only what
-- the tree keeps and skips the rest while still checking it.  Every case
-- compares the selected decode with the full decode of the same text, the
-- tree applied to it.
local core = require "voucherify.core"
local fixtures = require "bench.fixtures"

local decode, compile, encode = core.json_decode, core.json_select, core.json_encode
local null, array_mt = core.null, core.array_mt

-- The README's rules, applied to a fully decoded value: a sub-tree selects
-- from an object and is applied to each element of an array; anything else
-- is kept as it is; "*" keeps, whole, the members a node does not name.
local function project(v, node)
  if type(v) ~= "table" then return v end
  if getmetatable(v) == array_mt then
    local out = setmetatable({}, array_mt)
    for i = 1, #v do out[i] = project(v[i], node) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do
    local s = k ~= "*" and node[k] or nil
    if s == true then
      out[k] = x
    elseif type(s) == "table" then
      out[k] = project(x, s)
    elseif node["*"] then
      out[k] = x
    end
  end
  return out
end

-- nil, or the path of the first difference (metatables and number subtypes included)
local function diff(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then return path end
  if type(a) == "number" then
    if math.type(a) == math.type(b) and a == b then return nil end
    return path
  end
  if type(a) ~= "table" then
    if a == b then return nil end
    return path
  end
  if getmetatable(a) ~= getmetatable(b) then return path .. " (metatable)" end
  for k, x in pairs(a) do
    local d = diff(x, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) .. " (missing)" end
  end
  return nil
end

local function assert_selects(text, tree, sel)
  local full, ferr = decode(text)
  assert.is_nil(ferr)
  local part, err = decode(text, sel or compile(tree))
  assert.is_nil(err)
  local where = diff(part, project(full, tree))
  assert.is_nil(where, "selected value differs from the full decode at " .. tostring(where))
  return part
end

-- a small LCG, so failures replay
local function rng(seed)
  local state = seed
  return function(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state // 65536 % n + 1
  end
end

local KEYS = { "id", "amount", "status", "customer", "items", "a", "b", "*", "caf\195\169", "" }

local function random_value(r, depth)
  local kind = depth > 5 and r(4) or r(7)
  if kind == 1 then return r(1000) - 500 end
  if kind == 2 then return ({ "x", "EUR", "caf\195\169", "a\"b\\c\n", "" })[r(5)] end
  if kind == 3 then return ({ true, false, null, 2.5, -0.125 })[r(5)] end
  if kind == 4 then return r(10) / 4 end
  if kind == 5 then
    local a = setmetatable({}, array_mt)
    for i = 1, r(4) - 1 do a[i] = random_value(r, depth + 1) end
    return a
  end
  local o = {}
  for _ = 1, r(6) - 1 do o[KEYS[r(#KEYS)]] = random_value(r, depth + 1) end
  return o
end

local function random_tree(r, depth)
  local tree = {}
  for _ = 1, r(4) - 1 do
    local k = KEYS[r(#KEYS)]
    if k == "*" then
      tree[k] = true
    elseif depth < 4 and r(2) == 1 then
      tree[k] = random_tree(r, depth + 1)
    else
      tree[k] = true
    end
  end
  return tree
end

local ORDERS = { ["*"] = true, orders = { id = true, amount = true, status = true, customer = { id = true } } }

describe("json_select", function()
  describe("on the bench fixtures' order pages", function()
    for _, seed in ipairs { 1, 7, 42 } do
      it(("keeps exactly the selected fields, equal to the full decode's (seed %d)"):format(seed), function()
        local text = assert(encode(fixtures.list(100, seed)))
        local page = assert_selects(text, ORDERS)
        assert.are.equal(100, #page.orders)
        assert.are.equal(array_mt, getmetatable(page.orders))
        for _, order in ipairs(page.orders) do
          local n = 0
          for k in pairs(order) do
            n = n + 1
            assert.truthy(ORDERS.orders[k], k)
          end
          assert.is_string(order.id)
          assert.is_table(order.customer)
          assert.is_string(order.customer.id)
          assert.is_nil(next(order.customer, "id"))
          assert.are.equal("id", next(order.customer))
          assert.is_true(n <= 4)
        end
        assert.are.equal(20000, page.total) -- "*": the unnamed members of the page, whole
      end)
    end

    it("decodes one order with three fields", function()
      local text = assert(encode(fixtures.list(1, 9).orders[1]))
      local order = assert_selects(text, { id = true, amount = true, ["customer"] = { id = true } })
      assert.is_string(order.id)
      assert.is_nil(order.items)
    end)
  end)

  describe("on random documents", function()
    it("equals the full decode with the tree applied, for 2000 documents and trees", function()
      local r = rng(12)
      for i = 1, 2000 do
        local text = assert(encode(random_value(r, 1)))
        local tree = random_tree(r, 1)
        local full, ferr = decode(text)
        local part, perr = decode(text, compile(tree))
        assert(ferr == nil and perr == nil, text)
        local where = diff(part, project(full, tree))
        assert(where == nil, ("document %d %s, tree %s: differs at %s"):format(i, text, encode(tree), tostring(where)))
      end
    end)
  end)

  describe("trees", function()
    local doc = '{"id":"o1","amount":10,"status":"PAID","customer":{"id":"c1","name":"Ann","meta":{"x":1,"y":[1,2]}},'
      .. '"items":[{"sku":"s1","qty":1,"extra":{"k":"v"}},{"sku":"s2","qty":2},7,null,"s",[{"sku":"s3","qty":3}]],'
      .. '"empty":[],"nothing":null}'

    local cases = {
      { "one top-level field", { id = true }, { id = "o1" } },
      { "a nested path", { customer = { meta = { x = true } } }, { customer = { meta = { x = 1 } } } },
      { "a nested member kept whole", { customer = { meta = true } },
        { customer = { meta = { x = 1, y = setmetatable({ 1, 2 }, array_mt) } } } },
      { "each object of an array; scalars, null and nested arrays' objects as the rules say",
        { items = { sku = true } },
        { items = setmetatable({ { sku = "s1" }, { sku = "s2" }, 7, null, "s",
          setmetatable({ { sku = "s3" } }, array_mt) }, array_mt) } },
      { "absent fields stay absent", { id = true, missing = true, customer = { missing = { deep = true } } },
        { id = "o1", customer = {} } },
      { "null under a sub-tree is kept", { nothing = { a = true } }, { nothing = null } },
      { "a scalar under a sub-tree is kept", { amount = { a = true } }, { amount = 10 } },
      { "an empty array keeps its metatable", { empty = { a = true } }, { empty = setmetatable({}, array_mt) } },
      { "an empty tree keeps an empty object", {}, {} },
      { "\"*\" keeps unnamed members whole and filters named ones",
        { ["*"] = true, customer = { id = true }, items = { qty = true } },
        { id = "o1", amount = 10, status = "PAID", customer = { id = "c1" },
          items = setmetatable({ { qty = 1 }, { qty = 2 }, 7, null, "s", setmetatable({ { qty = 3 } }, array_mt) },
            array_mt),
          empty = setmetatable({}, array_mt), nothing = null } },
      { "\"*\" in a sub-tree", { customer = { ["*"] = true, meta = { y = true } } },
        { customer = { id = "c1", name = "Ann", meta = { y = setmetatable({ 1, 2 }, array_mt) } } } },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local part = assert(decode(doc, compile(case[2])))
        assert.is_nil(diff(part, case[3]), encode(part))
        assert_selects(doc, case[2])
      end)
    end

    it("applies to a top-level array's objects", function()
      local part = assert_selects('[{"a":1,"b":2},{"b":3},4]', { a = true })
      assert.is_nil(diff(part, setmetatable({ { a = 1 }, {}, 4 }, array_mt)))
    end)

    it("keeps a top-level scalar", function()
      assert.are.equal("x", decode('"x"', compile { a = true }))
      assert.are.equal(null, decode("null", compile { a = true }))
    end)

    it("matches keys written with escapes by their decoded name", function()
      local text = '{"\\u0069d":1,"i\\u0064x":2,"caf\\u00e9":3}'
      local part = assert(decode(text, compile { id = true, ["caf\195\169"] = true }))
      assert.is_nil(diff(part, { id = 1, ["caf\195\169"] = 3 }))
    end)

    it("keeps the last of duplicate keys, as the full decode does", function()
      assert.are.equal(2, decode('{"a":1,"b":{},"a":2}', compile { a = true }).a)
    end)
  end)

  describe("skipped members are still checked", function()
    local prefix, suffix = '{"keep":1,"skip":', ',"after":2}'
    local bad = {
      { "invalid UTF-8", '"\255"' }, { "an overlong form", '"\192\175"' }, { "a control character", '"a\tb"' },
      { "an invalid escape", '"\\x"' }, { "a short \\u escape", '"\\u12"' }, { "a lone surrogate", '"\\ud800"' },
      { "an unterminated string", '"abc' }, { "a leading zero", "01" }, { "a bare minus", "-" },
      { "a number out of range", "1e400" }, { "a bad literal", "tru" }, { "a trailing comma", "[1,]" },
      { "a missing colon", '{"a" 1}' }, { "a non-string key", "{1:2}" }, { "a missing comma", "[1 2]" },
      { "an unterminated array", "[1,2" }, { "an unterminated object", '{"a":1' },
      { "a mismatched bracket", "[1}" }, { "a stray character", "@" },
      { "invalid UTF-8 in a key", '{"\255":1}' }, { "invalid UTF-8 in an escaped string", '"\\n\255"' },
      { "nesting deeper than 1000 levels", ("["):rep(1001) .. ("]"):rep(1001) },
    }
    for _, case in ipairs(bad) do
      it(("fails with the full decode's message on %s"):format(case[1]), function()
        local text = prefix .. case[2] .. suffix
        local full, want = decode(text)
        assert.is_nil(full)
        for _, tree in ipairs { { keep = true }, { keep = true, skip = { a = true } }, {} } do
          local part, err = decode(text, compile(tree))
          assert.is_nil(part)
          assert.are.equal(want, err)
        end
      end)
    end

    it("reports trailing data after a selected document", function()
      local _, want = decode('{"a":1} x')
      local part, err = decode('{"a":1} x', compile { b = true })
      assert.is_nil(part)
      assert.are.equal(want, err)
    end)

    it("accepts nesting of exactly 1000 levels in a skipped member", function()
      local text = '{"keep":1,"skip":' .. ("["):rep(999) .. ("]"):rep(999) .. "}"
      assert.is_nil(diff(decode(text, compile { keep = true }), { keep = 1 }))
    end)
  end)

  describe("selectors", function()
    it("are reused across decodes of different documents", function()
      local sel = compile(ORDERS)
      for seed = 1, 5 do
        for _, n in ipairs { 100, 3, 0, 50 } do
          assert_selects(assert(encode(fixtures.list(n, seed))), ORDERS, sel)
        end
        assert_selects('{"orders":[{"id":1,"x":{"y":2}}],"more":[1]}', ORDERS, sel)
      end
    end)

    it("are collected, each with what it holds", function()
      local weak = setmetatable({}, { __mode = "k" })
      for i = 1, 200 do weak[compile { ["k" .. i] = { a = true, b = { c = true } } }] = true end
      collectgarbage("collect")
      collectgarbage("collect")
      assert.is_nil(next(weak))
    end)

    it("do not change when the tree changes afterwards", function()
      local tree = { a = true }
      local sel = compile(tree)
      tree.b = true
      assert.is_nil(diff(decode('{"a":1,"b":2}', sel), { a = 1 }))
    end)

    local invalid = {
      { "a non-table tree", 5, "table expected, got number" },
      { "a non-string key", { [1] = true },
        "json_select: tree: keys must be member names (strings), got a number key" },
      { "a value neither true nor a table", { a = { b = 1 } },
        "json_select: tree.a.b: value must be true or a table, got number" },
      { "false", { a = false }, "json_select: tree.a: value must be true or a table, got boolean" },
      { "\"*\" not true", { ["*"] = {} }, 'json_select: tree: "*" must be true, got table' },
    }
    for _, case in ipairs(invalid) do
      it(("raise at the caller's line for %s"):format(case[1]), function()
        local line = debug.getinfo(1, "l").currentline + 1
        local ok, err = pcall(function() return compile(case[2]) end)
        assert.is_false(ok)
        assert.truthy(err:find(("^spec/json_select_spec.lua:%d: "):format(line)), err)
        assert.truthy(err:find(case[3], 1, true), err)
      end)
    end

    it("raise at the caller's line for a tree deeper than 64 levels, or one that contains itself", function()
      local deep = { a = true }
      for _ = 1, 64 do deep = { a = deep } end
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() return compile(deep) end)
      assert.is_false(ok)
      assert.truthy(err:find(("json_select_spec.lua:%d: json_select: tree.a.a"):format(line), 1, true), err)
      assert.truthy(err:find("tree deeper than 64 levels", 1, true), err)
      local cycle = {}
      cycle.a = cycle
      ok, err = pcall(compile, cycle)
      assert.is_false(ok)
      assert.truthy(err:find("tree deeper than 64 levels", 1, true), err)
      assert.is_userdata(compile((function() local t = { a = true } for _ = 1, 63 do t = { a = t } end return t end)()))
    end)

    it("are the only second argument json_decode takes", function()
      assert.has_error(function() decode("{}", { a = true }) end)
      assert.has_error(function() decode("{}", io.stdout) end)
    end)
  end)
end)
