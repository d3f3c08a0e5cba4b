--- Scripted faults: tests queue them with POST /_fake/faults and each API
-- request takes the first queued fault that applies to it (first in, first out).
--
-- A fault is a table with any of:
--   path          apply only to a request for this exact path
--   delay         seconds to wait before answering (only this connection waits)
--   status        answer with this status instead of calling the API handler;
--                 body: the body to send with it (a table is sent as JSON),
--                 default Voucherify's error body for the status
--   headers       extra response headers (e.g. { ["Retry-After"] = "1" }; numbers are
--                 sent as their digits; not the ones that frame the answer, such as
--                 Content-Length: the control API refuses those)
--   proxy_502     answer 502 with an HTML page, as a proxy in front of the API would
--   empty         answer 200 with an empty body
--   content_type  send the answer with this Content-Type
--   gzip          send the answer gzip-encoded (Content-Encoding: gzip)
--   truncate      send only the first half of the body (Content-Length says so)
--   close         "before": close the connection without answering;
--                 "mid_body": announce the whole body, send half, close
-- @module voucherify.fake.faults

local cqueues = require "cqueues"
local api_error = require "voucherify.fake.api_error"
local gzip = require "voucherify.fake.gzip"

local faults = {}

faults.PROXY_502_PAGE = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
  .. "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

--- Removes and returns the first queued fault that applies to `req`, or nil.
function faults.take(state, req)
  for i, fault in ipairs(state.faults) do
    if fault.path == nil or fault.path == req.path then
      return table.remove(state.faults, i)
    end
  end
  return nil
end

--- Applies what comes before the handler: the delay, and answers that replace it.
-- @return nil to go on with the handler, or status, body, headers to answer with
function faults.before(fault)
  if fault.delay then cqueues.sleep(fault.delay) end
  if fault.proxy_502 then
    return 502, faults.PROXY_502_PAGE, { ["Content-Type"] = "text/html" }
  end
  if fault.empty then return 200, "", { ["Content-Type"] = "application/json" } end
  if fault.status then
    local body = fault.body
    if body == nil then body = select(2, api_error.generic(fault.status)) end
    return fault.status, body, fault.headers
  end
  return nil
end

--- Applies what changes the answer on its way out.
-- @return status, headers, body
function faults.after(fault, status, headers, body)
  for k, v in pairs(fault.headers or {}) do headers[k] = type(v) == "number" and ("%.14g"):format(v) or v end
  if fault.content_type then headers["Content-Type"] = fault.content_type end
  if fault.gzip then
    body = gzip.encode(body)
    headers["Content-Encoding"] = "gzip"
  end
  if fault.truncate then body = body:sub(1, #body // 2) end
  return status, headers, body
end

return faults
