--- Lazy iterators over lists, holding one page at a time:
--
-- * `pages`/`each`: page-numbered lists (`page` + `limit`).  The API serves at
--   most `cap` pages; when more items remain past the last page it can serve,
--   the iterator raises an error object of kind "page_limit" that names the
--   cap and the way around it.
-- * `id_cursor_pages`: lists that hand out the next cursor themselves
--   (`has_more`, `more_starting_after` -> `starting_after_id`).
-- * `items`: every item of any such page iterator.
--
-- Failures raise the error object (as io.lines raises).  Each page holds only
-- items no earlier page of the walk held (a server that repeats items, or
-- shifts them, never makes one come twice), and a walk that stops making
-- progress raises an error of kind "pagination" after a bounded number of
-- requests; the rules, one per cursor strategy, are `progress.page_number`
-- and `progress.id_cursor`.
-- @module voucherify.pagination

local compat = require "voucherify.compat"
local errors = require "voucherify.errors"
local json = require "voucherify.json"

local pagination = {}

--- Requests in a row that may bring nothing new before a walk is declared
-- stuck (the third such request raises a "pagination" error).
pagination.MAX_IDLE = 2

local function no_progress(what, message, cursor)
  return errors.new({ kind = "pagination", message = what .. ": " .. message, cursor = cursor })
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

-- The items of `items` whose ids `seen` does not hold yet (recorded now),
-- as an array.
local function fresh_items(items, seen)
  local fresh = json.array()
  for _, item in ipairs(items) do
    if not seen[item.id] then
      seen[item.id] = true
      fresh[#fresh + 1] = item
    end
  end
  return fresh
end

--- Progress rules, one per cursor strategy: each takes the walk's state and
-- what a page brought, and returns an error object when the walk moves no
-- more (nil while it does).
pagination.progress = {}

--- Page numbers: a page that repeats the previous page's ids means the page
-- number is ignored; more than MAX_IDLE pages in a row with nothing new (the
-- list shifted, or a server cycles its pages) end the walk too.  The page
-- cap bounds the walk anyway.
function pagination.progress.page_number(state, items, fresh, what)
  local ids = {}
  for i, item in ipairs(items) do ids[i] = tostring(item.id) end
  local signature = table.concat(ids, "\0")
  local previous = state.signature
  state.signature = signature
  if #items > 0 and signature == previous then
    return no_progress(what, ("page %d came back identical to page %d (the page number is ignored?)")
      :format(state.page, state.page - 1), state.page)
  end
  if #items > 0 and #fresh == 0 then
    state.idle = (state.idle or 0) + 1
    if state.idle > pagination.MAX_IDLE then
      return no_progress(what, ("%d pages in a row (up to page %d) held only items already listed")
        :format(state.idle, state.page), state.page)
    end
  else
    state.idle = 0
  end
  return nil
end

--- Id cursors: a cursor handed out before in this walk is a cycle; more than
-- MAX_IDLE requests in a row with nothing new end the walk too.
function pagination.progress.id_cursor(state, cursor, next_cursor, fresh, what)
  state.cursors = state.cursors or {}
  if cursor ~= nil then state.cursors[cursor] = true end
  if next_cursor ~= nil and state.cursors[next_cursor] then
    return no_progress(what, ("the API handed out the cursor %q again after %q (a cycle)")
      :format(next_cursor, tostring(cursor)), next_cursor)
  end
  if #fresh == 0 then
    state.idle = (state.idle or 0) + 1
    if state.idle > pagination.MAX_IDLE then
      return no_progress(what, ("%d requests in a row (last cursor %q) brought nothing new")
        :format(state.idle, tostring(next_cursor)), next_cursor)
    end
  else
    state.idle = 0
  end
  return nil
end

--- An iterator over the pages of a list; each page's list holds only items
-- no earlier page held.
-- @tparam table spec `fetch(page, limit)` -> body, err, response; `items` (the
--   list field, e.g. "orders"); `limit`; `page` (first page); `cap`;
--   `on_page(body, info)`; `what` (e.g. "orders:each"); `instead` (the call to
--   use for bigger data sets)
-- @return iterator yielding `body, info` per page
function pagination.pages(spec)
  local page, limit, fetched = spec.page or 1, spec.limit, 0
  local done = false
  local seen, state = {}, {}
  local function fail(err)
    done = true
    error(err, 0)
  end
  return function()
    while not done do
      if page > spec.cap then
        fail(errors.new({
          kind = "page_limit",
          message = ("%s: the API serves at most %d pages (%d items at limit=%d) and more remain;"
            .. " use %s for the full data set"):format(spec.what, spec.cap, spec.cap * limit, limit,
            spec.instead),
        }))
      end
      local body, err, res = spec.fetch(page, limit)
      if not body then fail(err) end
      local items
      items, err = list_of(body, spec.items, spec.what)
      if not items then fail(err) end
      local fresh = fresh_items(items, seen)
      state.page = page
      err = pagination.progress.page_number(state, items, fresh, spec.what)
      if err then fail(err) end
      fetched = fetched + #fresh
      local total = compat.tointeger(body.total)
      local more = #items >= limit and (total == nil or (page - 1) * limit + #items < total)
      local this_page = page
      if more then page = page + 1 else done = true end
      -- a page that brought nothing new is not shown, unless it is the only one
      if #fresh > 0 or done or state.shown == nil then
        state.shown = true
        body[spec.items] = fresh
        local info = { page = this_page, count = #fresh, fetched = fetched, total = total,
          more = more, response = res }
        if spec.on_page then spec.on_page(body, info) end
        return body, info
      end
    end
    return nil
  end
end

--- An iterator over every item of the pages `next_page` yields; `field` names
-- the list in each page (e.g. "orders", "data").
function pagination.items(next_page, field)
  local items, i = nil, 0
  return function()
    while true do
      if items then
        i = i + 1
        local item = items[i]
        if item ~= nil then return item end
        items = nil
      end
      local body = next_page()
      if body == nil then return nil end
      items, i = body[field] or {}, 0
    end
  end
end

--- An iterator over every item of every page (see `pages`).
function pagination.each(spec)
  return pagination.items(pagination.pages(spec), spec.items)
end

--- An iterator over the pages of a list that hands out its own next cursor;
-- each page's list holds only items no earlier page held.
-- @tparam table spec `fetch(cursor)` -> body, err, response (cursor nil first);
--   `items` (the list field); `on_page(body, info)`; `what`; `cursor` (first)
-- @return iterator yielding `body, info` per page
function pagination.id_cursor_pages(spec)
  local cursor, done, page, fetched = spec.cursor, false, 0, 0
  local seen, state = {}, {}
  local pending -- the error to raise at the next step, once this page's new items are out
  local function fail(err)
    done = true
    error(err, 0)
  end
  return function()
    while not done do
      if pending then fail(pending) end
      local body, err, res = spec.fetch(cursor)
      if not body then fail(err) end
      page = page + 1
      local items
      items, err = list_of(body, spec.items, spec.what)
      if not items then fail(err) end
      local fresh = fresh_items(items, seen)
      local next_cursor = body.more_starting_after
      local more = body.has_more == true and type(next_cursor) == "string" and next_cursor ~= ""
      if more then
        err = pagination.progress.id_cursor(state, cursor, next_cursor, fresh, spec.what)
        if err and #fresh == 0 then fail(err) end
        pending = err
        cursor = next_cursor
      else
        done = true
      end
      fetched = fetched + #fresh
      -- a page that brought nothing new is not shown, unless it is the only one
      if #fresh > 0 or done or state.shown == nil then
        state.shown = true
        body[spec.items] = fresh
        local info = { page = page, count = #fresh, fetched = fetched, total = compat.tointeger(body.total),
          more = more, response = res }
        if spec.on_page then spec.on_page(body, info) end
        return body, info
      end
    end
    return nil
  end
end

return pagination
