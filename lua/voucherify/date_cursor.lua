--- Walking a list with a date cursor (`starting_after` = a created_at or
-- updated_at value), as GET /v1/customers offers, past its page cap and
-- without skipping or repeating items that share the boundary timestamp.
--
-- A plain cursor would skip them: "created before T" drops the rest of the
-- items created at T when a page ended in the middle of them.  So each next
-- request asks for an inclusive cursor (T + 1 ms, or T - 1 ms ascending) and
-- drops the items at T it already yielded.  When a whole page is made of
-- already-seen items at T (more items share T than fit in a page), it pages
-- through the items at exactly T with a [T - 1 ms, T + 1 ms] window filter,
-- then continues strictly past T.
-- @module voucherify.date_cursor

local compat = require "voucherify.compat"
local datetime = require "voucherify.datetime"
local errors = require "voucherify.errors"
local json = require "voucherify.json"

local date_cursor = {}

-- the most page numbers a window may use (the customers list serves 99)
local WINDOW_PAGES = 99

--- Which field the cursor runs on, and in which direction, for an `order`;
-- nil when the order has no date cursor (e.g. "source_id").
function date_cursor.field_for(order)
  if order == nil or order == "-created_at" then return "created_at", "desc" end
  if order == "created_at" then return "created_at", "asc" end
  if order == "updated_at" then return "updated_at", "asc" end
  if order == "-updated_at" then return "updated_at", "desc" end
  return nil
end

--- An iterator over pages; each page's list holds only items not yielded before.
-- @tparam table spec `fetch(overrides)` -> body, err, response, where overrides
--   may set `limit`, `starting_after`, `page`, `<field>_before`, `<field>_after`;
--   `items` (list field); `limit`; `order`; `starting_after` (the caller's own
--   first cursor, exclusive); `on_page(body, info)`; `what` (for messages)
-- @return iterator yielding `body, info`
function date_cursor.pages(spec)
  local field, dir = date_cursor.field_for(spec.order)
  assert(field, "no date cursor for this order")
  local limit = spec.limit
  local boundary, seen = nil, {} -- boundary: ms; seen: ids yielded at the boundary
  local cursor, exclusive = spec.starting_after, spec.starting_after ~= nil
  local window_page -- set while paging through the items at exactly `boundary`
  local done, requests, fetched = false, 0, 0

  local function overrides()
    local o = { limit = limit }
    if window_page then
      window_page = window_page + 1
      o[field .. "_after"] = datetime.format(boundary - 1)
      o[field .. "_before"] = datetime.format(boundary + 1)
      o.page = window_page
    elseif exclusive then
      o.starting_after = cursor
    elseif boundary then
      o.starting_after = datetime.format(dir == "desc" and boundary + 1 or boundary - 1)
    end
    return o
  end

  return function()
    while not done do
      local in_window = window_page ~= nil
      local body, err, res = spec.fetch(overrides())
      if not body then
        done = true
        error(err, 0)
      end
      requests = requests + 1
      local items = body[spec.items] or {}
      local has_more = body.has_more
      if has_more == nil then has_more = #items >= limit end
      local fresh = json.array()
      for _, item in ipairs(items) do
        if not seen[item.id] then fresh[#fresh + 1] = item end
      end

      if in_window then
        for _, item in ipairs(fresh) do seen[item.id] = true end
        if #items < limit or not has_more or window_page >= WINDOW_PAGES then
          -- every item at the boundary is out: go on strictly past it
          window_page = nil
          cursor, exclusive = datetime.format(boundary), true
        end
      else
        exclusive = false
        if #fresh == 0 and has_more and boundary then
          window_page = 0 -- a full page of the boundary group, all seen: page through it
        else
          local last = items[#items]
          local b = last and datetime.parse(last[field])
          if b then
            if b ~= boundary then boundary, seen = b, {} end
            for _, item in ipairs(items) do
              if datetime.parse(item[field]) == b then seen[item.id] = true end
            end
          elseif has_more and #items > 0 then
            done = true
            error(errors.new({ kind = "decode", message = ("%s: cannot continue: the last item has no %s")
              :format(spec.what or "iterator", field) }), 0)
          end
          if not has_more or #items == 0 then done = true end
        end
      end

      if #fresh > 0 or requests == 1 then
        fetched = fetched + #fresh
        body[spec.items] = fresh
        local info = { page = requests, count = #fresh, fetched = fetched,
          total = compat.tointeger(body.total), more = not done, response = res }
        if spec.on_page then spec.on_page(body, info) end
        return body, info
      end
    end
    return nil
  end
end

return date_cursor
