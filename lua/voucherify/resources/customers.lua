--- `client.customers`: the Customers API (methods of `Customers`, called as
-- `client.customers:create(...)`).
--
-- Every call returns `result, err, response` (`voucherify.client`);
-- iterators (`each`, `pages`, `each_activity`, `each_redeemable`) raise the
-- error object instead, and yield `page, info` (`voucherify.client.PageInfo`)
-- with `pages`.  Ids are a Voucherify id or a `source_id` (an email, say),
-- sent as one percent-encoded path segment whatever they hold.  Date-time
-- parameters take an ISO 8601 string or a number of seconds since the epoch
-- (sent as ISO 8601 UTC).  Arguments are checked before any request: a wrong
-- type, an unknown parameter or a missing id raises at your line.
-- (The methods are declared as data, see voucherify.endpoint.)
-- @module voucherify.resources.customers
-- @usage
-- local c = assert(client.customers:create { source_id = "alice@example.com", name = "Alice",
--   email = "alice@example.com", metadata = { tier = "gold" } })
-- for customer in client.customers:each { city = "Oslo", created_at_after = os.time() - 86400 } do
--   print(customer.id, customer.email)
-- end

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
-- @local
customers.PAGE_CAP = 99
--- Page size the iterators use when `limit` is not given.
-- @local
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

--- The customers resource of `client` (`client.customers`).
-- @local
function customers.new(client)
  return setmetatable({ client = client }, Customers)
end

endpoint.define(Customers, "customers", {
  --- Creates a customer, or updates the one with the same `id` or `source_id`
  -- (an upsert).  POST /v1/customers.  With `id` or `source_id` the call is
  -- safe to repeat and retried like a GET; without, it is not repeated once the API
  -- may have processed it (see the retries topic).
  -- @function Customers:create
  -- @tparam table customer e.g. `{ source_id = ..., name = ..., email = ...,
  --   address = { city = ... }, metadata = {...} }`
  -- @return the customer, err, response
  -- @usage
  -- local c, err = client.customers:create { source_id = "alice@example.com", name = "Alice",
  --   email = "alice@example.com", address = { city = "Oslo" } }
  create = { "POST", { "v1", "customers" }, body = "customer", upsert = true },

  --- Gets a customer by Voucherify id or `source_id`.  GET /v1/customers/{id}.
  -- @function Customers:get
  -- @tparam string id `"cust_..."` or a source_id
  -- @return the customer, err, response
  -- @usage local c, err = client.customers:get("alice@example.com")
  get = { "GET", { "v1", "customers", ID } },

  --- Updates a customer: the fields given change.  PUT /v1/customers/{id}.
  -- @function Customers:update
  -- @tparam string id Voucherify id or source_id
  -- @tparam table changes the fields to change
  -- @return the customer, err, response
  -- @usage client.customers:update(c.id, { metadata = { tier = "platinum" } })
  update = { "PUT", { "v1", "customers", ID }, body = "changes" },

  --- Deletes a customer.  DELETE /v1/customers/{id}.
  -- @function Customers:delete
  -- @tparam string id Voucherify id or source_id
  -- @return `true` (204 No Content), err, response
  -- @usage assert(client.customers:delete(c.id))
  delete = { "DELETE", { "v1", "customers", ID } },

  --- Deletes a customer and all their data for good (GDPR).
  -- POST /v1/customers/{id}/permanent-deletion; not repeated once the API
  -- may have processed it.  Use it instead of `delete`, not after it: a
  -- customer already deleted is not found (404).
  -- @function Customers:permanently_delete
  -- @tparam string id Voucherify id or source_id
  -- @return the deletion object (`status` `"DONE"`), err, response
  -- @usage local deletion = assert(client.customers:permanently_delete(c.id))
  permanently_delete = { "POST", { "v1", "customers", ID, "permanent-deletion" } },

  --- Lists the segments a customer belongs to.  GET /v1/customers/{id}/segments.
  -- @function Customers:segments
  -- @tparam string id Voucherify id or source_id
  -- @return `{ object = "list", data_ref = "data", data = {...}, total = n }`, err, response
  -- @usage for _, seg in ipairs(assert(client.customers:segments(c.id)).data) do print(seg.name) end
  segments = { "GET", { "v1", "customers", ID, "segments" } },

  --- Lists customers, one page.  GET /v1/customers.
  -- @function Customers:list
  -- @tparam[opt] table params `limit` (1-100), `page` (1-99), `email`, `city`, `name`,
  --   `segment_id`, `created_at_before`, `created_at_after`, `updated_at_before`,
  --   `updated_at_after` (sent as `created_at[before]`, ...), `order`
  --   (`"created_at"`, `"-created_at"`, `"updated_at"`, `"-updated_at"`,
  --   `"source_id"`, `"-source_id"`), `starting_after` (a date-time),
  --   `select` (field paths, e.g. `{ "id", "customer.id" }`: a dotted path reaches
  --   into nested objects; each item of the page holds only those fields
  --   (the C decoder skips the rest without building it): items are partial)
  -- @return `{ object = "list", data_ref = "customers", customers = {...}, total = n, has_more = bool }`,
  --   err, response
  -- @usage
  -- local page = assert(client.customers:list { limit = 100, email = "alice@example.com",
  --   created_at_after = "2024-05-01T00:00:00Z", order = "-created_at" })
  -- print(page.total, #page.customers)
  list = { "GET", { "v1", "customers" }, params = LIST },

  --- Iterates over every matching customer, past the list's 99-page cap.
  -- Lazily, one page in memory; it walks with the `starting_after` date cursor and
  -- never skips or repeats customers that share a timestamp (above 9,900 in
  -- one millisecond it splits them by `updated_at` and `source_id` orders;
  -- what still cannot be reached raises `"page_limit"` naming what is left).
  -- With an order the cursor cannot walk (`source_id`), pages by number and
  -- raises `"page_limit"` past page 99.  A failure raises the error object.
  -- @function Customers:each
  -- @tparam[opt] table params as for `list` without `page`; `limit` is the
  --   page size (default 100); `on_page(page, info)` (`voucherify.client.PageInfo`),
  --   `prefetch` (pages to fetch ahead, default 0); `select` as for `list`
  --   (the items also keep `id`, `created_at` and `updated_at`, which the walk reads)
  -- @return a `voucherify.client.Iterator` yielding customers
  -- @usage
  -- for customer in client.customers:each { city = "Oslo", prefetch = 1 } do
  --   print(customer.id, customer.email)
  -- end
  each = { each = CUSTOMER_LIST, params = EACH },

  --- Iterates over the list pages `each` walks (`page, info` per step); each
  -- page's `customers` holds only customers no earlier page held.
  -- @function Customers:pages
  -- @tparam[opt] table params as for `each`
  -- @return a `voucherify.client.Iterator` yielding `page, info` (`voucherify.client.PageInfo`)
  -- @usage
  -- for page, info in client.customers:pages { limit = 100 } do
  --   print(info.page, info.count, info.fetched, info.total)
  -- end
  pages = { pages = CUSTOMER_LIST, params = EACH },

  --- One page of a customer's activity.  GET /v1/customers/{id}/activity.
  -- @function Customers:activity
  -- @tparam string id Voucherify id or source_id
  -- @tparam[opt] table params `limit`, `order`, `starting_after_id`, `start_date`,
  --   `end_date` (date-times), `campaign_id`, `campaign_type`, `category`, `type`,
  --   `select` (field paths, as for `list`: each event holds only those fields)
  -- @return `{ object = "list", data = {...}, has_more = bool, more_starting_after = id }`, err, response
  -- @usage local page = assert(client.customers:activity(c.id, { limit = 50, type = "customer.updated" }))
  activity = { "GET", { "v1", "customers", ID, "activity" }, params = ACTIVITY },

  --- Iterates over a customer's whole activity, following `more_starting_after`
  -- (sent back as `starting_after_id`).
  -- @function Customers:each_activity
  -- @tparam string id Voucherify id or source_id
  -- @tparam[opt] table params as for `activity`, plus `on_page(page, info)`, `prefetch`
  --   (with `select`, the events also keep `id`, which the walk reads)
  -- @return a `voucherify.client.Iterator` yielding activity events
  -- @usage for event in client.customers:each_activity(c.id, { start_date = 0 }) do print(event.type) end
  each_activity = { each = id_cursor_list("activity", ACTIVITY), params = EACH_ACTIVITY },

  --- One page of a customer's activities from the deprecated endpoint
  -- (GET /v1/customers/{id}/activities); prefer `activity`.
  -- @function Customers:activities
  -- @tparam string id Voucherify id or source_id
  -- @tparam[opt] table params `limit`, `order`, `starting_after`, `starting_after_id`,
  --   `campaign_type`, `campaign_id`, `product_id`, `start_date`, `end_date`
  -- @return the list page, err, response
  -- @usage local page = assert(client.customers:activities(c.id, { limit = 10 }))
  activities = { "GET", { "v1", "customers", ID, "activities" }, params = ACTIVITIES },

  --- One page of a customer's redeemables.  GET /v1/customers/{id}/redeemables.
  -- @function Customers:redeemables
  -- @tparam string id Voucherify id or source_id
  -- @tparam[opt] table params `limit`, `order` (`"id"`, `"-id"`), `starting_after_id`,
  --   `filters` (a nested table, sent as a deepObject: `filters[field][conditions][$in][0]=...`),
  --   `select` (field paths, as for `list`: each redeemable holds only those fields)
  -- @return `{ object = "list", data = {...}, total = n, has_more = bool, more_starting_after = id }`,
  --   err, response
  -- @usage
  -- local page = assert(client.customers:redeemables(c.id, { filters = {
  --   redeemable_id = { conditions = { ["$in"] = { "v_1", "v_2" } } } } }))
  redeemables = { "GET", { "v1", "customers", ID, "redeemables" }, params = REDEEMABLES },

  --- Iterates over all of a customer's redeemables, following `more_starting_after`.
  -- @function Customers:each_redeemable
  -- @tparam string id Voucherify id or source_id
  -- @tparam[opt] table params as for `redeemables`, plus `on_page(page, info)`, `prefetch`
  --   (with `select`, the redeemables also keep `id`, which the walk reads)
  -- @return a `voucherify.client.Iterator` yielding redeemables
  -- @usage for r in client.customers:each_redeemable(c.id, { limit = 100 }) do print(r.id) end
  each_redeemable = { each = id_cursor_list("redeemables", REDEEMABLES), params = EACH_REDEEMABLE },

  --- Updates (or creates) many customers by `source_id`, as an async action.
  -- POST /v1/customers/bulk/async, in the bulk rate-limit budget; not
  -- repeated once the API may have processed it.  Payloads over 10 MB get the API's 413.
  -- @function Customers:update_in_bulk
  -- @tparam table customers a list of customers, each with `source_id`
  -- @return `{ async_action_id = "aa_..." }` (for `async_actions:wait`), err, response
  -- @usage
  -- local job = assert(client.customers:update_in_bulk { { source_id = "ann", name = "Ann B." } })
  -- local action = assert(client.async_actions:wait(job))
  update_in_bulk = { "POST", { "v1", "customers", "bulk", "async" }, body = "customers", shape = endpoint.array,
    bulk = true },

  --- Sets metadata on many customers, as an async action.
  -- POST /v1/customers/metadata/async, in the bulk budget; not repeated
  -- once the API may have processed it.
  -- @function Customers:update_metadata_in_bulk
  -- @tparam table params `{ source_ids = {...}, metadata = {...} }` (both tables)
  -- @return `{ async_action_id = "aa_..." }`, err, response
  -- @usage
  -- local job = assert(client.customers:update_metadata_in_bulk {
  --   source_ids = { "ann", "bob" }, metadata = { vip = true } })
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

--- Imports customers from CSV, as an async action: POST /v1/customers/importCSV,
-- multipart/form-data with one part `file`, in the bulk budget; not
-- repeated once the API may have processed it.  A `path` that is not a readable, non-empty regular
-- file raises at your line before any request.  Voucherify maps the columns
-- `Id`, `Name`, `Email`, `Phone`, `Birthdate`, `Source_id`, `Address_line_1`,
-- `Address_line_2`, `Address_Postal_Code`, `Address_City`, `Address_State`,
-- `Address_Country`, `Description`; any other column becomes metadata.
-- @tparam table source exactly one of `{ path = "customers.csv" }` (streamed
--   from disk), `{ csv = "Name,Email\n..." }`, or `{ rows = {...}, columns =
--   {...} }` (rows are lists in column order or tables keyed by column name;
--   without `columns`, the sorted keys of all rows)
-- @return `{ async_action_id = "aa_..." }`, err, response
-- @usage
-- local job = assert(client.customers:import_csv { path = "customers.csv" })
-- client.customers:import_csv { columns = { "Source_id", "Name" },
--   rows = { { "ann", "Ann" }, { Source_id = "bob", Name = "Bob" } } }
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
