--- `client.customers`: the Customers API, declared as data (see voucherify.endpoint).
-- Every call returns `result, err, response`; iterators raise the error object.
-- @module voucherify.resources.customers

local argcheck = require "voucherify.argcheck"
local csv = require "voucherify.csv"
local date_cursor = require "voucherify.cursors.date_cursor"
local endpoint = require "voucherify.endpoint"
local id_cursor = require "voucherify.cursors.id_cursor"
local page_number = require "voucherify.cursors.page_number"
local pipeline = require "voucherify.pipeline"
local query = require "voucherify.query"

local customers = {}

local Customers = {}
Customers.__index = Customers

--- The customers list serves at most this many pages (`each` walks past it with a cursor).
customers.PAGE_CAP = 99
--- Page size the iterators use when `limit` is not given.
customers.ITERATOR_LIMIT = 100

local ID = endpoint.ID
local ON_PAGE = { { "on_page", "function" }, { "prefetch", "integer" } }

local LIST = query.spec {
  { "limit", "integer" }, { "page", "integer" }, { "email", "string" }, { "city", "string" },
  { "name", "string" }, { "segment_id", "string" },
  { "created_at_before", "date", wire = "created_at[before]" },
  { "created_at_after", "date", wire = "created_at[after]" },
  { "updated_at_before", "date", wire = "updated_at[before]" },
  { "updated_at_after", "date", wire = "updated_at[after]" },
  { "order", "string" }, { "starting_after", "date" },
}
local EACH = query.spec(query.without(LIST, "page").list, ON_PAGE)

local ACTIVITY = query.spec {
  { "limit", "integer" }, { "order", "string" }, { "starting_after_id", "string" },
  { "start_date", "date" }, { "end_date", "date" }, { "campaign_id", "string" },
  { "campaign_type", "string" }, { "category", "string" }, { "type", "string" },
}
local EACH_ACTIVITY = query.spec(ACTIVITY.list, ON_PAGE)

local ACTIVITIES = query.spec {
  { "limit", "integer" }, { "order", "string" }, { "starting_after", "date" },
  { "starting_after_id", "string" }, { "campaign_type", "string" }, { "campaign_id", "string" },
  { "product_id", "string" }, { "start_date", "date" }, { "end_date", "date" },
}

local REDEEMABLES = query.spec {
  { "limit", "integer" }, { "order", "string" }, { "starting_after_id", "string" },
  { "filters", "deep" },
}
local EACH_REDEEMABLE = query.spec(REDEEMABLES.list, ON_PAGE)

--- The customers list: the `starting_after` date cursor for orders by a
-- date (past the page cap), page numbers up to the cap otherwise.
local CUSTOMER_LIST = { path = { "v1", "customers" }, query = LIST, items = "customers", noun = "customers",
  cursors = { date_cursor, page_number }, cap = customers.PAGE_CAP, limit = customers.ITERATOR_LIMIT,
  tie_orders = { "source_id", "-source_id" },
  instead = "a created_at or updated_at order, which the iterator can walk with a cursor" }

-- A customer's list that hands out its own next cursor (`more_starting_after`).
local function id_cursor_list(tail, set)
  return { path = { "v1", "customers", ID, tail }, query = set, items = "data", cursors = { id_cursor },
    limit = customers.ITERATOR_LIMIT }
end

--- The customers resource of `client`.
function customers.new(client)
  return setmetatable({ client = client }, Customers)
end

endpoint.define(Customers, "customers", {
  --- Creates a customer, or updates the one with the same `id` or `source_id` (upsert).
  -- @function Customers:create
  -- @tparam table customer
  -- @return customer, err, response
  create = { "POST", { "v1", "customers" }, body = "customer", upsert = true },

  --- Gets a customer by Voucherify id or source_id.
  -- @function Customers:get
  -- @tparam string id
  -- @return customer, err, response
  get = { "GET", { "v1", "customers", ID } },

  --- Updates a customer.
  -- @function Customers:update
  -- @tparam string id Voucherify id or source_id
  -- @tparam table changes
  -- @return customer, err, response
  update = { "PUT", { "v1", "customers", ID }, body = "changes" },

  --- Deletes a customer.
  -- @function Customers:delete
  -- @tparam string id Voucherify id or source_id
  -- @return true, err, response
  delete = { "DELETE", { "v1", "customers", ID } },

  --- Deletes a customer and all their data for good (GDPR).
  -- @function Customers:permanently_delete
  -- @tparam string id Voucherify id or source_id
  -- @return the deletion object (`status` "DONE"), err, response
  permanently_delete = { "POST", { "v1", "customers", ID, "permanent-deletion" } },

  --- Lists the segments a customer belongs to.
  -- @function Customers:segments
  -- @tparam string id
  -- @return `{ object = "list", data_ref = "data", data = {...}, total = n }`, err, response
  segments = { "GET", { "v1", "customers", ID, "segments" } },

  --- Lists customers, one page.
  -- @function Customers:list
  -- @tparam[opt] table params `limit` (1-100), `page` (1-99), `email`, `city`, `name`,
  --   `segment_id`, `created_at_before`, `created_at_after`, `updated_at_before`,
  --   `updated_at_after` (ISO 8601 strings or epoch seconds), `order`, `starting_after`
  -- @return `{ object = "list", data_ref = "customers", customers = {...}, total = n, has_more = bool }`,
  --   err, response
  list = { "GET", { "v1", "customers" }, params = LIST },

  --- Iterates over every matching customer (lazily, one page in memory), past
  -- the list's 99-page cap: it walks with the `starting_after` date cursor and
  -- never skips or repeats customers that share a timestamp.
  -- @function Customers:each
  -- @tparam[opt] table params as for `list` without `page`, plus `on_page(page, info)`;
  --   `limit` is the page size (default 100)
  each = { each = CUSTOMER_LIST, params = EACH },

  --- Iterates over the list pages `each` walks (`page, info` per step); each
  -- page's `customers` holds only customers no earlier page held.
  -- @function Customers:pages
  -- @tparam[opt] table params as for `each`
  pages = { pages = CUSTOMER_LIST, params = EACH },

  --- One page of a customer's activity (GET /v1/customers/{id}/activity).
  -- @function Customers:activity
  -- @tparam string id
  -- @tparam[opt] table params `limit`, `order`, `starting_after_id`, `start_date`,
  --   `end_date`, `campaign_id`, `campaign_type`, `category`, `type`
  -- @return `{ object = "list", data = {...}, has_more = bool, more_starting_after = id }`, err, response
  activity = { "GET", { "v1", "customers", ID, "activity" }, params = ACTIVITY },

  --- Iterates over a customer's whole activity, following `more_starting_after`.
  -- @function Customers:each_activity
  -- @tparam string id
  -- @tparam[opt] table params as for `activity`, plus `on_page(page, info)`
  each_activity = { each = id_cursor_list("activity", ACTIVITY), params = EACH_ACTIVITY },

  --- One page of a customer's activities from the deprecated endpoint
  -- (GET /v1/customers/{id}/activities); prefer `activity`.
  -- @function Customers:activities
  -- @tparam string id
  -- @tparam[opt] table params `limit`, `order`, `starting_after`, `starting_after_id`,
  --   `campaign_type`, `campaign_id`, `product_id`, `start_date`, `end_date`
  activities = { "GET", { "v1", "customers", ID, "activities" }, params = ACTIVITIES },

  --- One page of a customer's redeemables.
  -- @function Customers:redeemables
  -- @tparam string id
  -- @tparam[opt] table params `limit`, `order` ("id", "-id"), `starting_after_id`,
  --   `filters` (a nested table, sent as `filters[field][conditions][$in][0]=...`)
  -- @return `{ object = "list", data = {...}, total = n, has_more = bool, more_starting_after = id }`,
  --   err, response
  redeemables = { "GET", { "v1", "customers", ID, "redeemables" }, params = REDEEMABLES },

  --- Iterates over all of a customer's redeemables, following `more_starting_after`.
  -- @function Customers:each_redeemable
  -- @tparam string id
  -- @tparam[opt] table params as for `redeemables`, plus `on_page(page, info)`
  each_redeemable = { each = id_cursor_list("redeemables", REDEEMABLES), params = EACH_REDEEMABLE },

  --- Updates (or creates) many customers by source_id, as an async action.
  -- @function Customers:update_in_bulk
  -- @tparam table customers customers, each with `source_id`
  -- @return `{ async_action_id = "aa_..." }`, err, response
  update_in_bulk = { "POST", { "v1", "customers", "bulk", "async" }, body = "customers", shape = endpoint.array,
    bulk = true },

  --- Sets metadata on many customers, as an async action.
  -- @function Customers:update_metadata_in_bulk
  -- @tparam table params `{ source_ids = {...}, metadata = {...} }`
  -- @return `{ async_action_id = "aa_..." }`, err, response
  update_metadata_in_bulk = { "POST", { "v1", "customers", "metadata", "async" }, body = "params", bulk = true,
    fields = { "source_ids", "metadata" },
    shape = function(params)
      return { source_ids = endpoint.array(params.source_ids), metadata = params.metadata }
    end },
})

-- the columns of `rows` (tables keyed by column name): their string keys, sorted
local function columns_of(rows)
  local seen, columns = {}, {}
  for _, r in ipairs(rows) do
    for k in pairs(r) do
      if type(k) == "string" and not seen[k] then
        seen[k] = true
        columns[#columns + 1] = k
      end
    end
  end
  table.sort(columns)
  return columns
end

local import_check = argcheck.site("customers:import_csv")

--- Imports customers from CSV (an async action), sent as multipart/form-data
-- with one part `file`.
-- @tparam table source one of `{ path = "customers.csv" }` (streamed from disk),
--   `{ csv = "Name,Email\n..." }`, or `{ rows = {...}, columns = {...} }` (rows
--   are lists in column order or tables keyed by column name; without
--   `columns`, the sorted keys of all rows)
-- @return `{ async_action_id = "aa_..." }`, err, response
function Customers:import_csv(source)
  import_check:table(source, "source")
  local given = (source.path and 1 or 0) + (source.csv and 1 or 0) + (source.rows and 1 or 0)
  import_check:that(given == 1, "'source' needs exactly one of path, csv or rows")
  local part = { name = "file", type = "text/csv" }
  if source.path then
    import_check:file(source.path, "source.path", "rb")
    part.path = source.path
    part.filename = source.path:match("[^/]+$")
  elseif source.csv then
    import_check:that(type(source.csv) == "string", "'source.csv' must be a string")
    part.data, part.filename = source.csv, "customers.csv"
  else
    import_check:table(source.rows, "source.rows")
    local columns = source.columns
    if columns == nil then columns = columns_of(source.rows) end
    import_check:table(columns, "source.columns")
    part.data, part.filename = csv.format(columns, source.rows), "customers.csv"
  end
  return pipeline.run(self.client, { method = "POST", path = { "v1", "customers", "importCSV" },
    multipart = { part }, bulk = true })
end

argcheck.methods(Customers, "customers")

return customers
