--- Waiting for background work (async actions, exports): poll with a growing
-- interval until a final status, a failure status, or the deadline.
-- @module voucherify.poller

local clock = require "voucherify.clock"
local errors = require "voucherify.errors"

local poller = {}

poller.DEFAULT_TIMEOUT = 600
poller.DEFAULT_INTERVAL = 1
poller.MAX_INTERVAL = 10
poller.GROWTH = 1.5

--- Polls `get()` until `done_status` (returns the object) or `failed_status`
-- (returns nil and an "async" error with the object attached as `err[what]`).
-- @tparam table spec `get()` -> object, err, response; `what` ("action",
--   "export"); `label` (for messages); `done_status`; `failed_status`;
--   `timeout`, `interval`, `on_progress(object)`; `secrets`
-- @return object, err, response
function poller.wait(spec)
  local timeout = spec.timeout or poller.DEFAULT_TIMEOUT
  local interval = spec.interval or poller.DEFAULT_INTERVAL
  local deadline = clock.now() + timeout
  while true do
    local obj, err, res = spec.get()
    if not obj then return nil, err, res end
    if spec.on_progress then spec.on_progress(obj) end
    if obj.status == spec.done_status then return obj, nil, res end
    if obj.status == spec.failed_status then
      local result = type(obj.result) == "table" and obj.result or {}
      local fields = {
        kind = "async", status = res and res.status,
        message = ("%s %s ended %s%s"):format(spec.label, tostring(obj.id), spec.failed_status,
          type(result.message) == "string" and (": " .. result.message) or ""),
        resource_id = obj.id, resource_type = spec.what,
      }
      fields[spec.what] = obj
      return nil, errors.new(fields, spec.secrets), res
    end
    local now = clock.now()
    if now >= deadline then
      local fields = {
        kind = "timeout", resource_id = obj.id, resource_type = spec.what,
        message = ("%s %s is still %s after %g s"):format(spec.label, tostring(obj.id),
          tostring(obj.status), timeout),
      }
      fields[spec.what] = obj
      return nil, errors.new(fields, spec.secrets), res
    end
    clock.sleep(math.min(interval, deadline - now))
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
    get = function() return client:call { method = "GET", path = path, idempotent = true } end,
    what = kind.what, label = kind.label, done_status = kind.done_status, failed_status = kind.failed_status,
    timeout = opts.timeout, interval = opts.interval, on_progress = opts.on_progress,
    secrets = client.config.secrets,
  }
end

return poller
