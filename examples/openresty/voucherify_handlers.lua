--- Request handlers using voucherify-lua inside OpenResty.  In content,
-- access, rewrite and timer phases the client talks over cosockets, so a
-- handler waiting on Voucherify never blocks the worker; in init_worker it
-- would use libcurl, so the work there is done in a timer.
local voucherify = require "voucherify"

local handlers = {}

-- Created once per worker: a client per request would lose keep-alive.
local client

local function get_client()
  if not client then
    client = voucherify.new {
      app_id = os.getenv("VOUCHERIFY_APP_ID"),
      app_token = os.getenv("VOUCHERIFY_APP_TOKEN"),
      base_url = os.getenv("VOUCHERIFY_BASE_URL"),
      timeout = 3,          -- a request handler should not wait 60 s
      connect_timeout = 1,
      max_retries = 1,
      -- one budget for every worker of this nginx: together they stay within the plan
      -- (a turn that would come after `timeout` fails at once, so a handler never waits long)
      rate_limit = { requests = 100, per = 60,
        store = voucherify.rate_limit.shared_dict(ngx.shared.voucherify_rate_limit) },
    }
  end
  return client
end

local function send(status, value)
  ngx.status = status
  ngx.say(voucherify.json.encode(value))
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
  if not order then
    return send(err.status or 502, { error = err.kind, status = err.status, message = err.message })
  end
  send(200, { id = order.id, source_id = order.source_id, status = order.status, total = order.total_amount })
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
