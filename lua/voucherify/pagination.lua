--- The pagination core: one lazy iterator over the pages of a list, whatever
-- its cursor, holding one page at a time.
--
-- A list is declared as data (see `pagination.walk`), and its cursor is a
-- strategy (voucherify.cursors.*) that says which page to ask for next and
-- which items of the page that came are new.  A strategy module has
-- `new(walk)` -> a cursor, and may have `accepts(params)` (false when the
-- caller's parameters rule it out, e.g. the date cursor for
-- `order = "source_id"`; without it, any parameters do).
-- A cursor has two methods and three fields:
--
-- * `cursor:request()` -> the query overrides of the next request (a table:
--   name -> value, `false` leaves the caller's parameter out); nil when the
--   walk is over; or nil and an error object to raise (e.g. "page_limit").
-- * `cursor:take(body, items)` -> the items of this page no earlier page held
--   (a JSON array), and an error object when the walk stops making progress.
-- * `cursor.more` (more pages follow), `cursor.total` (the total the API
--   reports, or nil), `cursor.page` (the page number for `info.page`; nil:
--   the number of requests made).
-- * optionally `cursor:ahead(k)` -> the query overrides of the k-th request
--   after the one `request` gave last, when they are known before its page
--   arrives (page numbers), else nil.  It changes nothing.
--
-- Prefetch (`params.prefetch = n`, default 0): the next request is made as
-- soon as the current page is taken, in the background (voucherify.tasks),
-- while the caller works on that page; with `ahead`, up to n requests are in
-- flight.  `request` is still called once per page, in the same order; a
-- page fetched ahead is used only when `request` asks for exactly its query,
-- else it is dropped.  So at most n pages wait besides the caller's: memory
-- stays bounded by n + 1 pages.  Pages fetched ahead past the end of the
-- list (at most n - 1: the end is known only from the last page) are wasted.
--
-- This module makes the requests, checks that a page is a list of items with
-- ids, builds `info`, calls `on_page` and raises.  A failure raises the error
-- object (as io.lines raises) and ends the walk.  A progress error found with
-- a page that brought new items is raised at the next step, once those items
-- are out.  The pages yielded hold, in their list field, only items no
-- earlier page held; the decoded response itself is never changed.
-- @module voucherify.pagination

local compat = require "voucherify.compat"
local errors = require "voucherify.errors"
local json = require "voucherify.json"
local tasks = require "voucherify.tasks"

local pagination = {}

--- Requests in a row that may bring nothing new before a walk by page
-- numbers or id cursors is declared stuck (the third such request raises).
pagination.MAX_IDLE = 2

--- An error object of kind "pagination": the walk `what` moves no more.
-- @tparam string what the call, e.g. "orders:each"
-- @tparam string message
-- @param cursor where the walk stood (a page number or a cursor)
function pagination.stuck(what, message, cursor)
  return errors.new({ kind = "pagination", message = what .. ": " .. message, cursor = cursor })
end

--- The items of `items` whose ids `seen` does not hold yet (recorded now), as
-- a JSON array: what a cursor that remembers the whole walk's ids yields.
function pagination.fresh(items, seen)
  local fresh = json.array()
  for _, item in ipairs(items) do
    local id = item.id
    if not seen[id] then
      seen[id] = true
      fresh[#fresh + 1] = item
    end
  end
  return fresh
end

--- Counts the requests in a row that brought nothing new (`t.idle`); true
-- once more than `max` (default MAX_IDLE) did: the walk is stuck.
-- @tparam table t the cursor (or a walk inside it)
-- @tparam boolean nothing_new what the last request brought
-- @tparam[opt] number max
function pagination.idle(t, nothing_new, max)
  if not nothing_new then
    t.idle = 0
    return false
  end
  t.idle = t.idle + 1
  return t.idle > (max or pagination.MAX_IDLE)
end

local function decode_error(what, message)
  return errors.new({ kind = "decode", message = what .. ": " .. message })
end

-- The list in `body` (field `field`): a table of items with ids, or nil and an error.
local function list_of(body, field, what)
  if type(body) ~= "table" then return nil, decode_error(what, "the list response is not a JSON object") end
  local items = body[field]
  if items == nil then return {} end
  if type(items) ~= "table" then
    return nil, decode_error(what, ("the list response's %s is not an array"):format(field))
  end
  for i, item in ipairs(items) do
    if type(item) ~= "table" or (type(item.id) ~= "string" and type(item.id) ~= "number") then
      return nil, decode_error(what, ("%s[%d] has no id"):format(field, i))
    end
  end
  return items
end

-- The page to yield: the decoded body itself when all its items are new
-- (fresh then holds exactly them, in order), else a shallow copy holding
-- `fresh` in `field`.
local function page_of(body, field, items, fresh)
  if body[field] ~= nil and #fresh == #items then return body end
  local page = {}
  for k, v in pairs(body) do page[k] = v end
  page[field] = fresh
  return page
end

-- Two query overrides tables ask for the same page.
local function same(a, b)
  for k, v in pairs(a) do
    if b[k] ~= v then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- The fetches of a walk with prefetch: the next request's (asked of the
-- cursor once its page is taken) and, when the cursor can say, those after it.
local Ahead = {}
Ahead.__index = Ahead

local function new_ahead(cursor, fetch, n)
  return setmetatable({ cursor = cursor, fetch = fetch, n = n, group = tasks.group(), queue = {} }, Ahead)
end

-- Drops every fetch in flight.
function Ahead:drop()
  local queue = self.queue
  for k = #queue, 1, -1 do
    self.group:cancel(queue[k].future)
    queue[k] = nil
  end
end

-- Asks the cursor for the next request and starts its fetch, unless one in
-- flight asked for exactly that; then tops the queue up with `ahead`.
-- @return overrides, err (as cursor:request), and the future of its fetch
function Ahead:next()
  local overrides, err = self.cursor:request()
  if overrides == nil then
    self:drop()
    return nil, err
  end
  local queue, group, fetch = self.queue, self.group, self.fetch
  local head = table.remove(queue, 1)
  local future
  if head and same(head.overrides, overrides) then
    future = head.future
  else
    if head then group:cancel(head.future) end
    self:drop()
    future = group:start(fetch, overrides)
  end
  if self.cursor.ahead then
    for k = #queue + 1, self.n - 1 do
      local q = self.cursor:ahead(k)
      if q == nil then break end
      queue[k] = { overrides = q, future = group:start(fetch, q) }
    end
  end
  return overrides, nil, future
end

-- Drops every fetch in flight, `planned`'s (the next request's) included,
-- and the group: nothing is left running.
function Ahead:close(planned)
  self:drop()
  if planned and planned[3] then self.group:cancel(planned[3]) end
  self.group:close()
end

-- The iterators' object: callable (the generic for calls it as its
-- function) and closable: `close()`, also the generic for's to-be-closed
-- value in Lua 5.4 (so `break` or an error in the loop body drops the
-- fetches in flight at once; on LuaJIT call it, or the group's finalizer
-- does it when the iterator is collected).
local Iterator = {}
Iterator.__index = Iterator

function Iterator:__call()
  return self.step()
end

--- Stops the walk: the pages fetched ahead and in flight are dropped.  The
-- iterator yields nothing more.
function Iterator:close()
  local stop = self.stop
  if stop then
    self.stop = nil
    stop()
  end
end

Iterator.__close = Iterator.close

-- the four values of a generic for: the iterator and its closing value
local function iterator(step, stop)
  local it = setmetatable({ step = step, stop = stop }, Iterator)
  return it, nil, nil, it
end

--- An iterator over the pages of a list.
-- @tparam table walk `cursor` (a strategy's cursor); `fetch(overrides)` ->
--   body, err, response; `items` (the list field, e.g. "orders"); `what`
--   (e.g. "orders:each", for messages); `on_page(page, info)` (optional);
--   `prefetch` (pages to fetch ahead, default 0)
-- @return iterator yielding `page, info` per page; `info` has `page`,
--   `count`, `fetched`, `total`, `more` and `response`; an object with
--   `close()` (see Iterator), then nil, nil and itself for the generic for
function pagination.pages(walk)
  local cursor, fetch, field, what, on_page = walk.cursor, walk.fetch, walk.items, walk.what, walk.on_page
  local done, pending = false, nil
  local requests, fetched = 0, 0
  local ahead = (walk.prefetch or 0) > 0 and new_ahead(cursor, fetch, walk.prefetch) or nil
  -- planned: the next request, asked as soon as the last page was taken (prefetch)
  local planned = nil
  -- the walk is over: nothing more to fetch
  local function stop()
    done = true
    if ahead then
      ahead:close(planned)
      planned = nil
    end
  end
  -- the one place a walk ends with an error: stop it, then raise
  local function fail(err)
    stop()
    error(err, 0)
  end
  return iterator(function()
    while not done do
      if pending then fail(pending) end
      local overrides, err, future
      if ahead then
        planned = planned or { ahead:next() }
        overrides, err, future = planned[1], planned[2], planned[3]
        planned = nil
      else
        overrides, err = cursor:request()
      end
      if overrides == nil then
        if err then fail(err) end
        done = true
        break
      end
      local body, res
      if future then
        body, err, res = ahead.group:get(future)
      else
        body, err, res = fetch(overrides)
      end
      if not body then fail(err) end
      requests = requests + 1
      local items
      items, err = list_of(body, field, what)
      if not items then fail(err) end
      local fresh
      fresh, err = cursor:take(body, items)
      if err then
        if #fresh == 0 then fail(err) end
        pending = err
      end
      fetched = fetched + #fresh
      -- the next page loads while the caller works on this one
      if ahead and not pending then planned = { ahead:next() } end
      -- a page that brought nothing new is not shown, unless it is the first or the last
      if #fresh > 0 or requests == 1 or not cursor.more then
        local page = page_of(body, field, items, fresh)
        local info = { page = cursor.page or requests, count = #fresh, fetched = fetched, total = cursor.total,
          more = cursor.more, response = res }
        if on_page then
          if ahead then
            -- raising there ends the walk: the fetches ahead are dropped now
            local ok, e = pcall(on_page, page, info)
            if not ok then fail(e) end
          else
            on_page(page, info)
          end
        end
        return page, info
      end
    end
    return nil
  end, stop)
end

--- An iterator over every item of the pages `next_page` yields; `field` names
-- the list in each page (e.g. "orders", "data").
-- @return as `pagination.pages`; its `close()` closes `next_page` (when that has one)
function pagination.items(next_page, field)
  local items, i = nil, 0
  return iterator(function()
    while true do
      if items then
        i = i + 1
        local item = items[i]
        if item ~= nil then return item end
        items = nil
      end
      local page = next_page()
      if page == nil then return nil end
      items, i = page[field] or {}, 0
    end
  end, function()
    items = nil
    if type(next_page) == "table" then next_page:close() end
  end)
end

--- The selector (json.selector) of a list call's `select`: the page
-- envelope (object, total, has_more, ...) whole, and of each item in its list
-- field `field` only the paths `select` names ("id", "customer.id": a dotted
-- path reaches into nested objects, and into each object of an array) and
-- the fields `needs` names (what the walk's cursor reads).
-- @tparam table select the caller's checked list of paths (voucherify.query)
-- @tparam string field the list field of the page ("orders", "data")
-- @tparam[opt] table needs field names every item keeps
-- @return the selector, compiled once for every page of the call
function pagination.selector(select, field, needs)
  local item = {}
  for _, path in ipairs(select) do
    local node, last = item, nil
    for name in path:gmatch("[^.]+") do
      if last then
        local child = node[last]
        if child == true then node = nil break end -- the whole parent is kept already
        if child == nil then
          child = {}
          node[last] = child
        end
        node = child
      end
      last = name
    end
    if node then node[last] = true end
  end
  for _, name in ipairs(needs or {}) do item[name] = true end
  return json.selector { ["*"] = true, [field] = item }
end

-- The strategy of `list` for the caller's `params`: the first that accepts them.
local function strategy_of(list, params)
  for _, s in ipairs(list.cursors) do
    if not s.accepts or s.accepts(params) then return s end
  end
  return nil
end

--- The pages iterator of a list declaration, for the caller's `params`.
-- @tparam table list the declaration: `items` (list field); `cursors` (the
--   strategy modules to use, the first that accepts `params`); `limit` (page
--   size when `params.limit` is not given); `cap` (pages one query may use);
--   and what the strategies read besides (`instead`, `noun`, `tie_orders`, ...)
-- @tparam table params the caller's (checked) parameters
-- @tparam function fetch `fetch(overrides, selector)` -> body, err, response;
--   selector: nil, or what `pagination.selector` made for `select`
-- @tparam string what the call, for messages ("customers:each")
-- @tparam[opt] table select the caller's (checked) field paths: items hold
--   only those fields, `id` and what the strategy's cursor reads (its `NEEDS`)
-- @return iterator yielding `page, info` (as `pagination.pages`)
function pagination.walk(list, params, fetch, what, select)
  local strategy = strategy_of(list, params)
  if select ~= nil then
    local selector = pagination.selector(select, list.items, strategy.NEEDS or { "id" })
    local fetch_all = fetch
    fetch = function(overrides) return fetch_all(overrides, selector) end
  end
  local prefetch = params.prefetch
  if prefetch ~= nil then
    prefetch = compat.tointeger(tonumber(prefetch))
    -- (level 3: the caller of the resource method, which tail-calls its way here)
    if not prefetch or prefetch < 0 then
      error(("voucherify: %s: 'prefetch' must be a non-negative integer (got %s)"):format(what,
        tostring(params.prefetch)), 3)
    end
  end
  local cursor = strategy.new {
    what = what, list = list, params = params,
    limit = compat.tointeger(tonumber(params.limit)) or list.limit,
  }
  return pagination.pages { cursor = cursor, fetch = fetch, items = list.items, what = what,
    on_page = params.on_page, prefetch = prefetch }
end

return pagination
