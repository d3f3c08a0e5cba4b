--- Test helper: how crowded the sends a rate limiter allowed were, for the
-- rate-limit specs (plain, Redis store) to check against the budget.
--
--   local busiest_window = require("support.rate_window").busiest
--   assert.are.equal(10, busiest_window(sends, 1))
-- @module support.rate_window

local rate_window = {}

--- The most times within any half-open window [a, a + width).
-- @tparam {number,...} sends the times (any order; the table is not changed)
-- @tparam number width the window's width, in seconds
-- @return the count
function rate_window.busiest(sends, width)
  local sorted = { table.unpack(sends) }
  table.sort(sorted)
  local most, first = 0, 1
  for i = 1, #sorted do
    while sorted[i] - sorted[first] >= width do first = first + 1 end
    most = math.max(most, i - first + 1)
  end
  return most
end

return rate_window
