--- Customers sync: import customers from a CSV (with a progress line while
-- the import runs), iterate over them, tag them all with metadata in one
-- bulk call, wait for it, and print a summary.
--
-- Runs against the bundled fake server with `make demo`, or against any
-- Voucherify project (set VOUCHERIFY_BASE_URL, VOUCHERIFY_APP_ID, VOUCHERIFY_APP_TOKEN).

local voucherify = require "voucherify"

local client = voucherify.new {
  app_id = assert(os.getenv("VOUCHERIFY_APP_ID"), "set VOUCHERIFY_APP_ID"),
  app_token = assert(os.getenv("VOUCHERIFY_APP_TOKEN"), "set VOUCHERIFY_APP_TOKEN"),
  base_url = os.getenv("VOUCHERIFY_BASE_URL"),
}

local function check(result, err)
  if not result then
    io.stderr:write("customers sync failed: ", tostring(err), "\n")
    os.exit(1)
  end
  return result
end

local function progress(action)
  io.write(("\r  %-11s %3d%%"):format(action.status, action.progress or 0))
  io.flush()
end

-- 1. A CSV file like one exported from a CRM (one row has a broken email).
local cities = { "Oslo", "Lisbon", "Kraków", "Montréal", "Osaka" }
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write("Source_id,Name,Email,Address_City,Birthdate,Loyalty_tier\n")
for i = 1, 60 do
  f:write(("sync-%03d,Customer %d,customer%d@example.com,%s,19%02d-0%d-1%d,%s\n"):format(
    i, i, i, cities[i % #cities + 1], 60 + i % 40, 1 + i % 9, i % 10, i % 3 == 0 and "gold" or "silver"))
end
f:write("sync-bad,Broken Row,not-an-email,Oslo,,silver\n")
f:close()

-- 2. Import it: the file is streamed as multipart/form-data.
print("Importing customers from " .. path)
local job = check(client.customers:import_csv { path = path })
local action = check(client.async_actions:wait(job, { interval = 0.2, on_progress = progress }))
os.remove(path)
print(("\n  %s"):format(action.result.message))
for _, failure in ipairs(action.result.failed or {}) do
  print(("  row %d (%s) failed: %s"):format(failure.row, failure.source_id, failure.reason))
end

-- 3. Iterate over every imported customer (lazily, page by page).
local source_ids, by_city = {}, {}
for customer in client.customers:each { limit = 25 } do
  if customer.source_id ~= voucherify.null and customer.source_id:match("^sync%-") then
    source_ids[#source_ids + 1] = customer.source_id
    local city = type(customer.address) == "table" and customer.address.city or "?"
    by_city[city] = (by_city[city] or 0) + 1
  end
end
print(("Iterated %d imported customers"):format(#source_ids))

-- 4. Tag them all in one bulk metadata update, and wait for it.
local bulk = check(client.customers:update_metadata_in_bulk {
  source_ids = source_ids, metadata = { synced_by = "voucherify-lua", newsletter = true } })
io.write("Bulk metadata update:")
check(client.async_actions:wait(bulk, { interval = 0.2, on_progress = progress }))
print()

-- 5. Summary.
local sample = check(client.customers:get(source_ids[1]))
print(("Customer %s now has metadata synced_by=%s"):format(sample.source_id, sample.metadata.synced_by))
local cities_seen = {}
for city, n in pairs(by_city) do cities_seen[#cities_seen + 1] = ("%s %d"):format(city, n) end
table.sort(cities_seen)
print("Customers per city: " .. table.concat(cities_seen, ", "))
client:close()
print("Customers sync done.")
