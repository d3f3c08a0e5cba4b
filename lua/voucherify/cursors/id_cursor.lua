--- The id cursor: lists that hand out the next cursor themselves
-- (`has_more`, `more_starting_after` -> `starting_after_id`), a strategy of
-- voucherify.pagination.
--
-- Progress: a cursor handed out before in this walk is a cycle; more than
-- MAX_IDLE requests in a row with nothing new end the walk too.
-- @module voucherify.cursors.id_cursor

local compat = require "voucherify.compat"
local pagination = require "voucherify.pagination"

local id_cursor = {}

--- The fields of an item the cursor reads: kept by a walk's `select`.
id_cursor.NEEDS = { "id" }

local Cursor = {}
Cursor.__index = Cursor

--- A cursor for the walk `walk`: `what`, `limit`, `params.starting_after_id`
-- (where the walk starts).
function id_cursor.new(walk)
  return setmetatable({ what = walk.what, limit = walk.limit, cursor = walk.params.starting_after_id,
    cursors = {}, seen = {}, idle = 0, more = true }, Cursor)
end

--- The next request: from the cursor the last page handed out.
function Cursor:request()
  if not self.more then return nil end
  return { starting_after_id = self.cursor, limit = self.limit }
end

-- The progress rule: an error object when the walk moves no more.
local function no_progress(self, next_cursor, fresh)
  local cursor = self.cursor
  if cursor ~= nil then self.cursors[cursor] = true end
  if self.cursors[next_cursor] then
    return pagination.stuck(self.what, ("the API handed out the cursor %q again after %q (a cycle)")
      :format(next_cursor, tostring(cursor)), next_cursor)
  end
  if pagination.idle(self, #fresh == 0) then
    return pagination.stuck(self.what, ("%d requests in a row (last cursor %q) brought nothing new")
      :format(self.idle, tostring(next_cursor)), next_cursor)
  end
  return nil
end

--- Takes a page: its new items, and the cursor it hands out.
function Cursor:take(body, items)
  local fresh = pagination.fresh(items, self.seen)
  local next_cursor = body.more_starting_after
  self.total = compat.tointeger(body.total)
  self.more = body.has_more == true and type(next_cursor) == "string" and next_cursor ~= ""
  local err
  if self.more then
    err = no_progress(self, next_cursor, fresh)
    self.cursor = next_cursor
  end
  return fresh, err
end

return id_cursor
