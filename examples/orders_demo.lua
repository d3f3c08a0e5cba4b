--- The orders tour: create orders, iterate them with a progress line, update
-- one, start an export, and print what happened.
--
-- Runs against the bundled fake server with `make demo`, or against any
-- Voucherify project:
--   VOUCHERIFY_BASE_URL=https://api.voucherify.io VOUCHERIFY_APP_ID=... \
--   VOUCHERIFY_APP_TOKEN=... lua5.4 examples/orders_demo.lua

local voucherify = require "voucherify"

local client = voucherify.new {
  app_id = assert(os.getenv("VOUCHERIFY_APP_ID"), "set VOUCHERIFY_APP_ID"),
  app_token = assert(os.getenv("VOUCHERIFY_APP_TOKEN"), "set VOUCHERIFY_APP_TOKEN"),
  base_url = os.getenv("VOUCHERIFY_BASE_URL"),
  channel = "voucherify-lua demo",
}

local function check(result, err)
  if not result then
    io.stderr:write("demo failed: ", tostring(err), "\n")
    os.exit(1)
  end
  return result
end

local products = {
  { "Bouquet - Romantic Roses", 4500 }, { "Vase - Boho Vintage", 2900 },
  { "Greeting card", 350 }, { "Chocolate box", 1200 },
}

-- 1. Create orders (upserts: running the demo twice updates the same orders).
local N = 120
print(("Creating %d orders..."):format(N))
local first
for i = 1, N do
  local p = products[(i - 1) % #products + 1]
  local order = check(client.orders:create {
    source_id = ("demo-order-%03d"):format(i),
    status = i % 5 == 0 and "CREATED" or "PAID",
    customer = { source_id = ("demo-customer-%02d"):format(i % 17) },
    items = { { source_id = "sku-" .. (i % #products + 1), quantity = 1 + i % 3, price = p[2],
      product = { name = p[1] } } },
    metadata = { channel = i % 2 == 0 and "web" or "store", gift = i % 7 == 0 },
  })
  first = first or order
end
print(("  first order: %s (%s), total %d"):format(first.id, first.source_id, first.total_amount))

-- 2. Iterate every order, page by page, with a progress line.
local count, paid_total = 0, 0
for order in client.orders:each { limit = 50, on_page = function(_, info)
  io.write(("\r  fetched page %d: %d of %d orders"):format(info.page, info.fetched, info.total))
  io.flush()
end } do
  count = count + 1
  if order.status == "PAID" then paid_total = paid_total + order.total_amount end
end
print(("\nIterated %d orders; PAID revenue %.2f"):format(count, paid_total / 100))

-- 3. Update one order, by its source_id.
local updated = check(client.orders:update("demo-order-005", { status = "FULFILLED",
  metadata = { note = "shipped by the demo" } }))
print(("Updated %s: status %s"):format(updated.source_id, updated.status))

-- 4. Errors are values: a missing order is a 404 error object.
local _, err = client.orders:get("demo-order-does-not-exist")
print(("Looking up a missing order gives: %s"):format(err.kind .. " " .. err.status .. " " .. err.key))

-- 5. Start an export of the orders.
local export = check(client.orders:export { fields = { "id", "source_id", "status", "total_amount" },
  order = "-created_at" })
print(("Started export %s (status %s)"):format(export.id, export.status))

client:close()
print("Orders demo done.")
