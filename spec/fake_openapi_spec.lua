--- The fake server against the OpenAPI contract (openapi/, a copy of the shared contract, as the
-- generated voucherify.fake.openapi_schemas holds it): requests the spec
-- rejects get Voucherify's 400 naming the field (cases drawn from the schema
-- table, for every operation with a body or query parameters), valid ones
-- pass, and every response of realistic scenarios over every endpoint
-- conforms to the operation's response schema for its status.
local core = require "voucherify.core"
local json = require "voucherify.json"
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local schema = require "voucherify.fake.schema"
local router = require "voucherify.fake.router"

local data = schema.data
local defs = data.schemas

local by_id = {}
for _, op in ipairs(data.operations) do by_id[op.id] = op end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return setmetatable(out, getmetatable(v))
end

-- the operation's path with every {param} filled
local function path_of(op, id)
  return (op.path:gsub("{[^}]+}", id or "x-1"))
end

local function resolve(node)
  while node.ref do node = defs[node.ref] end
  return node
end

-- through refs and one-member allOf wrappers, to the node that says the type
local function simple(node)
  node = resolve(node)
  while node.allOf and #node.allOf == 1 and not node.type and not node.properties do
    node = resolve(node.allOf[1])
  end
  return node
end

-- the properties and required names of an object node, through allOf and refs
local function members(node, props, required)
  node = resolve(node)
  for _, m in ipairs(node.allOf or {}) do members(m, props, required) end
  for k, v in pairs(node.properties or {}) do props[k] = v end
  for _, r in ipairs(node.required or {}) do required[r] = true end
  return props, required
end

local WRONG = { string = 12345, integer = "x", number = "x", boolean = "yes", array = "x", object = "x" }
local REMOVE = {}

--- The negative cases of a body schema, against a valid body `value`: for
-- each property the schema declares (at any depth the valid body reaches), a
-- wrong type, a value outside the enum, below the minimum, above the maximum,
-- and (when required and present) its absence.
local function body_cases(node, value, keys, shown, out, depth)
  if depth > 4 or type(value) ~= "table" then return end
  if value[1] ~= nil then
    local n = simple(node)
    if n.items then
      local k = deep_copy(keys)
      k[#k + 1] = 1
      body_cases(n.items, value[1], k, shown .. "[0]", out, depth + 1)
    end
    return
  end
  local props, required = members(node, {}, {})
  for _, name in ipairs(sorted_keys(props)) do
    if name:match("^[%a_][%w_]*$") then
      local p = simple(props[name])
      local k = deep_copy(keys)
      k[#k + 1] = name
      local here = shown .. "." .. name
      local function case(set, expect)
        out[#out + 1] = { keys = k, set = set, expect = "Property " .. here .. " " .. expect }
      end
      if p.type and WRONG[p.type] ~= nil then case(WRONG[p.type], "should be " .. p.type) end
      if p.enum and p.type == "string" then
        case("NOT_AN_ALLOWED_VALUE", "should be equal to one of the allowed values")
      end
      if p.minimum then case(p.minimum - 1, "should be >= " .. p.minimum) end
      if p.maximum then case(p.maximum + 1, "should be <= " .. p.maximum) end
      if required[name] and value[name] ~= nil then case(REMOVE, "is required") end
      if value[name] ~= nil then body_cases(props[name], value[name], k, here, out, depth + 1) end
    end
  end
end

local function apply(body, keys, set)
  local copy = deep_copy(body)
  local t = copy
  for i = 1, #keys - 1 do t = t[keys[i]] end
  if set == REMOVE then t[keys[#keys]] = nil else t[keys[#keys]] = set end
  return copy
end

--- A valid body for each operation that takes JSON, and the id its path needs.
local VALID = {
  { "create-customer", { source_id = "c-1", name = "Ann Lee", email = "ann@example.com", phone = "+1 555 0100",
    birthdate = "1990-01-02", address = { city = "Paris", country = "France" }, metadata = { tier = "gold" } } },
  { "create-order", { source_id = "o-1", status = "PAID", amount = 1000, discount_amount = 0,
    items = { { product_id = "prod_1", source_id = "sku-1", related_object = "product", quantity = 2, price = 500,
      amount = 1000 } },
    customer = { source_id = "c-1", name = "Ann Lee", email = "ann@example.com", metadata = { vip = true } },
    metadata = { channel = "web" } } },
  { "update-order", { status = "FULFILLED", items = { { quantity = 1, price = 100 } } }, "o-1" },
  { "import-orders", { { source_id = "i-1", status = "CREATED", items = { { quantity = 1, price = 10 } } } } },
  { "create-order-export", { parameters = { fields = { "id", "status", "metadata.channel" },
    order = "-created_at" } } },
  { "update-customer", { name = "Bea Lee", phone = "+1 555 0101", address = { city = "Lyon" } }, "c-1" },
  { "update-customers-in-bulk", { { source_id = "c-1", name = "Ann L.", address = { city = "Nice" } } } },
  { "update-customers-metadata-in-bulk", { source_ids = { "c-1", "c-404" }, metadata = { tier = "silver" } } },
}

describe("the fake server checks requests against the OpenAPI spec", function()
  local server, http

  fake_server.suite(function(s) server = s end)
  setup(function() http = core.http_new() end)
  teardown(function() http:close() end)

  local auth = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN,
    "Content-Type: application/json" }

  local function send(method, path, body)
    local res = assert(http:perform { method = method, url = server.url .. path, headers = auth, timeout = 10,
      body = body ~= nil and assert(json.encode(body)) or nil })
    return res.status, res.body ~= "" and json.decode(res.body) or nil
  end

  it("accepts a valid body for every operation that takes JSON, unknown extra fields included", function()
    for _, case in ipairs(VALID) do
      local op = by_id[case[1]]
      local status, body = send(op.method, path_of(op, case[3]), case[2])
      assert.is_true(status < 300, case[1] .. " answered " .. status .. ": " .. tostring(body and body.details))
      if case[2][1] == nil then
        -- the spec has no additionalProperties: false, so an unknown field is not refused
        local extra = deep_copy(case[2])
        extra.not_in_the_spec = { any = "thing" }
        status = send(op.method, path_of(op, case[3]), extra)
        assert.is_true(status < 300, case[1] .. " refused an extra field: " .. status)
      end
    end
  end)

  it("accepts null for an optional field (it clears it), not for a required one", function()
    assert.are.equal(200, (send("POST", "/v1/customers", { source_id = "c-1", phone = "+1 555" })))
    local status, body = send("PUT", "/v1/customers/c-1", { phone = json.null, address = json.null })
    assert.are.equal(200, status)
    assert.is_true(body.phone == nil or body.phone == json.null) -- cleared (left out, as the API does)
    status, body = send("POST", "/v1/customers/metadata/async", { source_ids = { "c-1" }, metadata = json.null })
    assert.are.equal(400, status)
    assert.are.equal("Property .metadata should be object", body.details)
  end)

  it("refuses a wrong type, a bad enum value, an out-of-range number and a missing required field, naming it",
    function()
    local counts = { type = 0, enum = 0, range = 0, required = 0 }
    local total = 0
    for _, case in ipairs(VALID) do
      local op = by_id[case[1]]
      assert.are.equal("json", op.body_kind)
      local cases = {}
      body_cases(op.body, case[2], {}, "", cases, 0)
      assert.is_true(#cases > 0, case[1] .. " has no cases")
      for _, c in ipairs(cases) do
        local status, body = send(op.method, path_of(op, case[3]), apply(case[2], c.keys, c.set))
        assert.are.equal(400, status, case[1] .. ": " .. c.expect)
        assert.are.equal(400, body.code)
        assert.are.equal("invalid_payload", body.key)
        assert.are.equal("Invalid payload", body.message)
        assert.is_string(body.request_id)
        assert.truthy(body.details:find(c.expect, 1, true), case[1] .. ": expected " .. c.expect .. ", got "
          .. body.details)
        assert.are.same({}, schema.check_response(op, status, body))
        local what = c.expect:match("should be >=") and "range" or c.expect:match("should be <=") and "range"
          or c.expect:match("allowed values") and "enum" or c.expect:match("is required") and "required" or "type"
        counts[what] = counts[what] + 1
        total = total + 1
      end
    end
    -- every kind of case was drawn from the table
    for what, n in pairs(counts) do assert.is_true(n > 0, "no " .. what .. " case") end
    assert.is_true(total > 100, "only " .. total .. " cases")
  end)

  it("refuses an order item with price \"x\" or quantity -1, and a body of the wrong shape", function()
    local status, body = send("POST", "/v1/orders", { items = { { price = "x", quantity = 1 } } })
    assert.are.equal(400, status)
    assert.are.equal("Property .items[0].price should be integer", body.details)
    status, body = send("POST", "/v1/orders", { items = { { price = 100, quantity = -1 } } })
    assert.are.equal(400, status)
    assert.are.equal("Property .items[0].quantity should be >= 1", body.details)
    status, body = send("POST", "/v1/orders/import", { source_id = "not-an-array" })
    assert.are.equal(400, status)
    assert.are.equal("Request body should be array", body.details)
    status, body = send("POST", "/v1/customers/metadata/async", {})
    assert.are.equal(400, status)
    assert.truthy(body.details:find("Property .source_ids is required", 1, true), body.details)
    -- the first problem in property order is the one named
    status, body = send("POST", "/v1/customers", { email = 5, birthdate = "yesterday" })
    assert.are.equal(400, status)
    assert.are.equal("Property .birthdate should match format \"date\"", body.details)
    status, body = send("POST", "/v1/orders", { created_at = "not a date" })
    assert.are.equal(400, status)
    assert.are.equal("Property .created_at should match format \"date-time\"", body.details)
    -- a float that is a whole number is an integer, as JSON Schema says
    status = send("POST", "/v1/orders", { items = { { price = 100.0, quantity = 1 } } })
    assert.are.equal(200, status)
  end)

  it("refuses bad query parameters of every operation that has them, naming them", function()
    local checked = 0
    for _, op in ipairs(data.operations) do
      for _, p in ipairs(op.query) do
        local n = simple(p.schema)
        local bad = {}
        if n.type == "integer" then
          bad[#bad + 1] = { "abc", "should be integer" }
          if n.minimum then bad[#bad + 1] = { tostring(n.minimum - 1), "should be >= " .. n.minimum } end
          if n.maximum then bad[#bad + 1] = { tostring(n.maximum + 1), "should be <= " .. n.maximum } end
        elseif n.enum then
          bad[#bad + 1] = { "NOT_AN_ALLOWED_VALUE", "should be equal to one of the allowed values" }
        elseif n.format == "date-time" then
          bad[#bad + 1] = { "last-tuesday", "should match format \"date-time\"" }
        end
        for _, b in ipairs(bad) do
          local path = path_of(op, "c-1") .. "?" .. p.name:gsub("[%[%]]", function(c)
            return ("%%%02X"):format(c:byte())
          end) .. "=" .. b[1]
          local status, body = send(op.method, path)
          assert.are.equal(400, status, op.id .. " " .. path)
          assert.are.equal("invalid_query_params", body.key)
          assert.are.equal(("Property .%s %s"):format(p.name, b[2]),
            body.details:sub(1, #("Property ." .. p.name .. " " .. b[2])))
          checked = checked + 1
        end
      end
    end
    assert.is_true(checked >= 30, "only " .. checked .. " query cases")
    -- valid values pass
    local status = send("GET", "/v1/customers?limit=5&page=2&order=-created_at&created_at%5Bafter%5D="
      .. "2024-01-01T00:00:00.000Z")
    assert.are.equal(200, status)
  end)

  it("checks before the handler: a missing resource with a bad body is a 400, not a 404", function()
    local status, body = send("PUT", "/v1/orders/ord_missing", { status = "LOST" })
    assert.are.equal(400, status)
    assert.truthy(body.details:find("Property .status should be equal to one of the allowed values", 1, true))
    status = send("PUT", "/v1/orders/ord_missing", { status = "PAID" })
    assert.are.equal(404, status)
  end)
end)

describe("the fake server's validator", function()
  it("passes every request and response example of the spec (answers of the real API)", function()
    package.path = "scripts/openapi/?.lua;" .. package.path
    local spec = require("loader").load("openapi/voucherify-orders-customers.json")
    local checked, problems = 0, {}
    for _, op in ipairs(spec:operations()) do
      local entry = by_id[op.id]
      local raw = spec.doc.paths[op.path][op.method:lower()]
      local function each_example(content, fn)
        local c = content and content["application/json"]
        for name, ex in pairs(c and c.examples or {}) do
          checked = checked + 1
          for _, p in ipairs(fn(spec:resolve(ex).value)) do
            problems[#problems + 1] = ("%s %s: %s"):format(op.id, name, schema.describe(p, "Body"))
          end
        end
      end
      if raw.requestBody then
        each_example(spec:resolve(raw.requestBody).content, function(v) return schema.check_body(entry, v) end)
      end
      for status, r in pairs(raw.responses) do
        each_example(spec:resolve(r).content, function(v)
          return schema.check_response(entry, tonumber(status), v)
        end)
      end
    end
    assert.are.same({}, problems)
    assert.is_true(checked >= 30, "only " .. checked .. " examples")
  end)

  it("reports each problem with its path, within a bound, for hostile values", function()
    local node = { type = "object", required = { "a" }, additionalProperties = false,
      properties = { a = { type = "integer", minimum = 0 }, b = { type = "array", items = { type = "string" } },
        c = { nullable = true, type = "string", format = "date" } } }
    assert.are.same({}, schema.validate(node, { a = 1, b = json.array { "x" }, c = json.null }))
    assert.are.same({ { path = ".a", message = "is required" } }, schema.validate(node, {}))
    assert.are.same({ { path = ".zz", message = "is not allowed" } }, schema.validate(node, { a = 1, zz = 1 }))
    assert.are.same({ { path = ".b[1]", message = "should be string" } },
      schema.validate(node, { a = 1, b = json.array { "x", 2 } }))
    assert.are.same({ { path = ".c", message = "should match format \"date\"" } },
      schema.validate(node, { a = 1, c = "2024-1-1" }))
    assert.are.same({ { path = ".a", message = "should be integer" } }, schema.validate(node, { a = json.null }))
    -- a huge wrong array gives a bounded list of problems
    local many = json.array {}
    for i = 1, 10000 do many[i] = i end
    assert.are.equal(schema.MAX_PROBLEMS, #schema.validate(node, { a = 1, b = many }))
    -- a deeply nested value does not overflow the stack
    local deep = { type = "object", properties = {} }
    deep.properties.x = deep
    local v = {}
    local cur = v
    for _ = 1, 5000 do
      cur.x = {}
      cur = cur.x
    end
    assert.are.same({}, schema.validate(deep, v))
    -- oneOf passes when one branch does, else reports the closest branch
    local either = { oneOf = { { type = "string" }, { type = "object", required = { "id", "name" } },
      { type = "object", required = { "id" } } } }
    assert.are.same({}, schema.validate(either, "s"))
    assert.are.same({}, schema.validate(either, { id = 1 }))
    assert.are.same({ { path = ".id", message = "is required" } }, schema.validate(either, {}))
  end)

  it("in a strict router, answers 500 naming the drift of a response from the operation's schema", function()
    local strict = router.new { strict = true }
    local answer = { id = "ord_1", object = "order", status = "LOST" }
    strict:add("GET", "/v1/orders/{id}", function() return 200, answer end)
    local handler = strict:match("GET", "/v1/orders/ord_1")
    local status, body = handler({ query = {} }, { params = { id = "ord_1" } })
    assert.are.equal(500, status)
    assert.are.equal("response_schema", body.key)
    assert.truthy(body.details:find("get-order answered 200: Property .status should be equal to one of the "
      .. "allowed values", 1, true), body.details)
    answer.status = "PAID"
    status, body = handler({ query = {} }, { params = { id = "ord_1" } })
    assert.are.equal(200, status)
    assert.are.equal(answer, body)
    -- not strict (the default): the response goes out as the handler made it
    local lax = router.new()
    answer.status = "LOST"
    lax:add("GET", "/v1/orders/{id}", function() return 200, answer end)
    status = lax:match("GET", "/v1/orders/ord_1")({ query = {} }, { params = { id = "ord_1" } })
    assert.are.equal(200, status)
  end)
end)

describe("every response of the fake server conforms to the OpenAPI spec", function()
  local server, client
  local seen, problems = {}, {}

  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  before_each(function() problems = {} end)

  -- validates one call's response against operation `id` and returns the call's values
  local function checked(id, result, err, res)
    assert(res, id .. ": no response: " .. tostring(err))
    local op = assert(by_id[id], id)
    local body = result
    if err then body = err.body and err.body ~= "" and json.decode(err.body) or nil end
    if body == true then body = nil end -- 204
    local content_type = res.headers["content-type"]
    if type(body) == "string" then content_type = nil end
    for _, p in ipairs(schema.check_response(op, res.status, body, content_type)) do
      problems[#problems + 1] = ("%s %d: %s"):format(id, res.status, schema.describe(p, "Response body"))
    end
    seen[id .. " " .. res.status] = true
    seen[id] = true
    return result, err, res
  end

  local function no_drift()
    assert.are.same({}, problems)
  end

  -- polls through the library, checking every answer on the way
  local function wait_action(job)
    local action = checked("get-async-action", client.async_actions:get(job.async_action_id))
    local done = client.async_actions:wait(job, { interval = 0.005, on_progress = function(a)
      for _, p in ipairs(schema.validate({ ref = "AsyncActionGetResponseBody" }, a, "")) do
        problems[#problems + 1] = "get-async-action (poll): " .. schema.describe(p, "Response body")
      end
    end })
    assert.are.equal("DONE", done.status)
    return checked("get-async-action", client.async_actions:get(action.id))
  end

  it("orders: create, get, update, list", function()
    local order = checked("create-order", client.orders:create { source_id = "web-1", status = "PAID",
      items = { { source_id = "sku-1", quantity = 2, price = 1500 }, { product_id = "prod_2", quantity = 1,
        price = 100 } },
      customer = { source_id = "ann@example.com", name = "Ann Lee", email = "ann@example.com" },
      referrer = { source_id = "bob@example.com", name = "Bob" },
      metadata = { channel = "web" } })
    checked("create-order", client.orders:create { source_id = "web-1", status = "FULFILLED" }) -- upsert
    checked("create-order", client.orders:create { amount = 500 }) -- no source_id, no items
    checked("get-order", client.orders:get(order.id))
    checked("get-order", client.orders:get("web-1"))
    checked("update-order", client.orders:update(order.id, { status = "CANCELED", metadata = { note = "x" } }))
    checked("list-orders", client.orders:list())
    checked("list-orders", client.orders:list { limit = 1, page = 2, order = "-created_at" })
    checked("list-orders", client.orders:list { page = 100 }) -- past the data: an empty page
    -- the customer the order made is a whole customer
    checked("get-customer", client.customers:get("ann@example.com"))
    checked("get-customer", client.customers:get("bob@example.com"))
    no_drift()
  end)

  it("orders: import through to DONE, export through to the download", function()
    local job = checked("import-orders", client.orders:import { { source_id = "i-1", amount = 100,
      customer = { source_id = "cust-i", name = "Imported" } }, { source_id = "i-2", status = "PAID",
      items = { { quantity = 1, price = 10 } } } })
    wait_action(job)
    checked("get-customer", client.customers:get("cust-i"))
    local exp = checked("create-order-export", client.orders:export { fields = { "id", "source_id", "status" } })
    checked("create-order-export", client.orders:export())
    checked("get-export", client.exports:get(exp.id))
    local done = client.exports:wait(exp, { interval = 0.005 })
    checked("get-export", client.exports:get(done.id))
    local csv, err = client.exports:download(done)
    assert.is_nil(err)
    assert.truthy(csv:find("id", 1, true))
    seen["download-export"] = true
    no_drift()
  end)

  it("customers: create, get, update, list, delete, permanent deletion", function()
    local c = checked("create-customer", client.customers:create { source_id = "c-1", name = "Ann Lee",
      email = "Ann@Example.com", phone = "+1 555 0100", birthdate = "1990-01-02",
      address = { city = "Paris", country = "France", postal_code = "75001" }, metadata = { tier = "gold" } })
    checked("create-customer", client.customers:create { source_id = "c-1", description = "upserted" })
    checked("create-customer", client.customers:create { name = "No Source" })
    checked("get-customer", client.customers:get(c.id))
    checked("update-customer", client.customers:update("c-1", { metadata = { tier = "silver" }, phone = "+1" }))
    checked("list-customers", client.customers:list())
    checked("list-customers", client.customers:list { email = "ann@example.com", limit = 5 })
    checked("list-customers", client.customers:list { created_at_after = "2000-01-01T00:00:00Z",
      order = "-created_at" })
    checked("list-customers", client.customers:list { city = "Nowhere" })
    checked("delete-customer", client.customers:delete(c.id))
    local other = checked("create-customer", client.customers:create { source_id = "c-2" })
    checked("customer-permanently-deletion", client.customers:permanently_delete(other.id))
    no_drift()
  end)

  it("customers: activity, activities, redeemables, segments", function()
    local c = checked("create-customer", client.customers:create { source_id = "c-1", name = "Ann" })
    checked("update-customer", client.customers:update(c.id, { name = "Ann Lee" }))
    checked("create-order", client.orders:create { source_id = "o-1", customer = { id = c.id }, amount = 100 })
    checked("list-customer-activity", client.customers:activity(c.id))
    checked("list-customer-activity", client.customers:activity(c.id, { limit = 1 }))
    checked("list-customer-activities", client.customers:activities(c.id))
    checked("list-customer-redeemables", client.customers:redeemables(c.id))
    server:seed_redeemables(c.id, 3)
    checked("list-customer-redeemables", client.customers:redeemables(c.id))
    checked("list-customer-redeemables", client.customers:redeemables(c.id, { limit = 2 }))
    checked("list-customer-segments", client.customers:segments(c.id))
    server:set_segments(c.id, { { id = "seg_1", name = "VIP" } })
    checked("list-customer-segments", client.customers:segments(c.id))
    no_drift()
  end)

  it("customers: CSV import, bulk and metadata updates through to DONE", function()
    wait_action(checked("import-customers-using-csv", client.customers:import_csv {
      csv = "source_id,name,email\ncsv-1,Ann,ann@example.com\ncsv-2,Bob,bob@example.com\n" }))
    checked("get-customer", client.customers:get("csv-1"))
    wait_action(checked("update-customers-in-bulk", client.customers:update_in_bulk {
      { source_id = "csv-1", name = "Ann B." }, { source_id = "bulk-new", email = "new@example.com" } }))
    wait_action(checked("update-customers-metadata-in-bulk", client.customers:update_metadata_in_bulk {
      source_ids = { "csv-1", "missing-1" }, metadata = { tier = "gold" } }))
    checked("get-customer", client.customers:get("csv-1"))
    no_drift()
  end)

  it("errors: 404 for every resource, 400, 401 and 429 have the API's error shape", function()
    checked("get-order", client.orders:get("ord_missing"))
    checked("update-order", client.orders:update("ord_missing", { status = "PAID" }))
    checked("get-customer", client.customers:get("cust_missing"))
    checked("update-customer", client.customers:update("cust_missing", { name = "x" }))
    checked("delete-customer", client.customers:delete("cust_missing"))
    checked("customer-permanently-deletion", client.customers:permanently_delete("cust_missing"))
    checked("list-customer-activity", client.customers:activity("cust_missing"))
    checked("list-customer-activities", client.customers:activities("cust_missing"))
    checked("list-customer-redeemables", client.customers:redeemables("cust_missing"))
    checked("list-customer-segments", client.customers:segments("cust_missing"))
    checked("get-async-action", client.async_actions:get("aa_missing"))
    checked("get-export", client.exports:get("exp_missing"))
    checked("create-order", client.orders:create { status = "NOT_A_STATUS" })
    checked("create-order-export", client.orders:export { fields = { "nope" } })
    checked("import-orders", client.orders:import { { amount = "x" } })
    checked("list-orders", client.orders:list { limit = 0 })
    local wrong = voucherify.new(server:client_options { app_token = "wrong", max_retries = 0 })
    checked("list-orders", wrong.orders:list())
    checked("create-customer", wrong.customers:create { source_id = "x" })
    wrong:close()
    server:faults { { status = 429 } }
    checked("list-customers", client.customers:list())
    no_drift()
  end)

  it("drove every operation of the spec", function()
    for _, op in ipairs(data.operations) do
      assert.is_true(seen[op.id] == true, op.id .. " was not exercised")
    end
  end)
end)
