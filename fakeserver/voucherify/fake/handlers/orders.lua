--- /v1/orders: create (upsert), get, update, list, import, export.
-- @module voucherify.fake.handlers.orders

local json = require "voucherify.json"
local api_error = require "voucherify.fake.api_error"
local customers = require "voucherify.fake.handlers.customers"
local jobs = require "voucherify.fake.jobs"
local query = require "voucherify.fake.query"
local state_mod = require "voucherify.fake.state"

local null, array = json.null, json.array

local EXPORT_FIELDS = {
  id = true, source_id = true, created_at = true, updated_at = true, status = true,
  amount = true, discount_amount = true, items_discount_amount = true,
  total_discount_amount = true, total_amount = true, customer_id = true, referrer_id = true,
  metadata = true,
}
local STATUSES = { CREATED = true, PAID = true, CANCELED = true, FULFILLED = true }
local DEFAULT_EXPORT_FIELDS = { "id", "source_id", "status", "created_at", "amount", "total_amount" }

local function int_or_nil(v)
  return math.type(v) == "integer" and v or nil
end

-- Links a customer (or referrer) given inline to a fake customer, made
-- (with the fields given) when new.
local function link_party(state, party)
  return customers.from_order(state, party)
end

local function validate(order, path)
  if type(order) ~= "table" or getmetatable(order) == json.array_mt then
    return ("%s should be object"):format(path)
  end
  if order.status ~= nil and not STATUSES[order.status] then
    return ("Property %s.status should be equal to one of the allowed values"):format(path)
  end
  if order.amount ~= nil and math.type(order.amount) ~= "integer" then
    return ("Property %s.amount should be integer"):format(path)
  end
  if order.items ~= nil and getmetatable(order.items) ~= json.array_mt then
    return ("Property %s.items should be array"):format(path)
  end
  if order.metadata ~= nil and (type(order.metadata) ~= "table" or
      getmetatable(order.metadata) == json.array_mt) then
    return ("Property %s.metadata should be object"):format(path)
  end
  return nil
end

-- Recomputes the derived fields the API maintains.
local function compute(order)
  local items_amount, items_discount = 0, 0
  for _, item in ipairs(order.items) do
    item.object = "order_item"
    local price, qty = int_or_nil(item.price), int_or_nil(item.quantity)
    if item.amount == nil and price and qty then item.amount = price * qty end
    item.amount = int_or_nil(item.amount)
    item.discount_amount = int_or_nil(item.discount_amount)
    if item.amount then
      items_amount = items_amount + item.amount
      item.subtotal_amount = item.amount - (item.discount_amount or 0)
    end
    items_discount = items_discount + (item.discount_amount or 0)
  end
  if order.amount == nil and #order.items > 0 then order.amount = items_amount end
  local amount = int_or_nil(order.amount) or 0
  local discount = int_or_nil(order.discount_amount) or 0
  order.items_discount_amount = items_discount
  order.total_discount_amount = discount + items_discount
  order.total_amount = amount - order.total_discount_amount
end

local FIXED = { id = true, object = true, created_at = true, updated_at = true }

local function apply(state, order, changes)
  for k, v in pairs(changes) do
    if not FIXED[k] and k ~= "customer" and k ~= "referrer" then order[k] = v end
  end
  if changes.customer ~= nil then
    local cid = link_party(state, changes.customer)
    order.customer_id = cid or null
    order.customer = cid and { id = cid, object = "customer" } or nil
  end
  if changes.referrer ~= nil then
    local rid = link_party(state, changes.referrer)
    order.referrer_id = rid or null
    order.referrer = rid and { id = rid, object = "customer" } or nil
  end
end

local function create_or_update(state, body)
  local existing = state.orders:upsert_target(body)
  if existing == false then return api_error.not_found("order", body.id) end
  local now = state_mod.now(state)
  if existing then
    local old_source_id = existing.source_id
    apply(state, existing, body)
    existing.updated_at = now
    compute(existing)
    state.orders:reindex(existing, old_source_id)
    return 200, existing
  end
  local order = {
    id = state.orders:new_id(), object = "order", source_id = null, status = "CREATED",
    created_at = now, updated_at = null, items = array(), metadata = {},
    customer_id = null, referrer_id = null,
  }
  apply(state, order, body)
  compute(order)
  state.orders:insert(order)
  return 200, order
end

local function create(_, ctx)
  local body = ctx.json_body
  local why = validate(body, "")
  if why then return api_error.invalid_payload(why) end
  return create_or_update(ctx.state, body)
end

local function get(_, ctx)
  local order = ctx.state.orders:find(ctx.params.id)
  if not order then return api_error.not_found("order", ctx.params.id) end
  return 200, order
end

local function update(_, ctx)
  local order = ctx.state.orders:find(ctx.params.id)
  if not order then return api_error.not_found("order", ctx.params.id) end
  local why = validate(ctx.json_body, "")
  if why then return api_error.invalid_payload(why) end
  local old_source_id = order.source_id
  apply(ctx.state, order, ctx.json_body)
  order.updated_at = state_mod.now(ctx.state)
  compute(order)
  ctx.state.orders:reindex(order, old_source_id)
  return 200, order
end

local function list(req, ctx)
  local limit, s1, b1 = query.integer(req, "limit", 1, 100, 10)
  if s1 then return s1, b1 end
  local page, s2, b2 = query.integer(req, "page", 1, 100, 1)
  if s2 then return s2, b2 end
  local order, s3, b3 = query.enum(req, "order",
    { "created_at", "-created_at", "updated_at", "-updated_at" })
  if s3 then return s3, b3 end
  local all = ctx.state.orders:sorted(order or "created_at")
  local out = array()
  for i = (page - 1) * limit + 1, math.min(page * limit, #all) do
    out[#out + 1] = all[i]
  end
  return 200, { object = "list", data_ref = "orders", orders = out, total = #all }
end

local function import(_, ctx)
  local body = ctx.json_body
  if getmetatable(body) ~= json.array_mt then
    return api_error.invalid_payload("Request body should be array")
  end
  if #body > 2000 then
    return api_error.invalid_payload("Request body should NOT have more than 2000 items")
  end
  for i, order in ipairs(body) do
    local why = validate(order, ("[%d]"):format(i - 1))
    if why then return api_error.invalid_payload(why) end
  end
  local done, failed = 0, array()
  for _, order in ipairs(body) do
    local status, saved = create_or_update(ctx.state, order)
    if status == 200 then
      done = done + 1
    else
      failed[#failed + 1] = { source_id = type(order.source_id) == "string" and order.source_id or nil,
        reason = saved.details or saved.message }
    end
  end
  local result = { message = ("%d order(s) imported successfully, %d failed."):format(done, #failed),
    done_count = done, failed_count = #failed }
  -- the spec's `failed` (an object there, a list of them here) only when some failed
  if #failed > 0 then result.failed = failed end
  local action = jobs.async_action(ctx.state, "ORDERS.IMPORT", result)
  return 200, { async_action_id = action.id }
end

local function export(_, ctx)
  local body = ctx.json_body
  if type(body) ~= "table" or getmetatable(body) == json.array_mt then
    return api_error.invalid_payload("Request body should be object")
  end
  local params = body.parameters
  if params == nil or params == null then params = {} end
  if type(params) ~= "table" then
    return api_error.invalid_payload("Property .parameters should be object")
  end
  if params.fields ~= nil then
    if getmetatable(params.fields) ~= json.array_mt then
      return api_error.invalid_payload("Property .parameters.fields should be array")
    end
    for i, f in ipairs(params.fields) do
      if type(f) ~= "string" or not (EXPORT_FIELDS[f] or f:match("^metadata%.[%w_%-]+$")) then
        return api_error.invalid_payload(
          ("Property .parameters.fields[%d] should be equal to one of the allowed values"):format(i - 1))
      end
    end
  else
    params.fields = array(DEFAULT_EXPORT_FIELDS)
  end
  if params.order ~= nil and not ({ ["created_at"] = 1, ["-created_at"] = 1, ["updated_at"] = 1,
      ["-updated_at"] = 1, ["status"] = 1, ["-status"] = 1 })[params.order] then
    return api_error.invalid_payload("Property .parameters.order should be equal to one of the allowed values")
  end
  local exp = jobs.export(ctx.state, "order", params)
  return 200, exp
end

--- Registers the orders routes.
return function(router)
  router:add("POST", "/v1/orders", create)
  router:add("GET", "/v1/orders", list)
  router:add("POST", "/v1/orders/import", import, { bulk = true }) -- an async bulk action
  router:add("POST", "/v1/orders/export", export)
  router:add("GET", "/v1/orders/{id}", get)
  router:add("PUT", "/v1/orders/{id}", update)
end
