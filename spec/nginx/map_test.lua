-- Handlers for spec/map_nginx_spec.lua: client:map inside a content handler.
local voucherify = require "voucherify"
local json = voucherify.json

local map_test = {}

local client

local function get_client()
  if not client then
    client = voucherify.new { app_id = "test-app-id", app_token = "test-app-token-s3cr3t",
      base_url = os.getenv("VOUCHERIFY_BASE_URL"), timeout = 10 }
  end
  return client
end

local function create(c, order) return c.orders:create(order) end

local function orders(n, prefix)
  local list = {}
  for i = 1, n do list[i] = { source_id = prefix .. i, amount = i } end
  return list
end

local handlers = {}

-- n creates, `concurrency` at once: what came back, and how long it took
function handlers.map(args)
  local c = get_client()
  local n, seen, correct, errors = tonumber(args.n), {}, 0, 0
  ngx.update_time()
  local started = ngx.now()
  for i, order, err in c:map(orders(n, args.prefix or "ngx-map-"), create,
    { concurrency = tonumber(args.concurrency) }) do
    seen[#seen + 1] = i
    if order and order.amount == i then correct = correct + 1 end
    if err then errors = errors + 1 end
  end
  ngx.update_time()
  return { seen = seen, correct = correct, errors = errors, took = ngx.now() - started,
    transport = c.transports:pick().name }
end

-- a Lua error in one item: it propagates, the others are killed, the client works after
function handlers.error()
  local c = get_client()
  local ok, err = pcall(function()
    for _ in c:map(orders(6, "ngx-err-"), function(cl, order, i)
      if i == 2 then error("boom in item 2") end
      return cl.orders:create(order)
    end, { concurrency = 3 }) do end
  end)
  local after = c.orders:create { source_id = "ngx-after-error" }
  return { raised = not ok, message = tostring(err), after = after and after.source_id or nil }
end

-- break after the first result, then close the iterator (LuaJIT: no to-be-closed variables)
handlers["break"] = function()
  local c = get_client()
  local it = c:map(orders(20, "ngx-brk-"), create, { concurrency = 4 })
  local count = 0
  for _ in it do
    count = count + 1
    if count == 1 then break end
  end
  it:close()
  local after = c.orders:create { source_id = "ngx-after-break" }
  return { count = count, after = after and after.source_id or nil }
end

-- an iterator with prefetch in every task
function handlers.iterate(args)
  local c = get_client()
  local counts = {}
  for i, n in c:map({ 10, 25 }, function(cl, limit)
    local k = 0
    for _ in cl.orders:each { limit = limit, prefetch = tonumber(args.prefetch) } do k = k + 1 end
    return k
  end) do
    counts[i] = n
  end
  return { counts = counts }
end

function map_test.handle()
  local name = ngx.var.uri:sub(2)
  local handler = handlers[name]
  if not handler then return ngx.exit(404) end
  local ok, result = pcall(handler, ngx.req.get_uri_args())
  ngx.header["Content-Type"] = "application/json"
  ngx.say(json.encode(ok and result or { failed = tostring(result) }))
end

return map_test
