--- `client.orders`: the Orders API (methods of `Orders`, called as
-- `client.orders:create(...)`).
--
-- Every call returns `result, err, response` (`voucherify.client`);
-- iterators (`each`, `pages`) raise the error object instead.  Ids are a
-- Voucherify id or a `source_id`, sent as one percent-encoded path segment
-- whatever they hold.  Arguments are checked before any request: a wrong
-- type, an unknown parameter, a missing id or more than 2000 orders to
-- import raises at your line.  (The methods are declared as data, see
-- voucherify.endpoint.)
-- @module voucherify.resources.orders
-- @usage
-- local order = assert(client.orders:create { source_id = "web-1001", status = "PAID",
--   customer = { source_id = "alice@example.com" },
--   items = { { source_id = "sku-1", quantity = 2, price = 1500 } } })
-- assert(client.orders:update(order.id, { status = "FULFILLED" }))
-- for o in client.orders:each { limit = 100 } do print(o.id, o.status, o.amount) end

local argcheck = require "voucherify.argcheck"
local endpoint = require "voucherify.endpoint"
local page_number = require "voucherify.cursors.page_number"
local query = require "voucherify.query"

local orders = {}

local Orders = {}
Orders.__index = Orders

--- The API serves at most this many pages of a list.
-- @local
orders.PAGE_CAP = 100
--- Most orders `import` takes in one call.
-- @local
orders.IMPORT_MAX = 2000
--- Page size the iterators use when `limit` is not given.
-- @local
orders.ITERATOR_LIMIT = 100

local ID = endpoint.ID

local LIST_PARAMS = query.spec { { "limit", "integer" }, { "page", "integer" }, { "order", "string" } }
-- (on_page and prefetch stay with the iterator: the list's query spec does not send them)
local ITER_PARAMS = query.spec(LIST_PARAMS.list, { { "on_page", "function" }, { "prefetch", "integer" } })

--- The orders list, walked by page numbers up to the cap.
local LIST = { path = { "v1", "orders" }, query = LIST_PARAMS, items = "orders", cursors = { page_number },
  cap = orders.PAGE_CAP, limit = orders.ITERATOR_LIMIT, instead = "orders:export" }

--- The orders resource of `client` (`client.orders`).
-- @local
function orders.new(client)
  return setmetatable({ client = client }, Orders)
end

endpoint.define(Orders, "orders", {
  --- Creates an order, or updates the one with the same `id` or `source_id`
  -- (an upsert).  POST /v1/orders.  With `id` or `source_id` the call is safe to
  -- repeat and retried like a GET; without, it is not repeated once the API
  -- may have processed it (see the retries topic).
  -- @function Orders:create
  -- @tparam table order e.g. `{ source_id = ..., status = "PAID", customer = {...}, items = {...} }`
  -- @return the order, err, response
  -- @usage
  -- local order, err = client.orders:create { source_id = "web-1001", status = "PAID",
  --   items = { { source_id = "sku-1", quantity = 2, price = 1500 } } }
  create = { "POST", { "v1", "orders" }, body = "order", upsert = true },

  --- Gets an order by Voucherify id or by `source_id`.  GET /v1/orders/{id}.
  -- @function Orders:get
  -- @tparam string id `"ord_..."` or a source_id
  -- @return the order, err, response
  -- @usage
  -- local order, err, res = client.orders:get("web-1001")
  -- if not order and err.status == 404 then print("no such order") end
  get = { "GET", { "v1", "orders", ID } },

  --- Updates an order: the fields given change.  PUT /v1/orders/{id}.
  -- @function Orders:update
  -- @tparam string id Voucherify id or source_id
  -- @tparam table changes the fields to change
  -- @return the order, err, response
  -- @usage assert(client.orders:update(order.id, { status = "FULFILLED" }))
  update = { "PUT", { "v1", "orders", ID }, body = "changes" },

  --- Lists orders, one page.  GET /v1/orders.
  -- @function Orders:list
  -- @tparam[opt] table params `limit` (1-100), `page` (1-100), `order`
  --   (`"created_at"`, `"-created_at"`, `"updated_at"`, `"-updated_at"`),
  --   `select` (field paths, e.g. `{ "id", "customer.id" }`: a dotted path reaches
  --   into nested objects; each item of the page holds only those fields
  --   (the C decoder skips the rest without building it): items are partial)
  -- @return `{ object = "list", data_ref = "orders", orders = {...}, total = n }`, err, response
  -- @usage
  -- local page = assert(client.orders:list { limit = 100, page = 1, order = "-created_at" })
  -- print(page.total, #page.orders)
  list = { "GET", { "v1", "orders" }, params = LIST_PARAMS },

  --- Imports up to 2000 orders, as an async action.  POST /v1/orders/import,
  -- in the bulk rate-limit budget; not repeated once the API may have
  -- processed it.  More than 2000 raises before any request.
  -- @function Orders:import
  -- @tparam table orders a list of orders (sent as a JSON array, even empty)
  -- @return `{ async_action_id = "aa_..." }` (for `async_actions:wait`), err, response
  -- @usage
  -- local job = assert(client.orders:import { { source_id = "a" }, { source_id = "b" } })
  -- local action, err = client.async_actions:wait(job, { timeout = 600 })
  import = { "POST", { "v1", "orders", "import" }, body = "orders", max = orders.IMPORT_MAX, bulk = true,
    shape = endpoint.array },

  --- Starts an export of orders: POST /v1/orders/export with `{ parameters =
  -- params }`; not repeated once the API may have processed it.  The way to
  -- the full data set past the list's 100 pages.
  -- @function Orders:export
  -- @tparam[opt] table params e.g. `{ fields = { "id", "status" }, order = "-created_at", filters = {...} }`
  -- @return the export object (`status` `"SCHEDULED"`), err, response; then
  --   `exports:wait` and `exports:download`
  -- @usage
  -- local export = assert(client.orders:export { fields = { "id", "source_id", "status" } })
  -- local csv = assert(client.exports:download(export))   -- waits for it, then fetches the CSV
  export = { "POST", { "v1", "orders", "export" }, body = "params", optional = true,
    shape = function(params) return { parameters = params } end },

  --- Iterates over every order, page after page: lazily, one page in memory.
  -- The orders list serves at most 100 pages (10,000 orders at `limit = 100`):
  -- when orders remain past that, the iterator raises an error of kind
  -- `"page_limit"` that points to `orders:export`.  It stops when the `total`
  -- the API reports is reached.  A failure raises the error object.
  -- @function Orders:each
  -- @tparam[opt] table params `limit` (page size, default 100), `page` (first
  --   page), `order`, `on_page(page, info)` (`voucherify.client.PageInfo`),
  --   `prefetch` (pages to fetch ahead, default 0), `select` (as for `list`;
  --   the items also keep `id`, which the walk reads)
  -- @return a `voucherify.client.Iterator` yielding orders
  -- @usage
  -- for order in client.orders:each { limit = 100, prefetch = 4 } do
  --   print(order.id, order.status)
  -- end
  -- -- only three fields of each order are kept (and `id`)
  -- local total = {}
  -- for order in client.orders:each { select = { "amount", "status", "customer.id" } } do
  --   total[order.status] = (total[order.status] or 0) + order.amount
  -- end
  each = { each = LIST, params = ITER_PARAMS },

  --- Iterates over the list pages themselves (`page, info` per step).
  -- @function Orders:pages
  -- @tparam[opt] table params as for `each`
  -- @return a `voucherify.client.Iterator` yielding `page, info` (`voucherify.client.PageInfo`)
  -- @usage
  -- for page, info in client.orders:pages { limit = 50 } do
  --   print(("page %d: %d orders, %d of %d"):format(info.page, #page.orders, info.fetched, info.total))
  -- end
  pages = { pages = LIST, params = ITER_PARAMS },
})

argcheck.methods(Orders, "orders")

return orders
