--- The page-number cursor: `page` = 1, 2, ... with `limit` items each, up to
-- the list's cap (a strategy of voucherify.pagination).
--
-- The API serves at most `cap` pages; when more items remain past the last
-- page it can serve, the walk raises "page_limit" naming the cap and what to
-- use instead.  It ends early when the `total` the API reports is reached.
--
-- Progress: a page that repeats the previous page's ids means the page
-- number is ignored; more than MAX_IDLE pages in a row with nothing new (the
-- list shifted, or a server cycles its pages) end the walk too.  The cap
-- bounds the walk anyway.
-- @module voucherify.cursors.page_number

local compat = require "voucherify.compat"
local errors = require "voucherify.errors"
local pagination = require "voucherify.pagination"

local page_number = {}

--- The fields of an item the cursor reads: kept by a walk's `select`.
page_number.NEEDS = { "id" }

local Cursor = {}
Cursor.__index = Cursor

--- A cursor for the walk `walk`: `what`, `limit`, `list.cap`, `list.instead`
-- (the call to use for bigger data sets), `params.page` (the first page).
function page_number.new(walk)
  return setmetatable({
    what = walk.what, limit = walk.limit, cap = walk.list.cap, instead = walk.list.instead,
    next_page = compat.tointeger(tonumber(walk.params.page)) or 1,
    seen = {}, idle = 0, signature = nil, more = true,
  }, Cursor)
end

--- The next page's number and size; "page_limit" past the cap.
function Cursor:request()
  if not self.more then return nil end
  local p = self.next_page
  if p > self.cap then
    return nil, errors.new({
      kind = "page_limit",
      message = ("%s: the API serves at most %d pages (%d items at limit=%d) and more remain;"
        .. " use %s for the full data set"):format(self.what, self.cap, self.cap * self.limit, self.limit,
        self.instead),
    })
  end
  return { page = p, limit = self.limit }
end

--- The request `k` after the one `request` gave last, for prefetch: the
-- page numbers that follow, up to the cap and the total.  None before the
-- first page came: its total may say there is nothing more to fetch.
function Cursor:ahead(k)
  if not self.more or not self.page then return nil end
  local p, limit, total = self.next_page + k, self.limit, self.total
  if p > self.cap or (total and (p - 1) * limit >= total) then return nil end
  return { page = p, limit = limit }
end

-- The progress rule: an error object when the walk moves no more.
local function no_progress(self, items, fresh)
  local ids = {}
  for i, item in ipairs(items) do ids[i] = tostring(item.id) end
  local signature = table.concat(ids, "\0")
  local previous = self.signature
  self.signature = signature
  if #items > 0 and signature == previous then
    return pagination.stuck(self.what, ("page %d came back identical to page %d (the page number is ignored?)")
      :format(self.page, self.page - 1), self.page)
  end
  if pagination.idle(self, #items > 0 and #fresh == 0) then
    return pagination.stuck(self.what, ("%d pages in a row (up to page %d) held only items already listed")
      :format(self.idle, self.page), self.page)
  end
  return nil
end

--- Takes the page asked for last: its new items, and whether more follow.
function Cursor:take(body, items)
  local p = self.next_page
  self.page = p
  local fresh = pagination.fresh(items, self.seen)
  local err = no_progress(self, items, fresh)
  if err then return fresh, err end
  local limit, total = self.limit, compat.tointeger(body.total)
  self.total = total
  self.more = #items >= limit and (total == nil or (p - 1) * limit + #items < total)
  if self.more then self.next_page = p + 1 end
  return fresh
end

return page_number
