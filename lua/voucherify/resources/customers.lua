--- `client.customers`: the Customers API.
-- Every call returns `result, err, response`; iterators raise the error object.
-- @module voucherify.resources.customers

local argcheck = require "voucherify.argcheck"
local compat = require "voucherify.compat"
local csv = require "voucherify.csv"
local date_cursor = require "voucherify.date_cursor"
local json = require "voucherify.json"
local pagination = require "voucherify.pagination"
local query = require "voucherify.query"

local customers = {}

local Customers = {}
Customers.__index = Customers

--- The customers list serves at most this many pages (`each` walks past it with a cursor).
customers.PAGE_CAP = 99
--- Page size the iterators use when `limit` is not given.
customers.ITERATOR_LIMIT = 100

local ON_PAGE = { { "on_page", "function" } }

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

--- The customers resource of `client`.
function customers.new(client)
  return setmetatable({ client = client }, Customers)
end

local function get_call(self, path, set, params)
  return self.client:call { method = "GET", path = path, query = set and query.encode(set, params),
    idempotent = true }
end

--- Creates a customer, or updates the one with the same `id` or `source_id` (upsert).
-- @tparam table customer
-- @return customer, err, response
function Customers:create(customer)
  argcheck.table(customer, "customer", "customers:create", 2)
  local body = argcheck.body(customer, "customer", "customers:create", 2)
  return self.client:call { method = "POST", path = { "v1", "customers" }, body = body,
    idempotent = customer.id ~= nil or customer.source_id ~= nil }
end

--- Gets a customer by Voucherify id or source_id.
-- @tparam string id
-- @return customer, err, response
function Customers:get(id)
  argcheck.id(id, "id", "customers:get", 2)
  return get_call(self, { "v1", "customers", id })
end

--- Updates a customer.
-- @tparam string id Voucherify id or source_id
-- @tparam table changes
-- @return customer, err, response
function Customers:update(id, changes)
  argcheck.id(id, "id", "customers:update", 2)
  argcheck.table(changes, "changes", "customers:update", 2)
  local body = argcheck.body(changes, "changes", "customers:update", 2)
  return self.client:call { method = "PUT", path = { "v1", "customers", id }, body = body,
    idempotent = true }
end

--- Deletes a customer.
-- @tparam string id Voucherify id or source_id
-- @return true, err, response
function Customers:delete(id)
  argcheck.id(id, "id", "customers:delete", 2)
  return self.client:call { method = "DELETE", path = { "v1", "customers", id }, idempotent = true }
end

--- Deletes a customer and all their data for good (GDPR).
-- @tparam string id Voucherify id or source_id
-- @return the deletion object (`status` "DONE"), err, response
function Customers:permanently_delete(id)
  argcheck.id(id, "id", "customers:permanently_delete", 2)
  return self.client:call { method = "POST", path = { "v1", "customers", id, "permanent-deletion" } }
end

--- Lists the segments a customer belongs to.
-- @tparam string id
-- @return `{ object = "list", data_ref = "data", data = {...}, total = n }`, err, response
function Customers:segments(id)
  argcheck.id(id, "id", "customers:segments", 2)
  return get_call(self, { "v1", "customers", id, "segments" })
end

--- Lists customers, one page.
-- @tparam[opt] table params `limit` (1-100), `page` (1-99), `email`, `city`, `name`,
--   `segment_id`, `created_at_before`, `created_at_after`, `updated_at_before`,
--   `updated_at_after` (ISO 8601 strings or epoch seconds), `order`, `starting_after`
-- @return `{ object = "list", data_ref = "customers", customers = {...}, total = n, has_more = bool }`, err, response
function Customers:list(params)
  params = argcheck.optional_table(params, "params", "customers:list", 2)
  query.check(LIST, params, "customers:list", 2)
  return get_call(self, { "v1", "customers" }, LIST, params)
end

local function iterator(self, params)
  local base = {}
  for k, v in pairs(params) do if k ~= "on_page" then base[k] = v end end
  local limit = compat.tointeger(tonumber(params.limit)) or customers.ITERATOR_LIMIT
  local function fetch(overrides)
    local q = {}
    for k, v in pairs(base) do q[k] = v end
    -- false: leave the caller's parameter out (e.g. their cursor in a window)
    for k, v in pairs(overrides) do
      if v == false then q[k] = nil else q[k] = v end
    end
    return get_call(self, { "v1", "customers" }, LIST, q)
  end
  if date_cursor.field_for(params.order) then
    return date_cursor.pages { what = "customers:each", noun = "customers", fetch = fetch, items = "customers",
      limit = limit, order = params.order, cap = customers.PAGE_CAP, tie_orders = { "source_id", "-source_id" },
      starting_after = base.starting_after, on_page = params.on_page }
  end
  -- orders without a date cursor (source_id): page numbers, up to the cap
  return pagination.pages { what = "customers:each", items = "customers", limit = limit, page = 1,
    cap = customers.PAGE_CAP, on_page = params.on_page,
    instead = "a created_at or updated_at order, which the iterator can walk with a cursor",
    fetch = function(page, lim) return fetch { page = page, limit = lim } end }
end

--- Iterates over every matching customer (lazily, one page in memory), past
-- the list's 99-page cap: it walks with the `starting_after` date cursor and
-- never skips or repeats customers that share a timestamp.
-- @tparam[opt] table params as for `list` without `page`, plus `on_page(page, info)`;
--   `limit` is the page size (default 100)
function Customers:each(params)
  params = argcheck.optional_table(params, "params", "customers:each", 2)
  query.check(EACH, params, "customers:each", 2)
  local iter = pagination.items(iterator(self, params), "customers")
  return iter
end

--- Iterates over the list pages `each` walks (`page, info` per step); each
-- page's `customers` holds only customers no earlier page held.
function Customers:pages(params)
  params = argcheck.optional_table(params, "params", "customers:pages", 2)
  query.check(EACH, params, "customers:pages", 2)
  local iter = iterator(self, params)
  return iter
end

--- One page of a customer's activity (GET /v1/customers/{id}/activity).
-- @tparam string id
-- @tparam[opt] table params `limit`, `order`, `starting_after_id`, `start_date`,
--   `end_date`, `campaign_id`, `campaign_type`, `category`, `type`
-- @return `{ object = "list", data = {...}, has_more = bool, more_starting_after = id }`, err, response
function Customers:activity(id, params)
  params = query.id_and_params(ACTIVITY, id, params, "customers:activity", 2)
  return get_call(self, { "v1", "customers", id, "activity" }, ACTIVITY, params)
end

local function id_cursor_iter(self, id, path_tail, set, params, what)
  local base = {}
  for k, v in pairs(params) do if k ~= "on_page" then base[k] = v end end
  base.limit = base.limit or customers.ITERATOR_LIMIT
  return pagination.id_cursor_pages {
    what = what, items = "data", on_page = params.on_page, cursor = base.starting_after_id,
    fetch = function(cursor)
      base.starting_after_id = cursor
      return get_call(self, { "v1", "customers", id, path_tail }, set, base)
    end,
  }
end

--- Iterates over a customer's whole activity, following `more_starting_after`.
-- @tparam string id
-- @tparam[opt] table params as for `activity`, plus `on_page(page, info)`
function Customers:each_activity(id, params)
  params = query.id_and_params(EACH_ACTIVITY, id, params, "customers:each_activity", 2)
  local iter = pagination.items(id_cursor_iter(self, id, "activity", ACTIVITY, params,
    "customers:each_activity"), "data")
  return iter
end

--- One page of a customer's activities from the deprecated endpoint
-- (GET /v1/customers/{id}/activities); prefer `activity`.
-- @tparam string id
-- @tparam[opt] table params `limit`, `order`, `starting_after`, `starting_after_id`,
--   `campaign_type`, `campaign_id`, `product_id`, `start_date`, `end_date`
function Customers:activities(id, params)
  params = query.id_and_params(ACTIVITIES, id, params, "customers:activities", 2)
  return get_call(self, { "v1", "customers", id, "activities" }, ACTIVITIES, params)
end

--- One page of a customer's redeemables.
-- @tparam string id
-- @tparam[opt] table params `limit`, `order` ("id", "-id"), `starting_after_id`,
--   `filters` (a nested table, sent as `filters[field][conditions][$in][0]=...`)
-- @return `{ object = "list", data = {...}, total = n, has_more = bool, more_starting_after = id }`, err, response
function Customers:redeemables(id, params)
  params = query.id_and_params(REDEEMABLES, id, params, "customers:redeemables", 2)
  return get_call(self, { "v1", "customers", id, "redeemables" }, REDEEMABLES, params)
end

--- Iterates over all of a customer's redeemables, following `more_starting_after`.
function Customers:each_redeemable(id, params)
  params = query.id_and_params(EACH_REDEEMABLE, id, params, "customers:each_redeemable", 2)
  local iter = pagination.items(id_cursor_iter(self, id, "redeemables", REDEEMABLES, params,
    "customers:each_redeemable"), "data")
  return iter
end

--- Imports customers from CSV (an async action), sent as multipart/form-data
-- with one part `file`.
-- @tparam table source one of `{ path = "customers.csv" }` (streamed from disk),
--   `{ csv = "Name,Email\n..." }`, or `{ rows = {...}, columns = {...} }` (rows
--   are lists in column order or tables keyed by column name; without
--   `columns`, the sorted keys of all rows)
-- @return `{ async_action_id = "aa_..." }`, err, response
function Customers:import_csv(source)
  local where = "customers:import_csv"
  argcheck.table(source, "source", where, 2)
  local given = (source.path and 1 or 0) + (source.csv and 1 or 0) + (source.rows and 1 or 0)
  argcheck.check(given == 1, "'source' needs exactly one of path, csv or rows", where, 2)
  local part = { name = "file", type = "text/csv" }
  if source.path then
    argcheck.file(source.path, "rb", "source.path", where, 2)
    part.path = source.path
    part.filename = source.path:match("[^/]+$")
  elseif source.csv then
    argcheck.check(type(source.csv) == "string", "'source.csv' must be a string", where, 2)
    part.data, part.filename = source.csv, "customers.csv"
  else
    argcheck.table(source.rows, "source.rows", where, 2)
    local columns = source.columns
    if columns == nil then
      local seen = {}
      columns = {}
      for _, r in ipairs(source.rows) do
        for k in pairs(r) do
          if type(k) == "string" and not seen[k] then seen[k] = true columns[#columns + 1] = k end
        end
      end
      table.sort(columns)
    end
    argcheck.table(columns, "source.columns", where, 2)
    part.data, part.filename = csv.format(columns, source.rows), "customers.csv"
  end
  return self.client:call { method = "POST", path = { "v1", "customers", "importCSV" },
    multipart = { part }, once = true }
end

--- Updates (or creates) many customers by source_id, as an async action.
-- @tparam table list customers, each with `source_id`
-- @return `{ async_action_id = "aa_..." }`, err, response
function Customers:update_in_bulk(list)
  argcheck.table(list, "customers", "customers:update_in_bulk", 2)
  local copy = json.array()
  for i = 1, #list do copy[i] = list[i] end
  local body = argcheck.body(copy, "customers", "customers:update_in_bulk", 2)
  return self.client:call { method = "POST", path = { "v1", "customers", "bulk", "async" }, body = body,
    once = true }
end

--- Sets metadata on many customers, as an async action.
-- @tparam table params `{ source_ids = {...}, metadata = {...} }`
-- @return `{ async_action_id = "aa_..." }`, err, response
function Customers:update_metadata_in_bulk(params)
  local where = "customers:update_metadata_in_bulk"
  argcheck.table(params, "params", where, 2)
  argcheck.table(params.source_ids, "params.source_ids", where, 2)
  argcheck.table(params.metadata, "params.metadata", where, 2)
  local ids = json.array()
  for i = 1, #params.source_ids do ids[i] = params.source_ids[i] end
  local body = argcheck.body({ source_ids = ids, metadata = params.metadata }, "params", where, 2)
  return self.client:call { method = "POST", path = { "v1", "customers", "metadata", "async" }, body = body,
    once = true }
end

argcheck.methods(Customers, "customers")

return customers
