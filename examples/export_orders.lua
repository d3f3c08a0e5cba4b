--- Export orders with chosen fields and save the CSV.
--
--   lua5.4 examples/export_orders.lua [output.csv]
--
-- Runs against the bundled fake server with `make demo` (it creates a few
-- orders first), or against any Voucherify project.

local voucherify = require "voucherify"

local client = voucherify.new {
  app_id = assert(os.getenv("VOUCHERIFY_APP_ID"), "set VOUCHERIFY_APP_ID"),
  app_token = assert(os.getenv("VOUCHERIFY_APP_TOKEN"), "set VOUCHERIFY_APP_TOKEN"),
  base_url = os.getenv("VOUCHERIFY_BASE_URL"),
}

local function check(result, err)
  if not result then
    io.stderr:write("export failed: ", tostring(err), "\n")
    os.exit(1)
  end
  return result
end

local output = arg[1] or "orders-export.csv"

-- A few orders to export (upserts, so re-running does not duplicate them).
for i = 1, 8 do
  check(client.orders:create { source_id = ("export-demo-%d"):format(i), status = i % 3 == 0 and "CREATED" or "PAID",
    amount = 1000 * i, metadata = { channel = i % 2 == 0 and "web" or "store" } })
end

local fields = { "id", "source_id", "status", "amount", "created_at", "metadata.channel" }
local export = check(client.orders:export { fields = fields, order = "-created_at" })
print(("Export %s scheduled with fields %s"):format(export.id, table.concat(fields, ", ")))

local path = check(client.exports:download(export, { path = output, interval = 0.2,
  on_progress = function(e) print("  export status: " .. e.status) end }))

local rows = 0
for _ in io.lines(path) do rows = rows + 1 end
print(("Saved %s: a header and %d orders"):format(path, rows - 1))
client:close()
