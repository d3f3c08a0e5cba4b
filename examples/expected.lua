--- The examples `make demo` runs, how, and what each must print: one list
-- read by examples/run.lua (`make demo`) and by spec/examples_spec.lua (in
-- `make test`), so an example that stops working, or quietly prints wrong
-- figures, fails both.
--
-- Each entry: `name`; `command`, its words (`$LUA` is the Lua 5.4
-- interpreter, `$OUT` a directory for files the example writes, `$ROOT` the
-- checkout); `server`, the fake server's options (false: the example starts
-- its own); `env`, more environment variables; `expect`, Lua patterns that
-- must each be found in what it printed (stdout and stderr, after a newline
-- put in front, so that "\nok 1" matches the first line too).  The command
-- runs in the checkout, gets VOUCHERIFY_BASE_URL, VOUCHERIFY_APP_ID and
-- VOUCHERIFY_APP_TOKEN for a fresh fake server, and must exit 0.

return {
  {
    name = "orders_demo",
    command = { "$LUA", "examples/orders_demo.lua" },
    expect = {
      "Creating 120 orders%.%.%.\n",
      -- 2 x "Bouquet - Romantic Roses" at 45.00
      "first order: ord_%w+ %(demo%-order%-001%), total 9000\n",
      "fetched page 3: 120 of 120 orders",
      -- 96 PAID orders (every fifth is CREATED)
      "\nIterated 120 orders; PAID revenue 4296%.00\n",
      "Updated demo%-order%-005: status FULFILLED\n",
      "Looking up a missing order gives: api 404 not_found\n",
      "Started export exp_%w+ %(status SCHEDULED%)\n",
      "Orders demo done%.\n",
    },
  },
  {
    name = "customers_sync",
    command = { "$LUA", "examples/customers_sync.lua" },
    expect = {
      "DONE +100%%",
      "60 customer%(s%) imported successfully, 1 failed%.\n",
      "row 61 %(sync%-bad%) failed: [^\n]*email",
      "Iterated 60 imported customers\n",
      "Customer sync%-%d%d%d now has metadata synced_by=voucherify%-lua\n",
      "Customers per city: Kraków 12, Lisbon 12, Montréal 12, Osaka 12, Oslo 12\n",
      "Customers sync done%.\n",
    },
  },
  {
    name = "export_orders",
    command = { "$LUA", "examples/export_orders.lua", "$OUT/orders-export.csv" },
    expect = {
      "Export exp_%w+ scheduled with fields id, source_id, status, amount, created_at, metadata%.channel\n",
      "export status: DONE\n",
      "Saved [^\n]*/orders%-export%.csv: a header and 8 orders\n",
    },
  },
  {
    name = "bulk_sync",
    command = { "$LUA", "examples/bulk_sync.lua" },
    -- the plan's limit, enforced by the fake server and given to the client
    -- (the grace, 0.1 s, covers a request a loaded machine holds back between its turn and its arrival)
    server = "--latency 0.05 --rate-limit 400/1 --rate-limit-grace 0.1",
    env = { VOUCHERIFY_RATE = "400/1" },
    expect = {
      "bulk sync: %d+ orders at up to 400 per 1 s\n",
      "created %d+, failed 0 %(429s: 0%) in [%d.]+ s; the plan's floor is [%d.]+ s %([01]%.%d%dx%)\n",
    },
  },
  {
    name = "openresty",
    command = { "sh", "scripts/openresty-example.sh" },
    server = "--rate-limit 20/1 --rate-limit-grace 0.1",
    env = { VOUCHERIFY_RATE = "20/1" },
    expect = {
      'POST /orders %-> [^\n]*"source_id":"openresty%-1"',
      'POST /orders %(a list%) %-> [^\n]*"error":"bad_request"',
      'GET /orders/openresty%-1 %-> [^\n]*"total":2500',
      'GET /orders/missing%-order %-> [^\n]*"status":404',
      'GET /orders%-summary %-> [^\n]*"orders":2[,}]',
      'GET /health %-> [^\n]*"ok":true',
      -- four workers, one budget: every order of the burst made, none refused by the API
      "POST /orders x 40 at once %-> 40 created, 0 refused by the shared budget %(503%), 0 failed;"
        .. " served by [234] workers",
      "fake server %(limit 20 per 1 s%): %d+ API requests, 0 answered 429\n",
    },
  },
  {
    name = "test_my_code",
    -- a module of "your" code and its busted spec, which starts its own fake server (voucherify.testing)
    command = { "sh", "-c", 'cd examples/test_my_code && LUA_PATH="$0/lua/?.lua;$0/lua/?/init.lua;'
      .. '$0/fakeserver/?.lua;./?.lua;;" LUA_CPATH="$0/build/?.so;;" exec "$1" /usr/bin/busted -o TAP',
      "$ROOT", "$LUA" },
    server = false,
    expect = {
      "\nok 1 %- order_sync%.push sends one PAID order with the total and returns its summary\n",
      "\nok 2 %- order_sync%.push passes the API's error on\n",
      "\n1%.%.2\n",
    },
  },
}
