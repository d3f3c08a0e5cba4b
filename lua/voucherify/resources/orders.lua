--- `client.orders`: the Orders API.
-- Every call returns `result, err, response`; iterators raise the error object.
-- @module voucherify.resources.orders

local argcheck = require "voucherify.argcheck"
local compat = require "voucherify.compat"
local json = require "voucherify.json"
local pagination = require "voucherify.pagination"
local query = require "voucherify.query"

local orders = {}

local Orders = {}
Orders.__index = Orders

--- The API serves at most this many pages of a list.
orders.PAGE_CAP = 100
--- Most orders `import` takes in one call.
orders.IMPORT_MAX = 2000
--- Page size the iterators use when `limit` is not given.
orders.ITERATOR_LIMIT = 100

local LIST_PARAMS = query.spec { { "limit", "integer" }, { "page", "integer" }, { "order", "string" } }
local ITER_PARAMS = query.spec(LIST_PARAMS.list, { { "on_page", "function" } })

--- The orders resource of `client`.
function orders.new(client)
  return setmetatable({ client = client }, Orders)
end

--- Creates an order, or updates the one with the same `id` or `source_id` (upsert).
-- @tparam table order
-- @return order, err, response
function Orders:create(order)
  argcheck.table(order, "order", "orders:create", 2)
  local body = argcheck.body(order, "order", "orders:create", 2)
  local upsert = order.id ~= nil or order.source_id ~= nil
  return self.client:call { method = "POST", path = { "v1", "orders" }, body = body,
    idempotent = upsert }
end

--- Gets an order by Voucherify id or by source_id.
-- @tparam string id
-- @return order, err, response
function Orders:get(id)
  argcheck.id(id, "id", "orders:get", 2)
  return self.client:call { method = "GET", path = { "v1", "orders", id }, idempotent = true }
end

--- Updates an order.
-- @tparam string id Voucherify id or source_id
-- @tparam table changes the fields to change
-- @return order, err, response
function Orders:update(id, changes)
  argcheck.id(id, "id", "orders:update", 2)
  argcheck.table(changes, "changes", "orders:update", 2)
  local body = argcheck.body(changes, "changes", "orders:update", 2)
  return self.client:call { method = "PUT", path = { "v1", "orders", id }, body = body,
    idempotent = true }
end

--- Lists orders, one page.
-- @tparam[opt] table params `limit` (1-100), `page` (1-100), `order`
--   ("created_at", "-created_at", "updated_at", "-updated_at")
-- @return `{ object = "list", data_ref = "orders", orders = {...}, total = n }`, err, response
function Orders:list(params)
  params = argcheck.optional_table(params, "params", "orders:list", 2)
  query.check(LIST_PARAMS, params, "orders:list", 2)
  return self.client:call { method = "GET", path = { "v1", "orders" },
    query = query.encode(LIST_PARAMS, params),
    idempotent = true }
end

--- Imports up to 2000 orders asynchronously.
-- @tparam table list an array of orders
-- @return `{ async_action_id = "aa_..." }`, err, response
function Orders:import(list)
  argcheck.table(list, "orders", "orders:import", 2)
  argcheck.max_length(list, orders.IMPORT_MAX, "orders", "orders:import", 2)
  -- a copy marked as an array, so even {} goes out as [] and the caller's table is untouched
  local copy = json.array()
  for i = 1, #list do copy[i] = list[i] end
  local body = argcheck.body(copy, "orders", "orders:import", 2)
  return self.client:call { method = "POST", path = { "v1", "orders", "import" }, body = body, once = true }
end

--- Starts an export of orders (POST /v1/orders/export with `{ parameters = params }`).
-- @tparam[opt] table params e.g. `{ fields = { "id", "status" }, order = "-created_at", filters = {...} }`
-- @return the export object (status "SCHEDULED"), err, response
function Orders:export(params)
  params = argcheck.optional_table(params, "params", "orders:export", 2)
  local body = argcheck.body({ parameters = params }, "params", "orders:export", 2)
  return self.client:call { method = "POST", path = { "v1", "orders", "export" }, body = body }
end

local function iterator_spec(self, params, what)
  local on_page = params.on_page
  local q = {}
  for k, v in pairs(params) do q[k] = v end
  local limit = compat.tointeger(tonumber(params.limit)) or orders.ITERATOR_LIMIT
  local first = compat.tointeger(tonumber(params.page)) or 1
  local client = self.client
  return {
    what = what, items = "orders", limit = limit, page = first, cap = orders.PAGE_CAP,
    instead = "orders:export", on_page = on_page,
    fetch = function(page, lim)
      q.page, q.limit = page, lim
      return client:call { method = "GET", path = { "v1", "orders" }, query = query.encode(LIST_PARAMS, q),
        idempotent = true }
    end,
  }
end

--- Iterates over every order, page after page (lazily, one page in memory).
-- Raises the error object if a page cannot be fetched.
-- @tparam[opt] table params `limit` (page size, default 100), `page` (first page),
--   `order`, `on_page(page, info)`
function Orders:each(params)
  params = argcheck.optional_table(params, "params", "orders:each", 2)
  query.check(ITER_PARAMS, params, "orders:each", 2)
  local iter = pagination.each(iterator_spec(self, params, "orders:each"))
  return iter
end

--- Iterates over the list pages themselves (`page, info` per step).
-- @tparam[opt] table params as for `each`
function Orders:pages(params)
  params = argcheck.optional_table(params, "params", "orders:pages", 2)
  query.check(ITER_PARAMS, params, "orders:pages", 2)
  local iter = pagination.pages(iterator_spec(self, params, "orders:pages"))
  return iter
end

argcheck.methods(Orders, "orders")

return orders
