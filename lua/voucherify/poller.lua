--- Waiting for background work (async actions, exports): poll with a growing
-- interval until a final status, a failure status, or the deadline.
-- @module voucherify.poller

local clock = require "voucherify.clock"
local errors = require "voucherify.errors"
local pipeline = require "voucherify.pipeline"

local poller = {}

poller.DEFAULT_TIMEOUT = 600
poller.DEFAULT_INTERVAL = 1
poller.MAX_INTERVAL = 10
poller.GROWTH = 1.5

-- what a failed object says went wrong: `result.message`, else the first of `result.errors`
local function failure_message(obj)
  local result = type(obj.result) == "table" and obj.result or {}
  if type(result.message) == "string" then return result.message end
  local first = type(result.errors) == "table" and result.errors[1]
  if type(first) == "table" and type(first.message) == "string" then return first.message end
  return nil
end

--- Polls `get(deadline)` until `done_status` (returns the object) or
-- `failed_status` (returns nil and an "async" error with the object attached
-- as `err[what]`).  `timeout` bounds the whole wait: each poll must end by the
-- deadline (`get` passes it on to the call), and no sleep passes it: when the
-- next poll would come after it, the wait sleeps until the deadline and ends
-- with a "timeout" error naming the status last seen.
-- @tparam table spec `get(deadline)` -> object, err, response; `what`
--   ("action", "export"); `label` (for messages); `done_status`;
--   `failed_status`; `timeout`, `interval`, `on_progress(object)`; `secrets`
-- @return object, err, response
function poller.wait(spec)
  local timeout = spec.timeout or poller.DEFAULT_TIMEOUT
  local interval = spec.interval or poller.DEFAULT_INTERVAL
  local deadline = clock.now() + timeout
  while true do
    local obj, err, res = spec.get(deadline)
    if not obj then return nil, err, res end
    if type(obj) ~= "table" then
      return nil, errors.new({ kind = "decode", status = res and res.status,
        message = ("%s poll answered with a JSON %s, not an object"):format(spec.label, type(obj)) },
        spec.secrets), res
    end
    if spec.on_progress then spec.on_progress(obj) end
    if obj.status == spec.done_status then return obj, nil, res end
    if obj.status == spec.failed_status then
      -- `status` stays unset: the poll's HTTP status says nothing about the failure
      local why = failure_message(obj)
      local fields = {
        kind = "async",
        message = ("%s %s ended %s%s"):format(spec.label, tostring(obj.id), spec.failed_status,
          why and (": " .. why) or ""),
        resource_id = obj.id, resource_type = spec.what,
      }
      fields[spec.what] = obj
      return nil, errors.new(fields, spec.secrets), res
    end
    local left = deadline - clock.now()
    if interval >= left then
      clock.sleep(left)
      local fields = {
        kind = "timeout", resource_id = obj.id, resource_type = spec.what,
        message = ("%s %s is still %s after %g s"):format(spec.label, tostring(obj.id),
          tostring(obj.status), timeout),
      }
      fields[spec.what] = obj
      return nil, errors.new(fields, spec.secrets), res
    end
    clock.sleep(interval)
    interval = math.min(interval * poller.GROWTH, poller.MAX_INTERVAL)
  end
end

--- What finishing means for the API's background objects.
poller.ASYNC_ACTION = { what = "action", label = "async action", done_status = "DONE", failed_status = "FAILED" }
poller.EXPORT = { what = "export", label = "export", done_status = "DONE", failed_status = "ERROR" }

--- Polls GET `path` on `client` until the object of `kind` (ASYNC_ACTION,
-- EXPORT) finishes; `opts` has `timeout`, `interval`, `on_progress`.
-- @return object, err, response
function poller.wait_resource(client, path, kind, opts)
  return poller.wait {
    get = function(deadline)
      return pipeline.run(client, { method = "GET", path = path, idempotent = true, deadline = deadline })
    end,
    what = kind.what, label = kind.label, done_status = kind.done_status, failed_status = kind.failed_status,
    timeout = opts.timeout, interval = opts.interval, on_progress = opts.on_progress,
    secrets = client.auth.secrets,
  }
end

return poller
