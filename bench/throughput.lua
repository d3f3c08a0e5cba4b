--- `make bench`, throughput section: many requests at once within a rate
-- limit, against the fake server answering after 50 ms and allowing 100
-- requests per second, as ratios to the floor the limit or the latency sets,
-- measured in one run (a report, not a timed test):
--
--   (1) N `orders:create` one after the other (floor N x latency), then with
--       `client:map`, concurrency 16, the limiter set to the server's limit
--       (floor N / rate; goal: within 1.1x, no 429);
--   (2) the same N split over 2 processes sharing one budget in Redis, and
--       over the 4 workers of an nginx sharing one in a shared dictionary
--       (goal: within 1.15x of N / rate, no 429);
--   (3) `orders:each` over 5,000 orders with `prefetch = 4` and without:
--       time, and peak memory (Lua heap and RSS) beside one page's.
--
--   lua5.4 bench/throughput.lua [LUAJIT_BUILD_DIR (for nginx; default build/luajit)]
--   BENCH_THROUGHPUT_N=200 (default 1000)   BENCH_THROUGHPUT=0 skips it all
--
-- The runners other than this process start together at a moment of the
-- monotonic clock they all share; each one's share is bench/throughput_share.lua.
package.path = "./?.lua;lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local LATENCY, REQUESTS, PER = 0.05, 100, 1
local RATE = REQUESTS / PER
local CONCURRENCY = 16
local EACH_ORDERS, PAGE_SIZE, PREFETCH = 5000, 100, 4
local APP_ID, APP_TOKEN = "bench-app-id", "bench-app-token"
local LUA = arg[-1] or "lua5.4"

local core = require "voucherify.core"
local json = require "voucherify.json"
local voucherify = require "voucherify"
local share = require "bench.throughput_share"

local function client_for(url, extra)
  local opts = { app_id = APP_ID, app_token = APP_TOKEN, base_url = url,
    rate_limit = { requests = REQUESTS, per = PER } }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return voucherify.new(opts)
end

-- the peak resident set of this process so far (KB), from the kernel
local function vm_hwm()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then return tonumber(kb) end
  end
end

-- Child processes: the same script, asked for one job; the answer is one line on stdout.
local CHILD = {}

-- one of the processes sharing a budget in Redis: ARGS port url start first step n
function CHILD.redis(port, url, start, first, step, n)
  local redis = assert(require("support.redis_server").client())
  local client = client_for(url, { rate_limit = { requests = REQUESTS, per = PER,
    store = voucherify.rate_limit.redis(function()
      return redis.connect { host = "127.0.0.1", port = tonumber(port), timeout = 1 }
    end) } })
  print(share.format(share.create(client, { first = tonumber(first), step = tonumber(step), n = tonumber(n),
    start = tonumber(start), concurrency = CONCURRENCY })))
end

-- a walk over every order (`prefetch` "0" or more), or one page ("page"): seconds, heap and RSS peaks
function CHILD.each(url, prefetch)
  local client = client_for(url)
  collectgarbage()
  local heap, seen, bytes = collectgarbage("count"), 0, 0
  local t0 = core.monotime()
  if prefetch == "page" then
    local page = assert(client.orders:list { limit = PAGE_SIZE })
    seen = #page.orders
    heap = math.max(heap, collectgarbage("count"))
    bytes = #assert(json.encode(page))
  else
    -- prefetch = 0 is the default: left out, the walk is exactly the plain one
    local n = tonumber(prefetch)
    for _ in client.orders:each { limit = PAGE_SIZE, prefetch = n > 0 and n or nil } do
      seen = seen + 1
      heap = math.max(heap, collectgarbage("count"))
    end
  end
  print(("seconds %.6f heap %.0f rss %d seen %d bytes %d"):format(core.monotime() - t0, heap, vm_hwm(), seen,
    bytes))
end

if arg[1] == "--child" then
  CHILD[arg[2]](table.unpack(arg, 3))
  os.exit(0)
end

if os.getenv("BENCH_THROUGHPUT") == "0" then
  print("\nthroughput section skipped (BENCH_THROUGHPUT=0)")
  os.exit(0)
end
local N = math.tointeger(tonumber(os.getenv("BENCH_THROUGHPUT_N") or "1000"))
assert(N and N >= 1, "BENCH_THROUGHPUT_N must be a positive integer")
-- nginx loads the C core built for LuaJIT
local LUAJIT_BUILD = arg[1] or "build/luajit"

local function log(fmt, ...)
  io.stderr:write(("throughput: " .. fmt .. "\n"):format(...))
end

-- a command's output, raising when it fails
local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  if not ok then error("failed: " .. cmd .. "\n" .. out, 2) end
  return out
end

local function child_command(...)
  local words = { LUA, "bench/throughput.lua", "--child", ... }
  for i, w in ipairs(words) do words[i] = "'" .. tostring(w) .. "'" end
  return table.concat(words, " ")
end

-- Things started, stopped however the run ends (last started, first stopped).
local running = {}

-- The fake server, with the latency and the limit; `control` reaches its control API.
local function start_fake_server()
  local pipe = assert(io.popen(("exec %s fakeserver/bin/voucherify-fake-server --port 0 --app-id %s --app-token %s"
    .. " --latency %g --rate-limit %d/%d"):format(LUA, APP_ID, APP_TOKEN, LATENCY, REQUESTS, PER)))
  local line = pipe:read("l")
  local url = line and line:match("listening on (https?://%S+)")
  if not url then
    pipe:close()
    error("the fake server did not start: " .. tostring(line))
  end
  local server = { url = url, http = core.http_new() }
  function server.control(method, path, body)
    local res = assert(server.http:perform { method = method, url = url .. path, timeout = 10,
      body = body and assert(json.encode(body)) or nil,
      headers = body and { "Content-Type: application/json" } or nil })
    assert(res.status < 300, "control call failed: " .. res.status .. " " .. res.body)
    return res.status == 204 or assert(json.decode(res.body))
  end
  function server.stop()
    pcall(server.control, "POST", "/_fake/shutdown")
    server.http:close()
    pipe:close()
  end
  running[#running + 1] = server
  return server
end

local server

-- Runs `fn` on a fresh fake server state (no data, full budget, counts at 0).
-- @return fn's report, with the server's counts added: `limited` (429s sent),
--   `peak` (most requests in flight at once), `requests`
local function measured(fn)
  server.control("POST", "/_fake/reset")
  local ok, report = xpcall(fn, debug.traceback)
  if not ok then
    log("%s", report)
    report = { skipped = "failed: " .. report:match("[^\n]*") }
  end
  local stats = server.control("GET", "/_fake/limits")
  report.limited, report.peak, report.requests = stats.too_many_requests.total, stats.peak_in_flight, stats.requests
  return report
end

-- the reports of the runners sharing a budget, as one: from `start` to the last one's end
local function combine(reports, start, want)
  local total = { seconds = 0, created = 0, failed = 0 }
  for _, r in ipairs(reports) do
    total.seconds = math.max(total.seconds, r.finish - start)
    total.created, total.failed = total.created + r.created, total.failed + r.failed
    total.first_error = total.first_error or r.first_error
  end
  if #reports < want then
    total.failed = total.failed + N - total.created
    total.first_error = ("%d of %d runners reported"):format(#reports, want)
  end
  return total
end

-- (1) one after the other
local function sequential()
  local client = client_for(server.url)
  local report = { created = 0, failed = 0 }
  local t0 = core.monotime()
  for i = 1, N do
    local order, err = client.orders:create(share.order(i))
    if order then report.created = report.created + 1 else
      report.failed = report.failed + 1
      report.first_error = report.first_error or tostring(err)
    end
  end
  report.seconds = core.monotime() - t0
  client:close()
  return report
end

-- (1) all at once, through one local budget
local function mapped()
  local client = client_for(server.url)
  local start = core.monotime()
  local report = share.create(client, { first = 1, step = 1, n = N, start = start, concurrency = CONCURRENCY })
  client:close()
  return combine({ report }, start, 1)
end

-- (2) two processes, one budget in Redis
local function redis_processes()
  local redis_server = require "support.redis_server"
  if not redis_server.available() then return nil, "redis-server or lua-redis not installed" end
  local redis = redis_server.start()
  running[#running + 1] = { stop = function() redis:close() end }
  -- both begin one second from now: enough to start Lua and connect
  local start = core.monotime() + 1
  local pipes = {}
  for k = 1, 2 do
    pipes[k] = assert(io.popen(child_command("redis", redis.port, server.url, ("%.6f"):format(start), k, 2, N)))
  end
  local reports = {}
  for k = 1, 2 do
    local out = pipes[k]:read("a")
    pipes[k]:close()
    reports[#reports + 1] = share.parse(out:match("finish [^\n]*") or "") or error("a Redis process failed:\n" .. out)
  end
  running[#running] = nil
  redis:close()
  return combine(reports, start, 2)
end

-- (2) four nginx workers, one budget in a shared dictionary
local function nginx_workers()
  local nginx_server = require "support.nginx"
  if not nginx_server.available() then return nil, "nginx or its Lua module not installed" end
  local workers = 4
  local start = core.monotime() + 1
  local nginx = nginx_server.start { conf = "bench/throughput_nginx.conf.in", port = false,
    vars = { WORKERS = workers, N = N, START = ("%.6f"):format(start), CONCURRENCY = CONCURRENCY,
      REQUESTS = REQUESTS, PER = PER, APP_ID = APP_ID, APP_TOKEN = APP_TOKEN, BASE_URL = server.url,
      LUAJIT_BUILD = LUAJIT_BUILD } }
  running[#running + 1] = { stop = function() nginx:stop() end }
  local give_up = start + N / RATE * 3 + 30
  local reports
  repeat
    core.sleep(0.1)
    reports = {}
    for id = 0, workers - 1 do
      local line = nginx:file(("worker-%d.txt"):format(id)):match("[^\n]+")
      if line then
        reports[#reports + 1] = share.parse(line) or error("an nginx worker failed: " .. line)
      end
    end
  until #reports == workers or core.monotime() > give_up
  running[#running] = nil
  nginx:stop()
  return combine(reports, start, workers)
end

-- (3) the orders to walk over, made at once (imports of at most 2,000)
local function seed_orders()
  local client = client_for(server.url)
  for first = 1, EACH_ORDERS, 2000 do
    local batch = voucherify.array()
    for i = first, math.min(first + 1999, EACH_ORDERS) do batch[#batch + 1] = share.order(i) end
    assert(client.orders:import(batch))
  end
  client:close()
end

-- (3) one walk in a process of its own, so that its memory is its own
local function walk(prefetch)
  local p = assert(io.popen(child_command("each", server.url, prefetch) .. " 2>&1"))
  local out = p:read("a")
  p:close()
  local seconds, heap, rss, seen, bytes = out:match("seconds (%S+) heap (%d+) rss (%d+) seen (%d+) bytes (%d+)")
  if not seconds then return { failed = out:match("[^\n]*") } end
  return { seconds = tonumber(seconds), heap = tonumber(heap), rss = tonumber(rss), seen = tonumber(seen),
    bytes = tonumber(bytes), failed = false }
end

local results = {}

local function measure()
  server = start_fake_server()
  log("fake server at %s, %g s latency, %d requests per %g s; N = %d", server.url, LATENCY, REQUESTS, PER, N)
  log("sequential (about %.0f s)", N * LATENCY)
  results.sequential = measured(sequential)
  log("map, concurrency %d", CONCURRENCY)
  results.mapped = measured(mapped)
  log("2 processes, one budget in Redis")
  results.redis = measured(function()
    local r, why = redis_processes()
    return r or { skipped = "skipped: " .. why }
  end)
  log("nginx, 4 workers, one budget in a shared dictionary")
  results.nginx = measured(function()
    local r, why = nginx_workers()
    return r or { skipped = "skipped: " .. why }
  end)
  log("orders:each over %d orders", EACH_ORDERS)
  server.control("POST", "/_fake/reset")
  seed_orders()
  results.page = walk("page")
  for _, p in ipairs { 0, PREFETCH } do
    local before = server.control("GET", "/_fake/limits")
    local r = walk(p)
    local after = server.control("GET", "/_fake/limits")
    r.limited = after.too_many_requests.total - before.too_many_requests.total
    r.requests = after.requests - before.requests
    results["each" .. p] = r
  end
end

local ok, err = xpcall(measure, debug.traceback)
for i = #running, 1, -1 do pcall(running[i].stop) end
if not ok then error(err, 0) end

-- the tables -------------------------------------------------------------
-- Prints rows of cells as a Markdown table, each column as wide as its widest cell.
local function print_table(rows)
  local widths = {}
  for _, r in ipairs(rows) do
    for c, cell in ipairs(r) do widths[c] = math.max(widths[c] or 3, utf8.len(cell)) end
  end
  for n, r in ipairs(rows) do
    local cells = {}
    for c, cell in ipairs(r) do cells[c] = cell .. (" "):rep(widths[c] - utf8.len(cell)) end
    print("| " .. table.concat(cells, " | ") .. " |")
    if n == 1 then
      for c, w in ipairs(widths) do cells[c] = ("-"):rep(w) end
      print("|-" .. table.concat(cells, "-|-") .. "-|")
    end
  end
end

local function seconds(s) return ("%.2f s"):format(s) end
local function ratio(s, floor) return ("%.2fx"):format(s / floor) end
local function kb(n) return ("%d KB"):format(n) end

-- what failed, printed under the tables
local notes = {}

-- "<= 1.10x, no 429: met", or "not met" with the figures that miss it
local function goal(label, r, floor, within)
  local misses = {}
  local ratio_now = r.seconds / floor
  if ratio_now > within then misses[#misses + 1] = ("%.2fx"):format(ratio_now) end
  if r.limited > 0 then misses[#misses + 1] = r.limited .. " 429s" end
  if r.failed > 0 then
    misses[#misses + 1] = r.failed .. " failed"
    notes[#notes + 1] = ("%s: %d failed, the first: %s"):format(label, r.failed, r.first_error)
  end
  local target = ("<= %.2fx, no 429"):format(within)
  return target .. (#misses == 0 and ": met" or (": not met (" .. table.concat(misses, "; ") .. ")"))
end

local floor = N / RATE
print(("\nvoucherify-lua throughput, %s, %d cores: fake server with %g ms latency and %d requests per %g s")
  :format(os.date("!%Y-%m-%d"), tonumber(run("nproc"):match("%d+")) or 0, LATENCY * 1000, REQUESTS, PER))
print(("(peak: the most requests in flight at once at the server)\n"))
local rows = { { ("%d x `orders:create`"):format(N), "time", "floor", "ratio", "429s", "peak", "goal" } }
-- a row; `within` is the goal's ratio to the floor (none: a reference)
local function create_row(label, r, row_floor, floor_label, within)
  if r.skipped then
    rows[#rows + 1] = { label, "-", seconds(row_floor) .. " " .. floor_label, "-", "-", "-", r.skipped }
  else
    rows[#rows + 1] = { label, seconds(r.seconds), seconds(row_floor) .. " " .. floor_label,
      ratio(r.seconds, row_floor), tostring(r.limited), tostring(r.peak),
      within and goal(label, r, row_floor, within) or "reference" }
    if not within and r.failed > 0 then
      notes[#notes + 1] = ("%s: %d failed, the first: %s"):format(label, r.failed, r.first_error)
    end
  end
end
create_row("one after the other", results.sequential, N * LATENCY, "(N x latency)")
create_row(("`map`, concurrency %d, the client's budget"):format(CONCURRENCY), results.mapped, floor, "(N / rate)",
  1.1)
create_row("2 processes, one budget in Redis", results.redis, floor, "(N / rate)", 1.15)
create_row("nginx, 4 workers, one shared-dict budget", results.nginx, floor, "(N / rate)", 1.15)
print_table(rows)

local pages = math.ceil(EACH_ORDERS / PAGE_SIZE)
-- with prefetch: the first page, then `prefetch` requests always in flight
-- (the caller's page is not one of them), at most the rate allows
local each_floor = { [0] = pages * LATENCY,
  [PREFETCH] = LATENCY + (pages - 1) * math.max(LATENCY / PREFETCH, 1 / RATE) }
rows = { { ("`orders:each`, %d orders"):format(EACH_ORDERS), "time", "floor", "ratio", "peak Lua heap", "peak RSS",
  "requests", "429s" } }
for _, p in ipairs { 0, PREFETCH } do
  local r, label = results["each" .. p], p == 0 and "without prefetch" or ("`prefetch = %d`"):format(p)
  local floor_text = seconds(each_floor[p]) .. (p == 0 and " (pages x latency)"
    or " (latency x (1 + (pages - 1) / prefetch))")
  if r.failed then
    rows[#rows + 1] = { label, "-", floor_text, "-", "-", "-", "-", "-" }
    notes[#notes + 1] = ("not met: %s failed: %s"):format(label, r.failed)
  else
    rows[#rows + 1] = { label, seconds(r.seconds), floor_text, ratio(r.seconds, each_floor[p]), kb(r.heap), kb(r.rss),
      tostring(r.requests), tostring(r.limited) }
    if r.seen ~= EACH_ORDERS then notes[#notes + 1] = ("not met: %s saw %d orders"):format(label, r.seen) end
  end
end
local page = results.page
rows[#rows + 1] = { ("one page (`orders:list`, %s KB of JSON)"):format(page.failed and "?" or page.bytes // 1024),
  "", "", "", page.failed and "-" or kb(page.heap),
  page.failed and "-" or kb(page.rss), "1", "" }
print("")
print_table(rows)
for _, note in ipairs(notes) do print(note) end
