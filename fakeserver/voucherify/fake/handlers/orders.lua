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

-- an integer, also one written 1.0; else nil
local function int_or_nil(v)
  return math.type(v) == "integer" and v or (math.type(v) == "float" and math.tointeger(v)) or nil
end

-- the largest amount a JSON number holds exactly
local MAX_AMOUNT = 2 ^ 53

-- Links a customer (or referrer) given inline to a fake customer, made
-- (with the fields given) when new.
local function link_party(state, party)
  return customers.from_order(state, party)
end

local function validate(order, path)
  if type(order) ~= "table" or getmetatable(order) == json.array_mt then
    return ("%s should be object"):format(path)
  end
  -- an order always has a status: null cannot clear it
  if order.status ~= nil and not STATUSES[order.status] then
    return ("Property %s.status should be equal to one of the allowed values"):format(path)
  end
  for _, f in ipairs({ "amount", "discount_amount" }) do
    local v = order[f]
    if v ~= nil and v ~= null and not int_or_nil(v) then
      return ("Property %s.%s should be integer"):format(path, f)
    end
  end
  -- null clears the items and the metadata
  if order.items ~= nil and order.items ~= null and getmetatable(order.items) ~= json.array_mt then
    return ("Property %s.items should be array"):format(path)
  end
  if order.metadata ~= nil and order.metadata ~= null and (type(order.metadata) ~= "table" or
      getmetatable(order.metadata) == json.array_mt) then
    return ("Property %s.metadata should be object"):format(path)
  end
  return nil
end

-- `a` op `b` for integers, or nil when the exact result is beyond 2^53
-- (computed in floating point first: integer arithmetic would wrap)
local function exact(a, op, b)
  local f = op == "*" and (a + 0.0) * b or op == "+" and (a + 0.0) + b or (a + 0.0) - b
  if f > MAX_AMOUNT or f < -MAX_AMOUNT then return nil end
  return op == "*" and a * b or op == "+" and a + b or a - b
end

-- Recomputes the derived fields the API maintains.
-- @return true, or nil and why (an amount beyond 2^53)
local function compute(order)
  local items_amount, items_discount = 0, 0
  local function too_big(what)
    return nil, ("Property %s should be <= %d"):format(what, MAX_AMOUNT)
  end
  for i, item in ipairs(order.items) do
    item.object = "order_item"
    local price, qty = int_or_nil(item.price), int_or_nil(item.quantity)
    if item.amount == nil and price and qty then
      item.amount = exact(price, "*", qty)
      if not item.amount then return too_big(("items[%d].amount"):format(i - 1)) end
    end
    item.amount = int_or_nil(item.amount)
    item.discount_amount = int_or_nil(item.discount_amount)
    if item.amount then
      items_amount = exact(items_amount, "+", item.amount)
      item.subtotal_amount = exact(item.amount, "-", item.discount_amount or 0)
      if not (items_amount and item.subtotal_amount) then return too_big(".amount") end
    end
    items_discount = exact(items_discount, "+", item.discount_amount or 0)
    if not items_discount then return too_big(".items_discount_amount") end
  end
  if order.amount == nil and #order.items > 0 then order.amount = items_amount end
  order.amount = int_or_nil(order.amount)
  order.discount_amount = int_or_nil(order.discount_amount)
  local amount, discount = order.amount or 0, order.discount_amount or 0
  order.items_discount_amount = items_discount
  order.total_discount_amount = exact(discount, "+", items_discount)
  order.total_amount = order.total_discount_amount and exact(amount, "-", order.total_discount_amount)
  if not order.total_amount then return too_big(".total_amount") end
  return true
end

local FIXED = { id = true, object = true, created_at = true, updated_at = true }

-- the fields an order keeps as null when unset (the others are left out)
local KEPT_NULL = { source_id = true, customer_id = true, referrer_id = true }
-- what a null sets these to
local CLEARED = { items = array, metadata = function() return {} end }

local function apply(state, order, changes)
  for k, v in pairs(changes) do
    if not FIXED[k] and k ~= "customer" and k ~= "referrer" then
      if v == null and not KEPT_NULL[k] then
        v = CLEARED[k] and CLEARED[k]() or nil -- a null clears the field
      end
      order[k] = v
    end
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

-- Whether the amounts of `order` (nil: a new one) with `changes` stay
-- within 2^53, computed on a copy: nothing changes when they do not.
-- @return true, or nil and why
local function check_amounts(order, changes)
  local trial = { items = order and order.items, amount = order and order.amount,
    discount_amount = order and order.discount_amount }
  for _, k in ipairs({ "items", "amount", "discount_amount" }) do
    if changes[k] ~= nil then trial[k] = changes[k] ~= null and changes[k] or nil end
  end
  trial.items = customers.copy(trial.items or array())
  return compute(trial)
end

local function create_or_update(state, body)
  local existing = state.orders:upsert_target(body)
  if existing == false then return api_error.not_found("order", body.id) end
  local now = state_mod.now(state)
  local ok, why = check_amounts(existing, body)
  if not ok then return api_error.invalid_payload(why) end
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
  local ok
  ok, why = check_amounts(order, ctx.json_body)
  if not ok then return api_error.invalid_payload(why) end
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
