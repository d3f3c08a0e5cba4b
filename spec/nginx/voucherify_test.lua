-- Handlers for spec/nginx_spec.lua: the library used from inside nginx.
local voucherify = require "voucherify"
local json = voucherify.json

local voucherify_test = {}

-- one client per worker: keep-alive pools are per worker
local client

local function get_client()
  if not client then
    client = voucherify.new { app_id = "test-app-id", app_token = "test-app-token-s3cr3t",
      base_url = os.getenv("VOUCHERIFY_BASE_URL"), max_retries = 0, timeout = 5 }
  end
  return client
end

local function transport_name(c)
  return c.transports:pick().name
end

--- init_worker: a timer (cosockets work there) fetches an order and keeps what it saw.
function voucherify_test.init_worker()
  local dict = ngx.shared.voucherify_test
  -- in init_worker itself cosockets are not available: the library falls back to
  -- libcurl (and without the C core there is no transport at all there)
  local c = get_client()
  local ok, name = pcall(transport_name, c)
  dict:set("init_worker_transport", ok and name or "none")
  ngx.timer.at(0, function()
    local order, err = c.orders:get("timer-order")
    dict:set("timer", json.encode { transport = transport_name(c), status = order and order.source_id or nil,
      error = err and err.status or nil })
  end)
end

local function reply(value)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(json.encode(value))
end

local handlers = {}

function handlers.order()
  local c = get_client()
  local order, err, res = c.orders:get(ngx.var.arg_id)
  if not order then return reply { error = err.kind, status = err.status, message = err.message } end
  reply { id = order.id, source_id = order.source_id, amount = order.amount, transport = transport_name(c),
    status = res.status }
end

function handlers.customers()
  local ids = {}
  for customer in get_client().customers:each { limit = tonumber(ngx.var.arg_limit) or 7 } do
    ids[#ids + 1] = customer.source_id
  end
  reply { count = #ids, ids = voucherify.array(ids) }
end

function handlers.error()
  local _, err = get_client().orders:get(ngx.var.arg_id)
  reply { is_error = voucherify.is_error(err), kind = err.kind, status = err.status, code = err.code,
    key = err.key, message = err.message, details = err.details, resource_id = err.resource_id,
    resource_type = err.resource_type, method = err.method, url = err.url, text = tostring(err) }
end

function handlers.reuse()
  local c = get_client()
  assert(c.orders:list())
  assert(c.orders:list())
  -- the connection those calls used went back to nginx's pool: the client's
  -- transport takes it from there for the next request, and says so
  local t = c.transports:pick()
  local raw = assert(t:send { method = "GET", url = os.getenv("VOUCHERIFY_BASE_URL") .. "/v1/orders",
    timeout = 5, idempotent = true })
  reply { reused = raw.reused and 1 or 0, transport = t.name }
end

function handlers.timer()
  local dict = ngx.shared.voucherify_test
  reply { timer = json.decode(dict:get("timer") or "null"), init_worker = dict:get("init_worker_transport") }
end

function handlers.import()
  local job, err = get_client().customers:import_csv { csv = "Source_id,Name\nngx-1,From nginx\n" }
  if not job then return reply { error = tostring(err) } end
  local action = assert(get_client().async_actions:wait(job, { interval = 0.01 }))
  reply { status = action.status, done = action.result.done_count }
end

function handlers.codec()
  reply { codec = json.codec, big = json.decode("[9007199254740993]")[1] }
end

function handlers.curl()
  -- the libcurl transport, chosen explicitly, also works in a handler (it blocks the worker)
  local c = voucherify.new { app_id = "test-app-id", app_token = "test-app-token-s3cr3t",
    base_url = os.getenv("VOUCHERIFY_BASE_URL"), transport = "curl" }
  local list, err = c.orders:list()
  c:close()
  reply { ok = list ~= nil, error = err and err.kind, transport = "curl" }
end

function voucherify_test.handle()
  local name = ngx.var.uri:match("^/(%w+)$")
  local handler = name and handlers[name]
  if not handler then return ngx.exit(404) end
  handler()
end

return voucherify_test
