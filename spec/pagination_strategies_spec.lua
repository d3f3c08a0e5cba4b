-- The pagination core and its cursor strategies on their own, no server: each
-- strategy is fed pages one by one and says which request comes next and
-- which items are new; the core is fed pages by a fetch function.
-- A strategy's cursor: request() -> query overrides | nil (the walk is over)
-- | nil, err; take(body, items) -> the new items, and a progress error.
local pagination = require "voucherify.pagination"
local page_number = require "voucherify.cursors.page_number"
local id_cursor = require "voucherify.cursors.id_cursor"
local date_cursor = require "voucherify.cursors.date_cursor"
local datetime = require "voucherify.datetime"
local json = require "voucherify.json"
local voucherify = require "voucherify"

-- items with these ids ("a b c"), each created at `at` (optional)
local function items(ids, at)
  local list = json.array()
  for id in ids:gmatch("%S+") do list[#list + 1] = { id = id, created_at = at } end
  return list
end

-- a page of a list (field "data") holding `list`, with the fields of `more`
local function page(list, more)
  local body = { object = "list", data = list }
  for k, v in pairs(more or {}) do body[k] = v end
  return body
end

-- the ids of `list`, as "a b c"
local function ids_of(list)
  local out = {}
  for i, item in ipairs(list) do out[i] = item.id end
  return table.concat(out, " ")
end

local T1, T2, T3 = "2024-01-01T00:00:01.000Z", "2024-01-01T00:00:02.000Z", "2024-01-01T00:00:03.000Z"
-- `t` moved by `ms` milliseconds
local function plus(t, ms) return datetime.format(datetime.parse(t) + ms) end

local END = setmetatable({}, { __tostring = function() return "the end" end })

-- The walk a strategy's new() gets: what the core passes it.
local function walk(limit, params, list)
  list = list or {}
  list.items = "data"
  return { what = "t:each", limit = limit, params = params or {}, list = list }
end

-- Runs `steps` on a cursor: each step is { request = the overrides expected
-- (END: the walk is over), page = the body fed, fresh = the ids expected new,
-- err = text of the progress error expected }; an END step may carry
-- `kind` and `err` for the error request() returns.
local function run(cursor, steps)
  for i, step in ipairs(steps) do
    local where = "step " .. i
    local q, err = cursor:request()
    if step.request == END then
      assert.is_nil(q, where)
      if step.kind then
        assert.is_true(voucherify.is_error(err), where)
        assert.are.equal(step.kind, err.kind, where)
        assert.truthy(err.message:find(step.err, 1, true), err.message)
      else
        assert.is_nil(err, where)
      end
      return
    end
    assert.are.same(step.request, q, where)
    local fresh
    fresh, err = cursor:take(step.page, step.page.data or {})
    assert.are.equal(step.fresh, ids_of(fresh), where)
    assert.are.equal(json.array_mt, getmetatable(fresh), where)
    if step.err then
      assert.are.equal("pagination", err and err.kind, where)
      assert.truthy(err.message:find(step.err, 1, true), err.message)
      return
    end
    assert.is_nil(err, where)
  end
  error("the steps ended before the walk did")
end

describe("page_number", function()
  local MANY = { total = 100 }
  local cases = {
    -- what, walk, steps
    { "asks for pages 1, 2, 3 with the limit, and ends at a short page", walk(2, {}, { cap = 9 }), {
      { request = { page = 1, limit = 2 }, page = page(items "a b"), fresh = "a b" },
      { request = { page = 2, limit = 2 }, page = page(items "c d"), fresh = "c d" },
      { request = { page = 3, limit = 2 }, page = page(items "e"), fresh = "e" },
      { request = END },
    } },
    { "starts at the caller's page", walk(2, { page = "3" }, { cap = 9 }), {
      { request = { page = 3, limit = 2 }, page = page(items "e"), fresh = "e" },
      { request = END },
    } },
    { "ends without another request when the reported total is reached", walk(2, {}, { cap = 9 }), {
      { request = { page = 1, limit = 2 }, page = page(items "a b", { total = 4 }), fresh = "a b" },
      { request = { page = 2, limit = 2 }, page = page(items "c d", { total = 4 }), fresh = "c d" },
      { request = END },
    } },
    { "an empty list: one request", walk(2, {}, { cap = 9 }), {
      { request = { page = 1, limit = 2 }, page = page(items "", { total = 0 }), fresh = "" },
      { request = END },
    } },
    { "past the cap with items left: page_limit, naming the cap and what to use instead",
      walk(2, {}, { cap = 2, instead = "t:export" }), {
      { request = { page = 1, limit = 2 }, page = page(items "a b", MANY), fresh = "a b" },
      { request = { page = 2, limit = 2 }, page = page(items "c d", MANY), fresh = "c d" },
      { request = END, kind = "page_limit",
        err = "t:each: the API serves at most 2 pages (4 items at limit=2) and more remain; use t:export" },
    } },
    { "a page identical to the previous one: the page number is ignored", walk(2, {}, { cap = 9 }), {
      { request = { page = 1, limit = 2 }, page = page(items "a b", MANY), fresh = "a b" },
      { request = { page = 2, limit = 2 }, page = page(items "a b", MANY), fresh = "",
        err = "page 2 came back identical to page 1" },
    } },
    { "shifted pages bring only their new items; 3 in a row with nothing new end the walk",
      walk(2, {}, { cap = 9 }), {
      { request = { page = 1, limit = 2 }, page = page(items "a b", MANY), fresh = "a b" },
      { request = { page = 2, limit = 2 }, page = page(items "b c", MANY), fresh = "c" },
      { request = { page = 3, limit = 2 }, page = page(items "c b", MANY), fresh = "" },
      { request = { page = 4, limit = 2 }, page = page(items "b c", MANY), fresh = "" },
      { request = { page = 5, limit = 2 }, page = page(items "a c", MANY), fresh = "",
        err = "3 pages in a row (up to page 5) held only items already listed" },
    } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function() run(page_number.new(case[2]), case[3]) end)
  end
end)

describe("id_cursor", function()
  local function more(cursor) return { has_more = true, more_starting_after = cursor } end
  local cases = {
    -- what, walk, steps
    { "follows more_starting_after until has_more is false", walk(2), {
      { request = { limit = 2 }, page = page(items "a b", more "b"), fresh = "a b" },
      { request = { starting_after_id = "b", limit = 2 }, page = page(items "c", { has_more = false }),
        fresh = "c" },
      { request = END },
    } },
    { "starts at the caller's starting_after_id", walk(5, { starting_after_id = "x" }), {
      { request = { starting_after_id = "x", limit = 5 }, page = page(items "y"), fresh = "y" },
      { request = END },
    } },
    { "has_more without a cursor ends the walk", walk(2), {
      { request = { limit = 2 }, page = page(items "a b", { has_more = true }), fresh = "a b" },
      { request = END },
    } },
    { "items that come again under a new cursor are not new", walk(2), {
      { request = { limit = 2 }, page = page(items "a b", more "c1"), fresh = "a b" },
      { request = { starting_after_id = "c1", limit = 2 }, page = page(items "b c", more "c2"), fresh = "c" },
      { request = { starting_after_id = "c2", limit = 2 }, page = page(items "a d"), fresh = "d" },
      { request = END },
    } },
    { "a cursor handed out again is a cycle, even on a page with new items", walk(2), {
      { request = { limit = 2 }, page = page(items "a", more "c1"), fresh = "a" },
      { request = { starting_after_id = "c1", limit = 2 }, page = page(items "b", more "c2"), fresh = "b" },
      { request = { starting_after_id = "c2", limit = 2 }, page = page(items "c", more "c1"), fresh = "c",
        err = [[the API handed out the cursor "c1" again after "c2" (a cycle)]] },
    } },
    { "fresh cursors that bring nothing new: 3 requests in a row end the walk", walk(2), {
      { request = { limit = 2 }, page = page(items "a b", more "k1"), fresh = "a b" },
      { request = { starting_after_id = "k1", limit = 2 }, page = page(items "a b", more "k2"), fresh = "" },
      { request = { starting_after_id = "k2", limit = 2 }, page = page(items "a b", more "k3"), fresh = "" },
      { request = { starting_after_id = "k3", limit = 2 }, page = page(items "a b", more "k4"), fresh = "",
        err = [[3 requests in a row (last cursor "k4") brought nothing new]] },
    } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function() run(id_cursor.new(case[2]), case[3]) end)
  end
end)

describe("date_cursor", function()
  local MORE = { has_more = true }
  local function at(ids, t) return items(ids, t) end
  -- the one-millisecond window around `t`, as the group walks ask for it
  local function window(t, more)
    local q = { created_at_after = plus(t, -1), created_at_before = plus(t, 1), limit = 2, starting_after = false }
    for k, v in pairs(more) do q[k] = v end
    return q
  end
  local CUSTOMERS = { cap = 99, noun = "customers" }
  local cases = {
    -- what, walk, steps
    { "newest first: the next cursor is the last timestamp + 1 ms, and what was yielded there is dropped",
      walk(2, {}, CUSTOMERS), {
      { request = { limit = 2 }, page = page(at("a", T3), MORE), fresh = "a" },
      { request = { limit = 2, starting_after = plus(T3, 1) },
        page = page({ at("a", T3)[1], at("b", T2)[1] }, MORE), fresh = "b" },
      { request = { limit = 2, starting_after = plus(T2, 1) },
        page = page({ at("b", T2)[1], at("c", T1)[1] }, { has_more = false }), fresh = "c" },
      { request = END },
    } },
    { "oldest first (order = created_at): the next cursor is the last timestamp - 1 ms",
      walk(2, { order = "created_at" }, CUSTOMERS), {
      { request = { limit = 2 }, page = page({ at("a", T1)[1], at("b", T2)[1] }, MORE), fresh = "a b" },
      { request = { limit = 2, starting_after = plus(T2, -1) }, page = page(at("b", T2)), fresh = "" },
      { request = END },
    } },
    { "the caller's starting_after is the first cursor, exclusive",
      walk(2, { starting_after = T2 }, CUSTOMERS), {
      { request = { limit = 2, starting_after = T2 }, page = page(at("a", T1)), fresh = "a" },
      { request = END },
    } },
    { "a full page of one millisecond, all yielded: that millisecond is listed page by page, then passed",
      walk(2, {}, CUSTOMERS), {
      { request = { limit = 2 }, page = page(at("a b", T1), MORE), fresh = "a b" },
      { request = { limit = 2, starting_after = plus(T1, 1) }, page = page(at("a b", T1), MORE), fresh = "" },
      { request = window(T1, { page = 1 }), page = page(at("a b", T1), { has_more = true, total = 3 }),
        fresh = "" },
      { request = window(T1, { page = 2 }), page = page(at("c", T1), { has_more = false, total = 3 }),
        fresh = "c" },
      { request = { limit = 2, starting_after = T1 }, page = page(at(""), { has_more = false }), fresh = "" },
      { request = END },
    } },
    { "a server that ignores the cursor: a pagination error on the second request",
      walk(2, {}, CUSTOMERS), {
      { request = { limit = 2 }, page = page({ at("a", T2)[1], at("b", T1)[1] }, MORE), fresh = "a b" },
      { request = { limit = 2, starting_after = plus(T1, 1) },
        page = page({ at("a", T2)[1], at("b", T1)[1] }, MORE), fresh = "",
        err = ("t:each: starting_after=%s brought nothing past the cursor (the cursor is ignored?)"
          .. " (after 2 requests)"):format(plus(T1, 1)) },
    } },
    { "a millisecond no order tells apart: every way is tried, then page_limit says how many are left",
      walk(2, {}, { cap = 1, noun = "customers" }), {
      { request = { limit = 2 }, page = page(at("a b", T1), MORE), fresh = "a b" },
      { request = { limit = 2, starting_after = plus(T1, 1) }, page = page(at("a b", T1), MORE), fresh = "" },
      -- 1. the window's pages in the caller's order (cap: 1)
      { request = window(T1, { page = 1 }), page = page(at("a b", T1), { has_more = true, total = 3 }),
        fresh = "" },
      -- 2. a cursor walk on the other timestamp (these were never updated: it cannot move)
      { request = window(T1, { order = "updated_at" }), page = page(at("a b", T1), MORE), fresh = "" },
      -- 3. the window's pages by source_id, then by -source_id
      { request = window(T1, { page = 1, order = "source_id" }), page = page(at("a b", T1), MORE), fresh = "" },
      { request = window(T1, { page = 1, order = "-source_id" }), page = page(at("a b", T1), MORE), fresh = "" },
      { request = END, kind = "page_limit", err = "t:each: 1 of the 3 customers with created_at " .. T1
        .. " could not be listed: the API serves at most 1 pages of 2 per query" },
    } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function() run(date_cursor.new(case[2]), case[3]) end)
  end

  local orders = {
    -- order, field, direction (nil: no date cursor)
    { nil, "created_at", "desc" }, { "-created_at", "created_at", "desc" }, { "created_at", "created_at", "asc" },
    { "updated_at", "updated_at", "asc" }, { "-updated_at", "updated_at", "desc" }, { "source_id" },
  }
  for _, case in ipairs(orders) do
    it(("order %s: %s"):format(tostring(case[1]), case[2] and case[2] .. " " .. case[3] or "no date cursor"),
      function()
      local field, dir = date_cursor.field_for(case[1])
      assert.are.equal(case[2], field)
      assert.are.equal(case[3], dir)
      assert.are.equal(case[2] ~= nil, date_cursor.accepts({ order = case[1] }))
    end)
  end
end)

describe("pagination.pages (the core)", function()
  -- a cursor that asks for pages 1..n and takes every item (a stand-in strategy)
  local function script(n, errors_at)
    local c = { n = 0, more = true }
    function c.request()
      if c.n >= n then return nil end
      c.n = c.n + 1
      return { page = c.n }
    end
    function c.take(_, _, list)
      c.more = c.n < n
      local fresh = json.array()
      for _, item in ipairs(list) do
        if not item.seen then fresh[#fresh + 1] = item end
      end
      return fresh, errors_at and errors_at[c.n]
    end
    return c
  end

  -- walks `bodies` (one per request) with `cursor`; returns what came out
  local function walk_pages(cursor, bodies)
    local infos, yielded, requests = {}, {}, 0
    local iter = pagination.pages {
      cursor = cursor, items = "data", what = "t:pages",
      fetch = function(q)
        requests = requests + 1
        local b = bodies[q.page]
        if type(b) == "function" then return b() end
        return b, nil, { status = 200 }
      end,
      on_page = function(p, info) infos[#infos + 1] = { p, info } end,
    }
    local ok, err = pcall(function()
      for p, info in iter do
        yielded[#yielded + 1] = p
        assert.are.equal(infos[#infos][1], p)
        assert.are.equal(infos[#infos][2], info)
      end
    end)
    return { yielded = yielded, infos = infos, err = not ok and err or nil, iter = iter, requests = requests }
  end

  it("yields the decoded page itself when every item is new, else a copy: a decoded page never changes", function()
    local first = page(items "a b", { total = 3 })
    local second = page({ { id = "b", seen = true }, { id = "c" } }, { total = 3 })
    local out = walk_pages(script(2), { first, second })
    assert.is_nil(out.err)
    assert.are.equal(first, out.yielded[1])
    assert.are_not.equal(second, out.yielded[2])
    assert.are.equal("c", ids_of(out.yielded[2].data))
    assert.are.equal(3, out.yielded[2].total)
    assert.are.equal("b c", ids_of(second.data)) -- untouched
  end)

  it("info: page (the request number), count, fetched, total, more, response", function()
    local out = walk_pages(script(2), { page(items "a b", { total = 3 }), page(items "c", { total = 3 }) })
    local got = {}
    for i, pair in ipairs(out.infos) do
      local info = pair[2]
      got[i] = { info.page, info.count, info.fetched, info.more, info.response.status }
    end
    assert.are.same({ { 1, 2, 2, true, 200 }, { 2, 1, 3, false, 200 } }, got)
  end)

  local shown = {
    -- what, bodies (ids; "b*" a repeat), pages shown (by request number)
    { "a page that brings nothing new is not shown", { "a", "a*", "b" }, { 1, 3 } },
    { "unless it is the first", { "", "a" }, { 1, 2 } },
    { "or the last", { "a", "a*" }, { 1, 2 } },
  }
  for _, case in ipairs(shown) do
    it(case[1], function()
      local bodies = {}
      for i, spec in ipairs(case[2]) do
        local list = json.array()
        for id, star in spec:gmatch("(%w+)(%*?)") do list[#list + 1] = { id = id, seen = star == "*" } end
        bodies[i] = page(list)
      end
      local out = walk_pages(script(#bodies), bodies)
      local pages = {}
      for i, pair in ipairs(out.infos) do pages[i] = pair[2].page end
      assert.are.same(case[3], pages)
    end)
  end

  local failures = {
    -- what, the failing request's answer, kind, message
    { "a failed request raises its error object", function()
      return nil, require("voucherify.errors").new({ kind = "api", status = 503, message = "down" })
    end, "api", "down" },
    { "a body that is not an object", function() return "text" end, "decode",
      "t:pages: the list response is not a JSON object" },
    { "a list that is not an array", function() return { data = 5 } end, "decode",
      "t:pages: the list response's data is not an array" },
    { "an item without an id", function() return { data = { { id = "x" }, { name = "y" } } } end, "decode",
      "t:pages: data[2] has no id" },
  }
  for _, case in ipairs(failures) do
    it(case[1] .. ", after the pages before it, and ends the walk", function()
      local out = walk_pages(script(3), { page(items "a"), case[2], page(items "c") })
      assert.are.equal(1, #out.yielded)
      assert.are.equal(case[3], out.err.kind)
      assert.truthy(out.err.message:find(case[4], 1, true), out.err.message)
      assert.is_nil(out.iter())
      assert.are.equal(2, out.requests)
    end)
  end

  it("a progress error that comes with new items is raised at the next step, once they are out", function()
    local stuck = pagination.stuck("t:pages", "going round", "c1")
    local out = walk_pages(script(3, { [2] = stuck }), { page(items "a"), page(items "b"), page(items "c") })
    assert.are.equal(2, #out.yielded)
    assert.are.equal(stuck, out.err)
    assert.are.equal("pagination", out.err.kind)
    assert.are.equal("t:pages: going round", out.err.message)
    assert.are.equal(2, out.requests)
  end)

  it("pagination.items yields every item of every page", function()
    local iter = pagination.pages { cursor = script(2), items = "data", what = "t:each",
      fetch = function(q) return ({ page(items "a b"), page(items "c") })[q.page] end }
    local got = {}
    for item in pagination.items(iter, "data") do got[#got + 1] = item.id end
    assert.are.same({ "a", "b", "c" }, got)
  end)

  local choices = {
    -- params, the strategy's first request
    { {}, { limit = 7 } },
    { { order = "created_at", limit = 3 }, { limit = 3 } },
    { { order = "source_id" }, { page = 1, limit = 7 } },
  }
  for _, case in ipairs(choices) do
    it(("pagination.walk picks the first strategy that accepts %s"):format(tostring(case[1].order)), function()
      local list = { items = "data", cursors = { date_cursor, page_number }, limit = 7, cap = 99 }
      local asked
      local iter = pagination.walk(list, case[1], function(q)
        asked = q
        return page(items "")
      end, "t:each")
      iter()
      assert.are.same(case[2], asked)
    end)
  end
end)
