-- voucherify.url and voucherify.query on their own, no server: how path
-- segments, query names and values are percent-encoded, and how a call's
-- declared parameters are checked and turned into { name, value } pairs
-- (bracket names, dates, deepObject tables and their lists).
local url = require "voucherify.url"
local query = require "voucherify.query"

-- a test name that stays one printable line
local function show(v)
  if type(v) ~= "string" then return tostring(v) end
  return '"' .. v:gsub("[%c\127-\255]", function(c) return ("\\%d"):format(c:byte()) end) .. '"'
end

describe("url.escape", function()
  local cases = {
    { "abc", "abc" },
    { "AZaz09-._~", "AZaz09-._~" }, -- RFC 3986 unreserved: as is
    { "", "" },
    { " ", "%20" },
    { "a/b", "a%2Fb" },
    { "x@y.com", "x%40y.com" },
    { "?#[]", "%3F%23%5B%5D" },
    { "&=+;,", "%26%3D%2B%3B%2C" },
    { "100%", "100%25" },
    { "%2F", "%252F" }, -- already encoded text is encoded again: ids are raw
    { "é", "%C3%A9" }, -- UTF-8 bytes, upper-case hex
    { "\r\n\0", "%0D%0A%00" },
    { "\127\255", "%7F%FF" },
    { "..", ".." }, -- escape keeps dots: a query value or name may be ".."; path segments: url.build
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(show(case[1]), case[2]), function()
      assert.are.equal(case[2], url.escape(case[1]))
    end)
  end
end)

describe("url.build", function()
  local BASE = "https://api.voucherify.io"
  local cases = {
    -- segments, query pairs, URL
    { { "v1", "orders" }, nil, BASE .. "/v1/orders" },
    { {}, nil, BASE },
    { { "v1", "orders" }, {}, BASE .. "/v1/orders" }, -- no "?" without pairs
    { { "v1", "customers", "x@y.com/1" }, nil, BASE .. "/v1/customers/x%40y.com%2F1" },
    { { "v1", "orders", "a b?c#d" }, nil, BASE .. "/v1/orders/a%20b%3Fc%23d" },
    -- dot segments would move the request (RFC 3986 5.2.4): written as %2E, still one segment
    { { "v1", "orders", "." }, nil, BASE .. "/v1/orders/%2E" },
    { { "v1", "orders", ".." }, nil, BASE .. "/v1/orders/%2E%2E" },
    { { "v1", "orders", "..." }, nil, BASE .. "/v1/orders/%2E%2E%2E" },
    { { "v1", "orders", "../x" }, nil, BASE .. "/v1/orders/..%2Fx" }, -- one segment: no dot segment
    { { "v1", "orders", ".a" }, nil, BASE .. "/v1/orders/.a" },
    { { "v1", "orders", "a.." }, nil, BASE .. "/v1/orders/a.." },
    { { "v1", "orders", "%2E%2E" }, nil, BASE .. "/v1/orders/%252E%252E" },
    { { "v1", "orders" }, { { "limit", 10 }, { "page", 2 } }, BASE .. "/v1/orders?limit=10&page=2" },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(show(table.concat(case[1], " | ")), case[3]), function()
      assert.are.equal(case[3], url.build(BASE, case[1], case[2]))
    end)
  end
end)

describe("url.query", function()
  local cases = {
    -- pairs, query string
    { {}, "" },
    { { { "limit", 10 } }, "limit=10" },
    { { { "page", 2 }, { "limit", 10 } }, "page=2&limit=10" }, -- in the order given
    { { { "a", 1 }, { "a", 2 } }, "a=1&a=2" }, -- a repeated name stays repeated
    { { { "limit", 10.0 } }, "limit=10" }, -- a float without a fraction is an integer
    { { { "amount", 1.5 } }, "amount=1.5" },
    { { { "big", 2 ^ 53 } }, "big=9007199254740992" },
    { { { "n", -3 } }, "n=-3" },
    { { { "flag", true }, { "off", false } }, "flag=true&off=false" },
    { { { "email", "x@y.com" } }, "email=x%40y.com" },
    { { { "name", "a b&c=d" } }, "name=a%20b%26c%3Dd" }, -- a value cannot start another pair
    { { { "q", "[x]" } }, "q=%5Bx%5D" }, -- brackets are kept in names only
    -- bracket names as the API documents them
    { { { "created_at[before]", "2024-01-01T00:00:00.000Z" } },
      "created_at[before]=2024-01-01T00%3A00%3A00.000Z" },
    { { { "filters[id][conditions][$in][0]", "v_1" } }, "filters[id][conditions][$in][0]=v_1" },
    { { { "a b&c=d", 1 } }, "a%20b%26c%3Dd=1" }, -- a name cannot end itself early either
    { { { "na#me", "x" } }, "na%23me=x" },
  }
  for _, case in ipairs(cases) do
    it(("-> %s"):format(show(case[2])), function()
      assert.are.equal(case[2], url.query(case[1]))
    end)
  end
end)

-- The parameters of a list call, with every kind of parameter.
local LIST = query.spec({
  { "limit", "integer" },
  { "page", "integer" },
  { "email", "string" },
  { "created_at_before", "date", wire = "created_at[before]" },
  { "filters", "deep" },
}, { { "on_page", "function" } })

-- What is wrong with `params` for `set` (nil: nothing), as voucherify.query
-- says it and voucherify.argcheck raises it at the caller's line.  The one
-- place to adapt if that interface moves.
local function problem(set, params)
  return query.problem(set, params)
end

describe("query.encode", function()
  local function on_page() end
  local cases = {
    -- what, params, pairs
    { "nothing", {}, {} },
    { "the spec's order, not the caller's", { page = 2, limit = 5 }, { { "limit", 5 }, { "page", 2 } } },
    { "an integer given as a float", { limit = 10.0 }, { { "limit", 10 } } },
    { "an integer given as a string", { limit = "10" }, { { "limit", "10" } } },
    { "a string kind: numbers and booleans as text", { email = true }, { { "email", "true" } } },
    { "a string kind: a float", { email = 1.5 }, { { "email", "1.5" } } },
    { "a date: its wire name, ISO 8601 text as is", { created_at_before = "2024-05-24T13:43:09Z" },
      { { "created_at[before]", "2024-05-24T13:43:09Z" } } },
    { "a date: seconds become ISO 8601 UTC", { created_at_before = 1716558189 },
      { { "created_at[before]", "2024-05-24T13:43:09.000Z" } } },
    { "a function kind is never sent", { on_page = on_page, limit = 1 }, { { "limit", 1 } } },
    { "deepObject: nested names", { filters = { a = { b = "c" } } }, { { "filters[a][b]", "c" } } },
    { "deepObject: keys sorted", { filters = { b = 2, a = 1, c = { z = 1, y = 2 } } },
      { { "filters[a]", 1 }, { "filters[b]", 2 }, { "filters[c][y]", 2 }, { "filters[c][z]", 1 } } },
    { "deepObject: a list is indexed from 0", { filters = { id = { conditions = { ["$in"] = { "v_1", "v_2" } } } } },
      { { "filters[id][conditions][$in][0]", "v_1" }, { "filters[id][conditions][$in][1]", "v_2" } } },
    { "deepObject: a list of tables", { filters = { { a = 1 }, { a = 2 } } },
      { { "filters[0][a]", 1 }, { "filters[1][a]", 2 } } },
    { "deepObject: a table with integer and string keys is not a list", { filters = { "x", k = "y" } },
      { { "filters[1]", "x" }, { "filters[k]", "y" } } },
    { "deepObject: an empty table sends nothing", { filters = {} }, {} },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.is_nil(problem(LIST, case[2]))
      local pairs_ = query.encode(LIST, case[2])
      assert.are.same(case[3], pairs_)
      for i, p in ipairs(case[3]) do
        assert.are.equal(math.type(p[2]), math.type(pairs_[i][2]), p[1])
      end
    end)
  end

  it("and url.query make the query string of a list call", function()
    local pairs_ = query.encode(LIST, { created_at_before = 0, limit = 10,
      filters = { id = { conditions = { ["$in"] = { "a b", "c&d" } } } } })
    assert.are.equal("limit=10&created_at[before]=1970-01-01T00%3A00%3A00.000Z"
      .. "&filters[id][conditions][$in][0]=a%20b&filters[id][conditions][$in][1]=c%26d", url.query(pairs_))
  end)
end)

describe("query.problem", function()
  local OK = {}
  local cases = {
    -- what, params, OK or what is wrong
    { "no parameters", {}, OK },
    { "every kind, well typed", { limit = 1, page = "2", email = "x@y.com", created_at_before = 0,
      filters = {}, on_page = print }, OK },
    { "a negative integer as a string", { limit = "-3" }, OK },
    { "a date as ISO 8601 with an offset", { created_at_before = "2024-05-24T15:43:09+02:00" }, OK },
    { "an unknown name, with the names it knows (sorted)", { limits = 10 },
      "unknown parameter 'limits' (expected one of: created_at_before, email, "
        .. "filters, limit, on_page, page)" },
    { "the wire name is not a parameter name", { ["created_at[before]"] = 0 },
      "unknown parameter 'created_at[before]' (expected one of: created_at_before, email, filters, limit, "
        .. "on_page, page)" },
    { "an integer with a fraction", { limit = 1.5 }, "parameter 'limit' must be an integer (got number)" },
    { "an integer as text with a fraction", { limit = "1.0" },
      [[parameter 'limit' must be an integer (got "1.0")]] },
    { "an integer as words", { page = "two" }, [[parameter 'page' must be an integer (got "two")]] },
    { "an integer as a boolean", { page = true }, "parameter 'page' must be an integer (got boolean)" },
    { "a date that is not ISO 8601", { created_at_before = "yesterday" },
      "parameter 'created_at_before' must be an ISO 8601 date-time string or seconds since the epoch"
        .. [[ (got "yesterday")]] },
    { "a date that is NaN", { created_at_before = 0 / 0 },
      "parameter 'created_at_before' must be an ISO 8601 date-time string or seconds since the epoch (got number)" },
    { "a date that is a table", { created_at_before = {} },
      "parameter 'created_at_before' must be an ISO 8601 date-time string or seconds since the epoch (got table)" },
    { "deepObject that is not a table", { filters = "a=b" }, [[parameter 'filters' must be a table (got "a=b")]] },
    { "a string kind given a table", { email = { "x" } },
      "parameter 'email' must be a string, number or boolean (got table)" },
    { "a function kind given a string", { on_page = "print" },
      [[parameter 'on_page' must be a function (got "print")]] },
  }
  for _, case in ipairs(cases) do
    it(("%s: %s"):format(case[1], case[3] == OK and "accepted" or "refused"), function()
      local why = problem(LIST, case[2])
      if case[3] == OK then
        assert.is_nil(why)
      else
        assert.are.equal(case[3], why)
      end
    end)
  end
end)

describe("query.spec and query.without", function()
  it("extra specs come after the list's, and without() drops names", function()
    local set = query.spec({ { "a", "integer" }, { "b", "string" } }, { { "c", "function" } })
    assert.are.same({ "a", "b", "c" }, { set.list[1][1], set.list[2][1], set.list[3][1] })
    local smaller = query.without(set, "b", "c")
    assert.are.equal(1, #smaller.list)
    assert.is_nil(smaller.by_name.b)
    assert.are.equal(set.by_name.a, smaller.by_name.a)
    assert.truthy(problem(smaller, { b = "x" }))
    assert.are.equal(3, #set.list) -- the original set is unchanged
  end)
end)
