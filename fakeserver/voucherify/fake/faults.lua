--- Scripted faults: tests queue them with POST /_fake/faults and each API
-- request takes the next one (first in, first out).
--
-- A fault is a table with any of:
--   delay   seconds to wait before answering (only this connection waits)
--   status  answer with this status instead of calling the API handler
--   body    the body to send with `status` (a table is sent as JSON);
--           default: Voucherify's error body for the status
--   headers extra response headers
--   path    apply only to a request for this exact path (others skip the fault)
-- @module voucherify.fake.faults

local cqueues = require "cqueues"
local api_error = require "voucherify.fake.api_error"

local faults = {}

--- Removes and returns the first queued fault that applies to `req`, or nil.
function faults.take(state, req)
  for i, fault in ipairs(state.faults) do
    if fault.path == nil or fault.path == req.path then
      return table.remove(state.faults, i)
    end
  end
  return nil
end

--- Applies `fault` before the handler runs.
-- @return nil to go on with the handler, or status, body, headers to answer with
function faults.apply(fault)
  if fault.delay then cqueues.sleep(fault.delay) end
  if fault.status then
    local body = fault.body
    if body == nil then
      body = select(2, api_error.generic(fault.status))
    end
    return fault.status, body, fault.headers
  end
  return nil
end

return faults
