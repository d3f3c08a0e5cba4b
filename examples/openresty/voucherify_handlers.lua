--- Request handlers using voucherify-lua inside OpenResty.  In content,
-- access, rewrite and timer phases the client talks over cosockets, so a
-- handler waiting on Voucherify never blocks the worker; in init_worker it
-- would use libcurl, so the work there is done in a timer.
--
-- Every worker has its own client, but they all take their turns from one
-- rate-limit budget in the shared dictionary `voucherify_rate_limit`: four
-- workers together send no more than the plan allows, as one process would.
local voucherify = require "voucherify"

local handlers = {}

-- Created once per worker: a client per request would lose keep-alive.
local client

-- the plan's limit from VOUCHERIFY_RATE ("requests/seconds"), e.g. "100/60"
local function plan()
  local rate = os.getenv("VOUCHERIFY_RATE") or "100/60"
  local requests, per = rate:match("^(%d+)/(%d+%.?%d*)$")
  if not requests then error("VOUCHERIFY_RATE must look like 100/60, not " .. rate) end
  return tonumber(requests), tonumber(per)
end

local function get_client()
  if not client then
    local requests, per = plan()
    client = voucherify.new {
      app_id = os.getenv("VOUCHERIFY_APP_ID"),
      app_token = os.getenv("VOUCHERIFY_APP_TOKEN"),
      base_url = os.getenv("VOUCHERIFY_BASE_URL"),
      timeout = 3,          -- a request handler should not wait 60 s
      connect_timeout = 1,
      max_retries = 1,
      -- one budget for every worker of this nginx: together they stay within the plan
      -- (a turn that would come after `timeout` fails at once, so a handler never waits long)
      rate_limit = { requests = requests, per = per,
        store = voucherify.rate_limit.shared_dict(ngx.shared.voucherify_rate_limit) },
    }
  end
  return client
end

local function send(status, value)
  ngx.status = status
  ngx.say(voucherify.json.encode(value))
end

-- The answer for a failed call: the API's status, or 503 when the shared
-- budget had no turn within the call's timeout (nothing was sent: the caller
-- may try again shortly), or 502 when Voucherify could not be reached.
local function send_error(err)
  if err.kind == "timeout" and err.attempts == 0 then
    ngx.header["Retry-After"] = 1
    return send(503, { error = "rate_limit", message = err.message })
  end
  send(err.status or 502, { error = err.kind, status = err.status, message = err.message })
end

--- init_worker: start a timer that checks the API every 30 s.
function handlers.init_worker()
  local function check(premature)
    if premature then return end
    local page, err = get_client().orders:list { limit = 1 }
    ngx.shared.voucherify:set("health", voucherify.json.encode {
      ok = page ~= nil, orders = page and page.total, error = err and tostring(err), at = ngx.now() })
  end
  ngx.timer.at(0, check)
  ngx.timer.every(30, check)
end

--- GET /orders/<id>
function handlers.order(id)
  local order, err = get_client().orders:get(ngx.unescape_uri(id))
  if not order then return send_error(err) end
  send(200, { id = order.id, source_id = order.source_id, status = order.status, total = order.total_amount })
end

--- POST /orders: creates (upserts) the order in the JSON body.
function handlers.create_order()
  ngx.req.read_body()
  local order = voucherify.json.decode(ngx.req.get_body_data() or "")
  if type(order) ~= "table" or getmetatable(order) == voucherify.array_mt then
    return send(400, { error = "bad_request", message = "expected a JSON object (an order)" })
  end
  -- a body the client refuses (an unknown type, invalid UTF-8) raises before any request
  local orders = get_client().orders
  local ok, created, err = pcall(orders.create, orders, order)
  if not ok then return send(400, { error = "bad_request", message = tostring(created) }) end
  if not created then return send_error(err) end
  send(201, { id = created.id, source_id = created.source_id, status = created.status,
    worker = ngx.worker.id() })
end

--- GET /orders-summary
function handlers.summary()
  local by_status, count = {}, 0
  local ok, err = pcall(function()
    for order in get_client().orders:each { limit = 100 } do
      by_status[order.status] = (by_status[order.status] or 0) + 1
      count = count + 1
    end
  end)
  if not ok then return send(502, { error = tostring(err) }) end
  send(200, { orders = count, by_status = by_status })
end

--- GET /health
function handlers.health()
  local seen = ngx.shared.voucherify:get("health")
  send(seen and 200 or 503, seen and voucherify.json.decode(seen) or { ok = false })
end

return handlers
