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
-- Failures raise the error object (as io.lines raises).
-- @module voucherify.pagination

local compat = require "voucherify.compat"
local errors = require "voucherify.errors"

local pagination = {}

--- An iterator over the pages of a list.
-- @tparam table spec `fetch(page, limit)` -> body, err, response; `items` (the
--   list field, e.g. "orders"); `limit`; `page` (first page); `cap`;
--   `on_page(body, info)`; `what` (e.g. "orders:each"); `instead` (the call to
--   use for bigger data sets)
-- @return iterator yielding `body, info` per page
function pagination.pages(spec)
  local page, limit, fetched = spec.page or 1, spec.limit, 0
  local done = false
  return function()
    if done then return nil end
    if page > spec.cap then
      done = true
      error(errors.new({
        kind = "page_limit",
        message = ("%s: the API serves at most %d pages (%d items at limit=%d) and more remain;"
          .. " use %s for the full data set"):format(spec.what, spec.cap, spec.cap * limit, limit,
          spec.instead),
      }), 0)
    end
    local body, err, res = spec.fetch(page, limit)
    if not body then
      done = true
      error(err, 0)
    end
    local items = body[spec.items] or {}
    fetched = fetched + #items
    local total = compat.tointeger(body.total)
    local more = #items >= limit and (total == nil or (page - 1) * limit + #items < total)
    local info = { page = page, count = #items, fetched = fetched, total = total,
      more = more, response = res }
    if spec.on_page then spec.on_page(body, info) end
    if more then page = page + 1 else done = true end
    return body, info
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

--- An iterator over the pages of a list that hands out its own next cursor.
-- @tparam table spec `fetch(cursor)` -> body, err, response (cursor nil first);
--   `items` (the list field); `on_page(body, info)`; `what`
-- @return iterator yielding `body, info` per page
function pagination.id_cursor_pages(spec)
  local cursor, done, page, fetched = spec.cursor, false, 0, 0
  return function()
    if done then return nil end
    local body, err, res = spec.fetch(cursor)
    if not body then
      done = true
      error(err, 0)
    end
    page = page + 1
    local items = body[spec.items] or {}
    fetched = fetched + #items
    local next_cursor = body.more_starting_after
    local more = body.has_more == true and type(next_cursor) == "string" and next_cursor ~= ""
    if more and next_cursor == cursor then
      done = true
      error(errors.new({ kind = "decode", message = ("%s: the API handed out the same cursor %q twice")
        :format(spec.what, next_cursor) }), 0)
    end
    local info = { page = page, count = #items, fetched = fetched, total = compat.tointeger(body.total),
      more = more, response = res }
    if spec.on_page then spec.on_page(body, info) end
    if more then cursor = next_cursor else done = true end
    return body, info
  end
end

return pagination
