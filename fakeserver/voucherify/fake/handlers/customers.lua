--- /v1/customers: create (upsert), get, update, delete, permanent deletion,
-- list (filters, date cursor), activity, activities, redeemables, segments,
-- CSV import, bulk and metadata updates.
-- @module voucherify.fake.handlers.customers

local json = require "voucherify.json"
local csv = require "voucherify.csv"
local datetime = require "voucherify.datetime"
local api_error = require "voucherify.fake.api_error"
local jobs = require "voucherify.fake.jobs"
local multipart = require "voucherify.fake.multipart"
local query = require "voucherify.fake.query"
local state_mod = require "voucherify.fake.state"

local null, array, array_mt = json.null, json.array, json.array_mt

-- the API gateway's limit for the bulk endpoints
local BULK_MAX_BYTES = 10 * 1024 * 1024

local WRITABLE = { source_id = true, name = true, description = true, email = true, phone = true,
  birthday = true, birthdate = true, address = true, metadata = true }
-- the fields the API sends as null rather than leaving them out
local NULLABLE = { address = true }

local function is_object(v) return type(v) == "table" and getmetatable(v) ~= array_mt end

local function validate(c, path)
  if not is_object(c) then return (path ~= "" and path or "Request body") .. " should be object" end
  for _, f in ipairs({ "source_id", "name", "description", "email", "phone" }) do
    if c[f] ~= nil and c[f] ~= null and type(c[f]) ~= "string" then
      return ("Property %s.%s should be string"):format(path, f)
    end
  end
  if type(c.email) == "string" and c.email ~= "" and not c.email:match("^[^@%s]+@[^@%s]+$") then
    return ("Property %s.email should match format \"email\""):format(path)
  end
  for _, f in ipairs({ "birthdate", "birthday" }) do
    if type(c[f]) == "string" and not c[f]:match("^%d%d%d%d%-%d%d%-%d%d$") then
      return ("Property %s.%s should match format \"date\""):format(path, f)
    end
  end
  -- null clears the metadata (to {})
  if c.metadata ~= nil and c.metadata ~= null and not is_object(c.metadata) then
    return ("Property %s.metadata should be object"):format(path)
  end
  if c.address ~= nil and c.address ~= null and not is_object(c.address) then
    return ("Property %s.address should be object"):format(path)
  end
  return nil
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

-- An activity event as the API's: `data.data` holds the customer as it was
-- then, `data.event_source` who made the change.
local function record_event(state, customer, type_)
  local events = state.customer_events[customer.id]
  if not events then
    events = {}
    state.customer_events[customer.id] = events
  end
  events[#events + 1] = {
    id = state.events:new_id(), type = type_, created_at = state_mod.now(state),
    group_id = api_error.request_id(),
    data = { data = { customer = copy(customer) }, event_source = { channel = "API" } },
  }
end

-- Sets the writable fields `changes` gives; `metadata` replaces the
-- customer's (as an update does) or, with `merge_metadata`, adds its keys
-- (as the metadata bulk update does).  A null clears a field: the API then
-- leaves it out (or sends null, for the nullable ones).
local function apply(customer, changes, merge_metadata)
  for k, v in pairs(changes) do
    if WRITABLE[k] then
      if k == "metadata" and merge_metadata and is_object(v) then
        customer.metadata = customer.metadata or {}
        for mk, mv in pairs(v) do customer.metadata[mk] = mv end
      elseif v == null and not NULLABLE[k] then
        customer[k] = k == "metadata" and {} or nil
      else
        customer[k] = copy(v)
      end
    end
  end
end

local function new_customer(state)
  local now = state_mod.now(state)
  return {
    id = state.customers:new_id(), object = "customer",
    metadata = {}, system_metadata = {}, created_at = now, updated_at = now,
    summary = {
      redemptions = { total_redeemed = 0, total_failed = 0, total_succeeded = 0, total_rolled_back = 0,
        total_rollback_failed = 0, total_rollback_succeeded = 0,
        gift = { redeemed_amount = 0, amount_to_go = 0 },
        loyalty_card = { redeemed_points = 0, points_to_go = 0 } },
      orders = { total_amount = 0, total_count = 0, average_amount = 0, last_order_amount = 0 },
    },
    loyalty = { points = 0, referred_customers = 0, campaigns = {} },
    referrals = { total = 0, campaigns = array() },
  }
end

--- Creates or updates (by id, then source_id) a customer.
-- @return status, body
local function upsert(state, body)
  local existing = state.customers:upsert_target(body)
  if existing == false then return api_error.not_found("customer", body.id) end
  if existing then
    local old = existing.source_id
    apply(existing, body)
    existing.updated_at = state_mod.now(state)
    state.customers:reindex(existing, old)
    record_event(state, existing, "customer.updated")
    return 200, existing
  end
  local c = new_customer(state)
  apply(c, body)
  state.customers:insert(c)
  record_event(state, c, "customer.created")
  return 200, c
end

local function find(ctx)
  local c = ctx.state.customers:find(ctx.params.id)
  if not c then return nil, api_error.not_found("customer", ctx.params.id) end
  return c
end

local function create(_, ctx)
  local why = validate(ctx.json_body, "")
  if why then return api_error.invalid_payload(why) end
  return upsert(ctx.state, ctx.json_body)
end

local function get(_, ctx)
  local c, status, body = find(ctx)
  if not c then return status, body end
  return 200, c
end

local function update(_, ctx)
  local c, status, body = find(ctx)
  if not c then return status, body end
  local why = validate(ctx.json_body, "")
  if why then return api_error.invalid_payload(why) end
  local old = c.source_id
  apply(c, ctx.json_body)
  c.updated_at = state_mod.now(ctx.state)
  ctx.state.customers:reindex(c, old)
  record_event(ctx.state, c, "customer.updated")
  return 200, c
end

local function delete(_, ctx)
  local c, status, body = find(ctx)
  if not c then return status, body end
  ctx.state.customers:remove(c)
  return 204
end

local function permanent_deletion(_, ctx)
  local c, status, body = find(ctx)
  if not c then return status, body end
  local events = ctx.state.customer_events[c.id] or {}
  ctx.state.customers:remove(c)
  ctx.state.customer_events[c.id] = nil
  return 200, {
    id = "del_" .. ctx.state.customers:new_id():sub(6), created_at = state_mod.now(ctx.state),
    related_object_id = c.id, related_object = "customer", status = "DONE", object = "pernament_deletion",
    data_json = { events = #events, customer_events = #events, daily_events = 0, segments = 0,
      orders = 0, order_events = 0, customer = 1 },
  }
end

local function segments(_, ctx)
  local c, status, body = find(ctx)
  if not c then return status, body end
  local list = array()
  for i, s in ipairs(ctx.state.segments_of[c.id] or {}) do
    list[i] = { id = s.id, name = s.name or s.id, object = "segment" }
  end
  return 200, { object = "list", data_ref = "data", data = list, total = #list }
end

-- query value as epoch ms, or nil, status, body
local function date_param(req, name)
  local raw = query.get(req, name)
  if raw == nil then return nil end
  local ms = datetime.parse(raw)
  if not ms then
    return nil, api_error.invalid_query(("Property .%s should match format \"date-time\""):format(name))
  end
  return ms
end

local CUSTOMER_ORDERS = { "created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id" }

-- Parsed date-times, remembered: a list request looks at every customer's
-- two timestamps, and thousands of customers often share a few of them.
local parsed, parsed_count = {}, 0
local function ms_of(v)
  if type(v) ~= "string" then return nil end
  local ms = parsed[v]
  if ms == nil then
    if parsed_count >= 100000 then parsed, parsed_count = {}, 0 end
    ms = datetime.parse(v) or false
    parsed[v], parsed_count = ms, parsed_count + 1
  end
  return ms or nil
end

local function list(req, ctx)
  local limit, s, b = query.integer(req, "limit", 1, 100, 10)
  if s then return s, b end
  local page
  page, s, b = query.integer(req, "page", 1, 99, 1)
  if s then return s, b end
  local order
  order, s, b = query.enum(req, "order", CUSTOMER_ORDERS)
  if s then return s, b end
  local bounds = {}
  for _, name in ipairs({ "created_at[before]", "created_at[after]", "updated_at[before]",
    "updated_at[after]", "starting_after" }) do
    bounds[name], s, b = date_param(req, name)
    if s then return s, b end
  end
  local email, city, name = query.get(req, "email"), query.get(req, "city"), query.get(req, "name")
  email = email and email:lower() -- the API matches emails whatever their case
  local segment_id = query.get(req, "segment_id")

  -- the cursor: ascending orders go "after" it, the others "before" it; a
  -- customer without the cursor's timestamp (never updated) is on neither side
  local cursor_field = (order == "updated_at" or order == "-updated_at") and "updated_at" or "created_at"
  local after_cursor = order == "created_at" or order == "updated_at"
  local cursor = bounds.starting_after
  local c_before, c_after = bounds["created_at[before]"], bounds["created_at[after]"]
  local u_before, u_after = bounds["updated_at[before]"], bounds["updated_at[after]"]

  local function in_segment(c)
    for _, seg in ipairs(ctx.state.segments_of[c.id] or {}) do
      if seg.id == segment_id then return true end
    end
    return false
  end

  local matching, total = {}, 0
  for _, c in ipairs(ctx.state.customers:sorted(order or "-created_at")) do
    local created, updated = ms_of(c.created_at), ms_of(c.updated_at)
    local ok = (email == nil or (type(c.email) == "string" and c.email:lower() == email))
      and (city == nil or (type(c.address) == "table" and c.address.city == city))
      and (name == nil or c.name == name)
      and (segment_id == nil or in_segment(c))
      and (c_before == nil or (created and created < c_before))
      and (c_after == nil or (created and created > c_after))
      and (u_before == nil or (updated and updated < u_before))
      and (u_after == nil or (updated and updated > u_after))
    if ok then
      total = total + 1
      local v = cursor_field == "updated_at" and updated or created
      if cursor == nil or (v and ((after_cursor and v > cursor) or (not after_cursor and v < cursor))) then
        matching[#matching + 1] = c
      end
    end
  end
  local out = array()
  local first = (page - 1) * limit + 1
  for i = first, math.min(first + limit - 1, #matching) do out[#out + 1] = matching[i] end
  return 200, { object = "list", data_ref = "customers", customers = out, total = total,
    has_more = first + limit - 1 < #matching }
end

-- A window of `items` after the `starting_after_id` cursor.
local function cursor_page(items, limit, after_id)
  local start = 1
  if after_id then
    start = #items + 1
    for i, item in ipairs(items) do
      if item.id == after_id then start = i + 1 break end
    end
  end
  local out = array()
  for i = start, math.min(start + limit - 1, #items) do out[#out + 1] = items[i] end
  local has_more = start + limit - 1 < #items
  return out, has_more
end

local function sorted_events(ctx, c, order)
  local events = {}
  for i, e in ipairs(ctx.state.customer_events[c.id] or {}) do events[i] = e end
  if order == "-created_at" then
    local n = #events
    for i = 1, n // 2 do events[i], events[n - i + 1] = events[n - i + 1], events[i] end
  end
  return events
end

-- The customer in the path, and the `limit` and `order` of a page of one of
-- its sub-lists.
-- @return customer, limit, order; or nil, status, body (the 404 or 400 to answer)
local function customer_page(req, ctx, allowed_orders)
  local c, s, b = find(ctx)
  if not c then return nil, s, b end
  local limit, order
  limit, s, b = query.integer(req, "limit", 1, 100, 10)
  if s then return nil, s, b end
  order, s, b = query.enum(req, "order", allowed_orders)
  if s then return nil, s, b end
  return c, limit, order
end

local function activity(req, ctx)
  local c, limit, order = customer_page(req, ctx, { "created_at", "-created_at" })
  if not c then return limit, order end
  local s, b
  local start_ms, end_ms
  start_ms, s, b = date_param(req, "start_date")
  if s then return s, b end
  end_ms, s, b = date_param(req, "end_date")
  if s then return s, b end
  local type_ = query.get(req, "type")
  local campaign = query.get(req, "campaign_id") or query.get(req, "campaign_type")
  local selected = {}
  for _, e in ipairs(sorted_events(ctx, c, order or "-created_at")) do
    local t = datetime.parse(e.created_at)
    if (type_ == nil or e.type == type_) and campaign == nil
      and (start_ms == nil or t >= start_ms) and (end_ms == nil or t <= end_ms) then
      selected[#selected + 1] = e
    end
  end
  local data, has_more = cursor_page(selected, limit, query.get(req, "starting_after_id"))
  return 200, { object = "list", data_ref = "data", data = data, has_more = has_more,
    more_starting_after = has_more and data[#data].id or nil }
end

local ACTIVITIES_ORDERS = { "created_at", "-created_at", "updated_at", "-updated_at", "type", "-type",
  "code", "-code", "campaign", "-campaign", "category", "-category" }

local function activities(req, ctx)
  local c, limit, order = customer_page(req, ctx, ACTIVITIES_ORDERS)
  if not c then return limit, order end
  local s, b
  local after
  after, s, b = date_param(req, "starting_after")
  if s then return s, b end
  local all = sorted_events(ctx, c, order == "created_at" and "created_at" or "-created_at")
  local selected = {}
  for _, e in ipairs(all) do
    if after == nil or datetime.parse(e.created_at) > after then selected[#selected + 1] = e end
  end
  local data = cursor_page(selected, limit, query.get(req, "starting_after_id"))
  return 200, { object = "list", data_ref = "data", data = data, total = #selected }
end

-- filters[a][b][c]=v query pairs -> nested table
-- @return the table (nil when there is no such parameter); or nil and why
--   (a malformed name, or one that gives a key both a value and keys below it)
local function deep_object(req, root)
  local out
  for _, pair in ipairs(req.query) do
    local rest = pair[1]:match("^" .. root .. "(%[.*)$")
    if rest then
      out = out or {}
      local node, keys = out, {}
      if rest:gsub("%[[^%[%]]*%]", "") ~= "" then return nil, ("Malformed query parameter %s"):format(pair[1]) end
      for k in rest:gmatch("%[([^%]]*)%]") do keys[#keys + 1] = k end
      for i = 1, #keys do
        local k = keys[i]
        if i == #keys then
          if type(node[k]) == "table" then return nil, ("Query parameter %s has keys below it"):format(pair[1]) end
          node[k] = pair[2] -- the last one given wins
        else
          node[k] = node[k] or {}
          if type(node[k]) ~= "table" then
            return nil, ("Query parameter %s has keys below a value"):format(pair[1])
          end
          node = node[k]
        end
      end
    end
  end
  return out
end

local function values_of(t)
  local vals = {}
  if type(t) ~= "table" then return { t } end
  for _, v in pairs(t) do vals[#vals + 1] = v end
  return vals
end

local function matches(record, filters)
  local results, junction = {}, (filters.junction or "and"):lower()
  for field, spec in pairs(filters) do
    if field ~= "junction" then
      local conditions = type(spec) == "table" and spec.conditions or {}
      for op, arg in pairs(conditions) do
        local v = tostring(record[field])
        local set = {}
        for _, x in ipairs(values_of(arg)) do set[x] = true end
        if op == "$in" or op == "$is" then results[#results + 1] = set[v] == true
        elseif op == "$not_in" or op == "$is_not" then results[#results + 1] = not set[v]
        else return nil, ("Unsupported filter condition %s"):format(op) end
      end
    end
  end
  for _, r in ipairs(results) do
    if junction == "or" and r then return true end
    if junction ~= "or" and not r then return false end
  end
  return junction ~= "or" or #results == 0
end

local function redeemables(req, ctx)
  local c, limit, order = customer_page(req, ctx, { "id", "-id" })
  if not c then return limit, order end
  local filters, bad_filter = deep_object(req, "filters")
  if bad_filter then return api_error.invalid_query(bad_filter) end
  local all = {}
  for _, r in ipairs(ctx.state.redeemables:sorted(order or "id")) do
    if r.customer_id == c.id then
      local ok = true
      if filters then
        local why
        ok, why = matches(r, filters)
        if ok == nil then return api_error.invalid_query(why) end
      end
      if ok then all[#all + 1] = r end
    end
  end
  local data, has_more = cursor_page(all, limit, query.get(req, "starting_after_id"))
  return 200, { object = "list", data_ref = "data", data = data, total = #all, has_more = has_more,
    more_starting_after = has_more and data[#data].id or nil }
end

-- CSV columns (case-insensitive) -> customer fields
local CSV_COLUMNS = {
  id = "id", name = "name", email = "email", phone = "phone", birthdate = "birthdate",
  source_id = "source_id", description = "description",
  address_line_1 = "address.line_1", address_line_2 = "address.line_2",
  address_postal_code = "address.postal_code", address_city = "address.city",
  address_state = "address.state", address_country = "address.country",
}

local function import_csv(req, ctx)
  local parts, why = multipart.parse(req.body, req.headers["content-type"])
  if not parts then return api_error.invalid_payload(why) end
  local file
  for _, p in ipairs(parts) do
    if p.name == "file" then file = p end
  end
  if not file then return api_error.invalid_payload("Multipart part 'file' is required") end
  local rows, csv_err = csv.parse(file.data)
  if not rows then return api_error.invalid_payload("Invalid CSV: " .. csv_err) end
  local header = table.remove(rows, 1) or {}
  -- the answers hold what the file holds: as JSON, so UTF-8
  for _, column in ipairs(header) do
    if not utf8.len(column) then return api_error.invalid_payload("Invalid CSV: the header is not UTF-8 text") end
  end
  local failed, done = array(), 0
  for i, row in ipairs(rows) do
    local c, id, text = {}, nil, true
    for _, value in ipairs(row) do text = text and utf8.len(value) ~= nil end
    for j, column in ipairs(header) do
      local value = row[j]
      local field = CSV_COLUMNS[column:lower()]
      if value ~= nil and value ~= "" then
        if field == "id" then id = value
        elseif field and field:match("^address%.") then
          c.address = c.address or {}
          c.address[field:sub(9)] = value
        elseif field then c[field] = value
        else
          c.metadata = c.metadata or {}
          c.metadata[column] = value
        end
      end
    end
    if id then c.id = id end
    local reason = not text and ("Row %d is not UTF-8 text"):format(i) or validate(c, "")
    local status, result
    if not reason then
      status, result = upsert(ctx.state, c)
      if status ~= 200 then reason = result.details end
    end
    if reason then
      failed[#failed + 1] = { source_id = text and c.source_id or "", row = i, reason = reason }
    else
      done = done + 1
    end
  end
  local action = jobs.async_action(ctx.state, "CUSTOMERS.IMPORT_CSV", {
    message = ("%d customer(s) imported successfully, %d failed."):format(done, #failed),
    failed = failed, done_count = done, failed_count = #failed,
  })
  return 202, { async_action_id = action.id }
end

local function update_in_bulk(_, ctx)
  local body = ctx.json_body
  if getmetatable(body) ~= array_mt then return api_error.invalid_payload("Request body should be array") end
  local errors, done, rows = array(), 0, {}
  for i, c in ipairs(body) do
    local why = validate(c, ("[%d]"):format(i - 1))
    if not why and type(c.source_id) ~= "string" then
      why = ("Property [%d].source_id is required"):format(i - 1)
    end
    local source_id = type(c) == "table" and type(c.source_id) == "string" and c.source_id or ""
    if why then
      errors[#errors + 1] = { key = "invalid_payload", message = "Invalid payload", details = why,
        source_id = source_id }
      rows[#rows + 1] = { source_id, "FAILED", why }
    else
      upsert(ctx.state, c)
      done = done + 1
      rows[#rows + 1] = { source_id, "SUCCESS", "" }
    end
  end
  local action = jobs.async_action(ctx.state, "CUSTOMERS.BULK_UPDATE", {
    done_count = done, failed_count = #errors, errors = errors, reports = array(),
    reports_available_till = datetime.format(state_mod.now_ms(ctx.state) + 7 * 86400000),
  }, csv.format({ "source_id", "status", "details" }, rows))
  return 202, { async_action_id = action.id }
end

local function update_metadata_in_bulk(_, ctx)
  local body = ctx.json_body
  if not is_object(body) or getmetatable(body.source_ids) ~= array_mt or not is_object(body.metadata) then
    return api_error.invalid_payload("Request body should have source_ids (array) and metadata (object)")
  end
  local errors, done = array(), 0
  for _, sid in ipairs(body.source_ids) do
    local c = type(sid) == "string" and ctx.state.customers.by_source_id[sid]
    if c then
      apply(c, { metadata = body.metadata }, true)
      c.updated_at = state_mod.now(ctx.state)
      record_event(ctx.state, c, "customer.updated")
      done = done + 1
    else
      errors[#errors + 1] = { key = "not_found", message = "Resource not found",
        details = ("Cannot find customer with source_id %s"):format(tostring(sid)),
        source_id = type(sid) == "string" and sid or json.encode(sid) or "" }
    end
  end
  local action = jobs.async_action(ctx.state, "CUSTOMERS.METADATA_UPDATE",
    { errors = errors, done_count = done, failed_count = #errors })
  return 202, { async_action_id = action.id }
end

-- the keys of a customer's address
local ADDRESS_KEYS = { city = true, country = true, line_1 = true, line_2 = true, postal_code = true, state = true }

-- the keys a seeded customer may have
local SEED_KEYS = { id = true, created_at = true, updated_at = true }
for k in pairs(WRITABLE) do SEED_KEYS[k] = true end

-- nil when seeded customer `fields` (entry `i`) can be added, else why not
local function check_seed(state, fields, i, ids)
  local where = ("customers[%d]"):format(i - 1)
  if not is_object(fields) then return where .. " should be object" end
  local unknown = {}
  for k in pairs(fields) do
    if not SEED_KEYS[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown > 0 then
    table.sort(unknown)
    return ("%s: unknown key(s) %s"):format(where, table.concat(unknown, ", "))
  end
  local why = validate(fields, where)
  if why then return why end
  if is_object(fields.address) then
    local bad = {}
    for k in pairs(fields.address) do
      if not ADDRESS_KEYS[k] then bad[#bad + 1] = tostring(k) end
    end
    if #bad > 0 then
      table.sort(bad)
      return ("%s.address: unknown key(s) %s; an address has city, country, line_1, line_2, postal_code, state")
        :format(where, table.concat(bad, ", "))
    end
  end
  if type(fields.source_id) == "string" and state.customers.by_source_id[fields.source_id] then
    return ("%s: source_id %s exists"):format(where, fields.source_id)
  end
  if fields.id ~= nil then
    if type(fields.id) ~= "string" or fields.id == "" then return where .. ".id should be a string" end
    if state.customers.by_id[fields.id] or ids[fields.id] then
      return ("%s: id %s exists"):format(where, fields.id)
    end
    ids[fields.id] = true
  end
  for _, f in ipairs({ "created_at", "updated_at" }) do
    local v = fields[f]
    if v ~= nil and v ~= null and not (type(v) == "string" and datetime.parse(v)) then
      return ("%s.%s should be a date-time or null"):format(where, f)
    end
  end
  return nil
end

--- Adds customers as given, for tests (POST /_fake/customers): each entry may
-- set `id`, `created_at` and `updated_at` (an ISO 8601 string, or null for a
-- customer never updated; both default to now) besides the writable fields.
-- @return true, or nil and why
local function seed(state, entries)
  local ids = {}
  for i, fields in ipairs(entries) do
    local why = check_seed(state, fields, i, ids)
    if why then return nil, why end
  end
  for _, fields in ipairs(entries) do
    local c = new_customer(state)
    apply(c, fields)
    if fields.id ~= nil then c.id = fields.id end
    if fields.created_at ~= nil then c.created_at = fields.created_at end
    if fields.updated_at == null then c.updated_at = nil
    elseif fields.updated_at ~= nil then c.updated_at = fields.updated_at end
    state.customers:insert(c)
  end
  return true
end

--- The customer an order names inline (`{ id }` or `{ source_id, name,
-- email, ... }`), created when new, with the fields given: a full customer,
-- as the API makes one.
-- @return the customer's id, or nil when the order names none
local function from_order(state, party)
  if not is_object(party) then return nil end
  if type(party.id) == "string" then return party.id end
  if type(party.source_id) ~= "string" then return nil end
  local fields = {}
  for k, v in pairs(party) do
    if WRITABLE[k] then fields[k] = v end
  end
  if validate(fields, "") then fields = { source_id = party.source_id } end
  local c = state.customers:find(party.source_id)
  if c then
    -- an order that names a known customer with more than its source_id updates it
    local changes = false
    for k in pairs(fields) do changes = changes or k ~= "source_id" end
    if changes then
      apply(c, fields)
      c.updated_at = state_mod.now(state)
      record_event(state, c, "customer.updated")
    end
    return c.id
  end
  c = new_customer(state)
  apply(c, fields)
  state.customers:insert(c)
  record_event(state, c, "customer.created")
  return c.id
end

local function routes(router)
  router:add("POST", "/v1/customers", create)
  router:add("GET", "/v1/customers", list)
  -- the async bulk actions draw on the bulk budget (voucherify.fake.limits)
  router:add("POST", "/v1/customers/importCSV", import_csv, { bulk = true })
  router:add("POST", "/v1/customers/bulk/async", update_in_bulk, { max_body = BULK_MAX_BYTES, bulk = true })
  router:add("POST", "/v1/customers/metadata/async", update_metadata_in_bulk,
    { max_body = BULK_MAX_BYTES, bulk = true })
  router:add("GET", "/v1/customers/{id}", get)
  router:add("PUT", "/v1/customers/{id}", update)
  router:add("DELETE", "/v1/customers/{id}", delete)
  router:add("POST", "/v1/customers/{id}/permanent-deletion", permanent_deletion)
  router:add("GET", "/v1/customers/{id}/segments", segments)
  router:add("GET", "/v1/customers/{id}/activity", activity)
  router:add("GET", "/v1/customers/{id}/activities", activities)
  router:add("GET", "/v1/customers/{id}/redeemables", redeemables)
end

--- Registers the customers routes when called with the router; `seed` is
-- the test-control API's way in, `from_order` the orders', `copy` a deep copy.
return setmetatable({ seed = seed, from_order = from_order, copy = copy },
  { __call = function(_, router) return routes(router) end })
