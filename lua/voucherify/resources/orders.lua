--- `client.orders`: the Orders API, declared as data (see voucherify.endpoint).
-- Every call returns `result, err, response`; iterators raise the error object.
-- @module voucherify.resources.orders

local argcheck = require "voucherify.argcheck"
local endpoint = require "voucherify.endpoint"
local page_number = require "voucherify.cursors.page_number"
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

local ID = endpoint.ID

local LIST_PARAMS = query.spec { { "limit", "integer" }, { "page", "integer" }, { "order", "string" } }
-- (on_page and prefetch stay with the iterator: the list's query spec does not send them)
local ITER_PARAMS = query.spec(LIST_PARAMS.list, { { "on_page", "function" }, { "prefetch", "integer" } })

--- The orders list, walked by page numbers up to the cap.
local LIST = { path = { "v1", "orders" }, query = LIST_PARAMS, items = "orders", cursors = { page_number },
  cap = orders.PAGE_CAP, limit = orders.ITERATOR_LIMIT, instead = "orders:export" }

--- The orders resource of `client`.
function orders.new(client)
  return setmetatable({ client = client }, Orders)
end

endpoint.define(Orders, "orders", {
  --- Creates an order, or updates the one with the same `id` or `source_id` (upsert).
  -- @function Orders:create
  -- @tparam table order
  -- @return order, err, response
  create = { "POST", { "v1", "orders" }, body = "order", upsert = true },

  --- Gets an order by Voucherify id or by source_id.
  -- @function Orders:get
  -- @tparam string id
  -- @return order, err, response
  get = { "GET", { "v1", "orders", ID } },

  --- Updates an order.
  -- @function Orders:update
  -- @tparam string id Voucherify id or source_id
  -- @tparam table changes the fields to change
  -- @return order, err, response
  update = { "PUT", { "v1", "orders", ID }, body = "changes" },

  --- Lists orders, one page.
  -- @function Orders:list
  -- @tparam[opt] table params `limit` (1-100), `page` (1-100), `order`
  --   ("created_at", "-created_at", "updated_at", "-updated_at")
  -- @return `{ object = "list", data_ref = "orders", orders = {...}, total = n }`, err, response
  list = { "GET", { "v1", "orders" }, params = LIST_PARAMS },

  --- Imports up to 2000 orders asynchronously.
  -- @function Orders:import
  -- @tparam table orders an array of orders
  -- @return `{ async_action_id = "aa_..." }`, err, response
  import = { "POST", { "v1", "orders", "import" }, body = "orders", max = orders.IMPORT_MAX, bulk = true,
    shape = endpoint.array },

  --- Starts an export of orders (POST /v1/orders/export with `{ parameters = params }`).
  -- @function Orders:export
  -- @tparam[opt] table params e.g. `{ fields = { "id", "status" }, order = "-created_at", filters = {...} }`
  -- @return the export object (status "SCHEDULED"), err, response
  export = { "POST", { "v1", "orders", "export" }, body = "params", optional = true,
    shape = function(params) return { parameters = params } end },

  --- Iterates over every order, page after page (lazily, one page in memory).
  -- Raises the error object if a page cannot be fetched.
  -- @function Orders:each
  -- @tparam[opt] table params `limit` (page size, default 100), `page` (first page),
  --   `order`, `on_page(page, info)`
  each = { each = LIST, params = ITER_PARAMS },

  --- Iterates over the list pages themselves (`page, info` per step).
  -- @function Orders:pages
  -- @tparam[opt] table params as for `each`
  pages = { pages = LIST, params = ITER_PARAMS },
})

argcheck.methods(Orders, "orders")

return orders
