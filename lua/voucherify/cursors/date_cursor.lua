--- The date cursor (a strategy of voucherify.pagination): walking a list by
-- `starting_after` = a created_at or updated_at value, as GET /v1/customers
-- offers, past its page cap, without
-- skipping or repeating items that share the boundary timestamp, and without
-- ever ending quietly with items missing.
--
-- A plain cursor would skip them: "created before T" drops the rest of the
-- items created at T when a page ended in the middle of them.  So each next
-- request asks for an inclusive cursor (T + 1 ms, or T - 1 ms ascending) and
-- drops the items at T it already yielded.  When a whole page is made of
-- already-seen items at T, more items share T than fit in a page: the walk
-- then lists the *group* at exactly T (a [T - 1 ms, T + 1 ms] window filter)
-- until it has as many items as the group's `total`, with these strategies
-- in turn, each stopping once the group is complete:
--
-- 1. the window's pages 1..cap in the caller's order (enough for a group of
--    up to cap * limit items, the common case);
-- 2. a nested cursor walk through the window on the *other* timestamp
--    (updated_at inside a created_at group, ascending); its own boundary
--    groups (items sharing both timestamps) are paged through in
--    `tie_orders` (source_id, then -source_id), cap pages each;
-- 3. the window's pages in each of `tie_orders` (this reaches the items the
--    other timestamp cannot order: never-updated customers have none).
--
-- Whatever is still missing after that cannot be reached through the API:
-- the walk raises "page_limit" naming the timestamp and how many remain.
--
-- Progress: every request must move the walk.  The top-level cursor must
-- move strictly in the walk's direction (a page that moves it nowhere and is
-- not a full page of the boundary group ends the walk with a "pagination" error);
-- items behind the cursor, or at it and already yielded, are never yielded
-- again; inside a group, a page number that returns the previous page again
-- is a "pagination" error, and a sub-walk may bring nothing new only for as many
-- requests as the items it can legitimately see again fill (plus
-- `IDLE_SLACK`).  So one iterator step makes a bounded number of requests.
-- @module voucherify.cursors.date_cursor

local compat = require "voucherify.compat"
local datetime = require "voucherify.datetime"
local errors = require "voucherify.errors"
local json = require "voucherify.json"
local pagination = require "voucherify.pagination"

local date_cursor = {}

--- The fields of an item the cursor reads: kept by a walk's `select`.
date_cursor.NEEDS = { "id", "created_at", "updated_at" }

--- Requests in a row that may bring nothing new beyond those the items
-- already seen explain.
date_cursor.IDLE_SLACK = 2
--- The largest page size, when the list declares none (`max_limit`).
date_cursor.MAX_LIMIT = 100
--- Two opposite orders that tell apart items sharing both timestamps, when
-- the list declares none (`tie_orders`).
date_cursor.TIE_ORDERS = { "source_id", "-source_id" }

local OTHER = { created_at = "updated_at", updated_at = "created_at" }

--- Which field the cursor runs on, and in which direction, for an `order`;
-- nil when the order has no date cursor (e.g. "source_id").
function date_cursor.field_for(order)
  if order == nil or order == "-created_at" then return "created_at", "desc" end
  if order == "created_at" then return "created_at", "asc" end
  if order == "updated_at" then return "updated_at", "asc" end
  if order == "-updated_at" then return "updated_at", "desc" end
  return nil
end

--- True when `params.order` has a date cursor.
function date_cursor.accepts(params)
  return date_cursor.field_for(params.order) ~= nil
end

-- "pagination": the API answered in a way that moves the walk nowhere.
local function stuck(w, message, cursor)
  return pagination.stuck(w.what, ("%s (after %d requests)"):format(message, w.requests), cursor)
end

-- true when `v` comes after `b` in the walk direction `dir` (always, when b is nil)
local function ahead(dir, v, b)
  if b == nil then return true end
  if dir == "desc" then return v < b end
  return v > b
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

local function ceil_div(a, b)
  return math.floor((a + b - 1) / b)
end

local function more_of(w, body, items)
  if body.has_more == nil then return #items >= w.limit end
  return body.has_more == true
end

local function window(field, ms)
  return { [field .. "_after"] = datetime.format(ms - 1), [field .. "_before"] = datetime.format(ms + 1) }
end

-- A group: the items sharing `field` = `at` (and `other` = `other_at` for a
-- cluster inside a group), the ids of those yielded (shared with the group a
-- cluster belongs to), and the `total` the API reports for its window.
local function new_group(at, other_at, parent)
  local g = { at = at, other_at = other_at, parent = parent, i = 1, ended = false }
  if parent then
    g.seen, g.by_other = parent.seen, parent.by_other
  else
    g.seen, g.by_other, g.count = {}, {}, 0
  end
  return g
end

local function group_count(g)
  if g.parent then return g.by_other[g.other_at] or 0 end
  return g.count
end

-- adds an item to a (top) group; true when it is new
local function group_add(w, g, item)
  g = g.parent or g
  if g.seen[item.id] ~= nil then return false end
  local o = datetime.parse(item[w.other]) or false
  g.seen[item.id] = o
  g.count = g.count + 1
  if o then g.by_other[o] = (g.by_other[o] or 0) + 1 end
  return true
end

local function group_contains(w, g, item)
  if datetime.parse(item[w.field]) ~= g.at then return false end
  return g.other_at == nil or datetime.parse(item[w.other]) == g.other_at
end

-- complete: as many items as the API's total, or (without a total) a walk
-- in page numbers that reached the window's end
local function group_complete(g)
  if g.total then return group_count(g) >= g.total end
  return g.ended
end

-- Every task below has `request()` -> the next query overrides, or nil when
-- it is done (or nil and an error object), and `take(body, items)` -> the new
-- items of the page its request brought, or those and an error object.

--- The page-number task: pages 1..cap of a group's window in `order`
-- (nil: the caller's).
local function page_walk(w, g, order)
  local t = { page = 0, idle = 0, prev = nil, finished = false }
  local win = window(w.field, g.at)
  if g.other_at then
    for k, v in pairs(window(w.other, g.other_at)) do win[k] = v end
  end
  function t.request()
    if t.finished or group_complete(g) or t.page >= w.cap then return nil end
    t.page = t.page + 1
    local q = copy(win)
    q.page, q.limit, q.starting_after = t.page, w.limit, false
    if order then q.order = order end
    return q
  end
  function t.take(body, items)
    if g.total == nil then g.total = compat.tointeger(body.total) end
    local ids = {}
    for i, item in ipairs(items) do ids[i] = tostring(item.id) end
    local signature = table.concat(ids, "\0")
    if #items > 0 and signature == t.prev then
      return json.array(), stuck(w, ("page %d of the %s %s group came back as page %d again"
        .. " (the page number is ignored?)"):format(t.page, w.field, datetime.format(g.at), t.page - 1),
        datetime.format(g.at))
    end
    t.prev = signature
    local fresh = json.array()
    for _, item in ipairs(items) do
      if group_contains(w, g, item) and group_add(w, g, item) then fresh[#fresh + 1] = item end
    end
    if #items < w.limit or not more_of(w, body, items) then
      t.finished, g.ended = true, true
    elseif pagination.idle(t, #fresh == 0, ceil_div(group_count(g), w.limit) + date_cursor.IDLE_SLACK) then
      return fresh, stuck(w, ("%d pages in a row of the %s %s group brought nothing new")
        :format(t.idle, w.field, datetime.format(g.at)), datetime.format(g.at))
    end
    return fresh
  end
  return t
end

local push_group

--- The cursor task: walks `o.field` in direction `o.dir` with the
-- `starting_after` cursor, inside `o.window`.  At the top (no `o.group`) it
-- is the walk itself; inside a group it is strategy 2, and what is new is
-- what the group has not seen.
local function cursor_walk(w, o)
  local field, dir, g = o.field, o.dir, o.group
  -- B: the boundary (ms); S: ids at B this walk has passed (id -> other ms or false);
  -- exclusive: the next cursor is B itself (everything at B is done)
  local t = { B = o.start, S = {}, exclusive = o.start ~= nil, idle = 0, finished = false,
    undated = {}, shown = nil }
  function t.request()
    if t.finished or (g and group_complete(g)) then return nil end
    local q = copy(o.window or {})
    q.limit = w.limit
    if o.order then q.order = o.order end
    if t.B then
      local c = t.B
      if not t.exclusive then c = dir == "desc" and c + 1 or c - 1 end
      q.starting_after = datetime.format(c)
    elseif g then
      q.starting_after = false
    end
    t.shown = q.starting_after or "(none)"
    return q
  end
  function t.take(body, items)
    if not g then w.main_total = compat.tointeger(body.total) end
    local fresh, in_page = json.array(), {}
    local candidates, newB, at_B_seen = {}, nil, #items > 0 and not t.exclusive
    for _, item in ipairs(items) do
      local id = item.id
      local v = datetime.parse(item[field])
      if v ~= t.B or t.S[id] == nil then at_B_seen = false end
      if not in_page[id] and (g == nil or group_contains(w, g, item)) then
        in_page[id] = true
        if v == nil then
          -- no timestamp to walk by (never updated): yield it once, it cannot move the cursor
          if g then
            if group_add(w, g, item) then fresh[#fresh + 1] = item end
          elseif not t.undated[id] then
            t.undated[id] = true
            fresh[#fresh + 1] = item
          end
        elseif ahead(dir, v, t.B) or (v == t.B and not t.exclusive and t.S[id] == nil) then
          candidates[#candidates + 1] = item
          if newB == nil or ahead(dir, v, newB) then newB = v end
          if g == nil or group_add(w, g, item) then fresh[#fresh + 1] = item end
        end
        -- anything else is behind the cursor, or at it and passed: never again
      end
    end
    if #candidates > 0 then
      if newB ~= t.B or t.exclusive then t.B, t.S, t.exclusive = newB, {}, false end
      for _, item in ipairs(candidates) do
        if datetime.parse(item[field]) == t.B then
          t.S[item.id] = datetime.parse(item[w.other]) or false
        end
      end
    end
    local shown = t.shown
    -- inside a group, each item seen before may come back once, and each full
    -- page of them is followed by at most one more request (its cluster's)
    local max_idle = 2 * ceil_div(g and group_count(g) or 0, w.limit) + date_cursor.IDLE_SLACK
    if #items == 0 or not more_of(w, body, items) then
      t.finished = true
    elseif #candidates == 0 then
      if at_B_seen and #items >= w.limit then
        -- a full page of the boundary group, all seen: list the group, then go strictly past it
        o.on_full(t)
        t.exclusive, t.S = true, {}
        if g then t.idle = t.idle + 1 end
      elseif g then
        t.finished = true -- cannot move (no timestamps): the next strategy takes over
      elseif #fresh == 0 then
        return fresh, stuck(w, ("starting_after=%s brought nothing past the cursor (the cursor is ignored?)")
          :format(shown), shown)
      end
    elseif pagination.idle(t, #fresh == 0, max_idle) then
      return fresh, stuck(w, ("%d requests in a row brought nothing new (last starting_after=%s)")
        :format(t.idle, shown), shown)
    end
    return fresh
  end
  return t
end

-- "page_limit": the group `g` cannot be completed through the API.
local function limit_error(w, g)
  local top = g.parent or g
  local at = datetime.format(g.at)
  local what = ("%s %s"):format(w.field, at)
  if g.other_at then what = ("%s and %s %s"):format(what, w.other, datetime.format(g.other_at)) end
  local remaining = g.total and g.total - group_count(g) or nil
  local how_many = remaining and ("%d of the %d %s with %s"):format(remaining, g.total, w.noun, what)
    or ("some %s with %s (the API reported no total)"):format(w.noun, what)
  local larger = w.limit < w.max_limit and (" a larger limit (up to %d) reaches more;"):format(w.max_limit) or ""
  return errors.new({ kind = "page_limit",
    message = ("%s: %s could not be listed: the API serves at most %d pages of %d per query and"
      .. " no filter or order it offers tells them apart;%s starting_after=%s (with the same order) skips"
      .. " this millisecond"):format(w.what, how_many, w.cap, w.limit, larger, at),
    timestamp = at, field = w.field, remaining = remaining, total = g.total,
    group_total = top.total, cursor = at })
end

-- A group as a task: runs its strategies in turn until it is complete;
-- "page_limit" when none could complete it.
local function group_task(w, g, strategies)
  local t = {}
  function t.request()
    while true do
      if group_complete(g) then return nil end
      if not t.current then
        local make = strategies[g.i]
        if not make then return nil, limit_error(w, g) end
        t.current = make()
      end
      local q = t.current.request()
      if q ~= nil then return q end
      t.current, g.i = nil, g.i + 1
    end
  end
  function t.take(body, items)
    return t.current.take(body, items)
  end
  return t
end

-- Lists the group at the boundary `B` of the walk `walker` (which passed the
-- ids in `S`): pushes a group task on the walk's stack.
function push_group(w, walker, parent)
  local g
  if parent then
    -- a cluster: items sharing both timestamps, inside the group `parent`
    g = new_group(parent.at, walker.B, parent)
    w.tasks[#w.tasks + 1] = group_task(w, g, {
      function() return page_walk(w, g, w.tie_orders[1]) end,
      function() return page_walk(w, g, w.tie_orders[2]) end,
    })
    return
  end
  g = new_group(walker.B)
  for id, o in pairs(walker.S) do
    g.seen[id], g.count = o, g.count + 1
    if o then g.by_other[o] = (g.by_other[o] or 0) + 1 end
  end
  w.tasks[#w.tasks + 1] = group_task(w, g, {
    function() return page_walk(w, g, nil) end,
    function()
      return cursor_walk(w, { field = w.other, dir = "asc", order = w.other, group = g,
        window = window(w.field, g.at), on_full = function(inner) push_group(w, inner, g) end })
    end,
    function() return page_walk(w, g, w.tie_orders[1]) end,
    function() return page_walk(w, g, w.tie_orders[2]) end,
  })
end

local Cursor = {}
Cursor.__index = Cursor

--- A cursor for the walk `walk`: `what`, `limit`, `params.order` (which
-- field, which direction), `params.starting_after` (the caller's own first
-- cursor, exclusive), and from the list declaration `list.cap` (pages per
-- query), `list.noun` (what the items are, e.g. "customers"),
-- `list.max_limit` (the largest page size) and `list.tie_orders`.
function date_cursor.new(walk)
  local list, params = walk.list, walk.params
  local field, dir = date_cursor.field_for(params.order)
  assert(field, "no date cursor for this order")
  local start
  if params.starting_after ~= nil then start = datetime.parse(datetime.param(params.starting_after)) end
  local w = { what = walk.what, noun = list.noun or "items", field = field, dir = dir, other = OTHER[field],
    limit = walk.limit, cap = list.cap, max_limit = list.max_limit or date_cursor.MAX_LIMIT,
    tie_orders = list.tie_orders or date_cursor.TIE_ORDERS, requests = 0, tasks = {} }
  w.main = cursor_walk(w, { field = field, dir = dir, start = start,
    on_full = function(walker) push_group(w, walker) end })
  w.tasks[1] = w.main
  return setmetatable({ w = w, more = true }, Cursor)
end

--- The next request: that of the task on top of the walk's stack (a group
-- being listed, or the walk itself).
function Cursor:request()
  local tasks = self.w.tasks
  while true do
    local task = tasks[#tasks]
    if not task then return nil end
    local q, err = task.request()
    if q ~= nil then
      self.active = task
      return q
    end
    if err then return nil, err end
    tasks[#tasks] = nil
  end
end

--- Takes the page the last request brought: the items no earlier page held.
function Cursor:take(body, items)
  local w = self.w
  w.requests = w.requests + 1
  local fresh, err = self.active.take(body, items)
  self.total = w.main_total
  self.more = not (w.main.finished and #w.tasks == 1)
  return fresh, err
end

return date_cursor
