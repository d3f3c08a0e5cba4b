--- `make bench`: the library side by side with its anchors, in interleaved
-- rounds on a shared machine, reported as medians and ratios.
--
--   (a) a plain C loop reusing one libcurl handle, not parsing
--   (b) the same loop handing each body to cjson.decode (embedded Lua 5.4),
--       and to the library's own decoder (voucherify.core.json_decode): the
--       anchor of "the transport and the Lua layer add nothing"
--   (c) client.orders:get and client.orders:list{ limit = 100 }, with and
--       without `select` of 3 fields; list iteration under each GC mode
--   (d) codec only: json.decode / json.encode against cjson, and the
--       construction floor (bench/floor.c): the same tables built from a
--       tape parsed beforehand, with keys interned or pushed from a cache;
--       the page decoded whole and with `select` of 3 fields
-- against nginx on loopback serving fixtures from bench/fixtures.lua.
--   lua5.4 bench/run.lua BUILD_DIR [ROUNDS]
-- BENCH_ONLY=codec runs section (d) alone (no nginx).
local core = require "voucherify.core"
local json = require "voucherify.json"
local pagination = require "voucherify.pagination"
local cjson = require "cjson"
local fixtures = require "bench.fixtures"
local nginx_server = require "spec.support.nginx"
local floor = package.loadlib((arg[1] or "build") .. "/bench/floor.so", "luaopen_floor")
floor = assert(floor, "build/bench/floor.so missing: run `make bench`")()

local build = arg[1] or "build"
local ROUNDS = tonumber(arg[2]) or 7
local dir = build .. "/bench"

local N_GET, N_LIST, N_CODEC, N_ORDER = 1500, 150, 30, 2000
-- list iteration under each GC mode: this many orders (pages of 100) per sample
local N_ITER = 2000
-- `select` of 3 fields, as a sync script would ask
local SELECT3 = { "id", "amount", "status" }
local CODEC_ONLY = os.getenv("BENCH_ONLY") == "codec"

local sh = nginx_server.sh

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- fixtures, and nginx serving them (in a prefix of its own, on a free port)
os.execute("mkdir -p " .. dir .. "/tmp")
local list = fixtures.list(100)
local list_text = assert(json.encode(list))
write(dir .. "/orders.json", list_text)
write(dir .. "/order.json", assert(json.encode(list.orders[1])))
-- the walk over the 100-page cap gets pages of its own orders (`?page=N`): a
-- page identical to the one before stops an iterator (a page number ignored)
for page = 1, 100 do
  write(("%s/orders_p%d.json"):format(dir, page), (list_text:gsub('"ord_', '"ord_p' .. page .. "_")))
end
local order_text = assert(json.encode(list.orders[1]))
local _, abs_dir = sh("cd " .. dir .. " && pwd")
local nginx = not CODEC_ONLY and
  nginx_server.start { conf = "bench/nginx.conf.in", vars = { DIR = abs_dir }, ready = "/v1/orders/probe" }
local base = nginx and nginx.base or "http://127.0.0.1:9"

-- decoder: nil (no parsing), "cjson", or "lib" (voucherify.core.json_decode)
local function curl_loop(url, n, decoder)
  local flag = decoder == "cjson" and "--cjson" or decoder == "lib" and ("--decode '%s/?.so'"):format(build) or ""
  local okc, text = sh(("%s/bench/curl_loop '%s' %d %s"):format(build, url, n, flag))
  local s = okc and tonumber(text:match("^seconds_per_request (%S+)"))
  if not s then error("curl_loop failed: " .. text) end
  return s, tonumber(text:match("cpu_seconds_per_request (%S+)"))
end

-- the library's side of (c): bench/client_loop.lua in a process of its own, like the C loop
local function client_loop(op, n)
  local okc, text = sh(("%s bench/client_loop.lua '%s' %s %d"):format(arg[-1] or "lua5.4", base, op, n))
  local s = okc and tonumber(text:match("^seconds_per_request (%S+)"))
  if not s then error("client_loop failed: " .. text) end
  return s, tonumber(text:match("cpu_seconds_per_request (%S+)"))
end

local function timed(n, fn)
  local t0 = core.monotime()
  for _ = 1, n do fn() end
  return (core.monotime() - t0) / n
end

local samples = {}
local function add(name, v, cpu)
  samples[name] = samples[name] or {}
  table.insert(samples[name], v)
  -- the process's CPU time beside the wall clock (the loops of section (c))
  if cpu then add(name .. "_cpu", cpu) end
end

-- (d) decode of one text: cjson, the library, the floor, the key-cached floor;
-- per round: cjson / library, library / floor, and the share of the
-- cjson-to-floor gap the library has closed
local function decode_round(prefix, text, n)
  local tape = floor.prepare(text, json.array_mt)
  -- each starts from a collected heap: no side pays for the garbage of the one before
  local function clean(fn) collectgarbage() return timed(n, fn) end
  local t_cjson = clean(function() cjson.decode(text) end)
  local t_lib = clean(function() json.decode(text) end)
  local t_floor = clean(function() floor.build(tape) end)
  local t_keys = clean(function() floor.build(tape, true) end)
  add(prefix .. "_cjson", t_cjson)
  add(prefix .. "_lib", t_lib)
  add(prefix .. "_floor", t_floor)
  add(prefix .. "_floor_keys", t_keys)
  add(prefix .. "_r_cjson", t_cjson / t_lib)
  add(prefix .. "_r_floor", t_lib / t_floor)
  add(prefix .. "_r_floor_keys", t_lib / t_keys)
  add(prefix .. "_r_floor_cjson", t_cjson / t_floor)
  add(prefix .. "_r_gap", (t_cjson - t_lib) / (t_cjson - t_floor) * 100)
end

-- the measurements; nginx is stopped however they end
local function measure()
  local order_url, list_url = base .. "/v1/orders/ord_1", base .. "/v1/orders?limit=100"
  io.stderr:write(("bench: %d rounds, list page %d KB\n"):format(ROUNDS, #list_text // 1024))
  for round = 1, ROUNDS do
    decode_round("page", list_text, N_CODEC)
    decode_round("one", order_text, N_ORDER)
    local selector = pagination.selector(SELECT3, "orders")
    collectgarbage()
    add("d_full", timed(N_CODEC, function() json.decode(list_text) end))
    collectgarbage()
    add("d_select", timed(N_CODEC, function() core.json_decode(list_text, selector) end))
    add("r_d_select", samples.d_full[round] / samples.d_select[round])
    local value = json.decode(list_text)
    add("d_cjson_encode", timed(N_CODEC, function() cjson.encode(value) end))
    add("d_encode", timed(N_CODEC, function() json.encode(value) end))
    add("r_encode", samples.d_cjson_encode[round] / samples.d_encode[round])
    if not CODEC_ONLY then
      add("a_get", curl_loop(order_url, N_GET))
      add("b_get_lib", curl_loop(order_url, N_GET, "lib"))
      add("c_get", client_loop("get", N_GET))
      add("a_list", curl_loop(list_url, N_LIST))
      add("b_list", curl_loop(list_url, N_LIST, "cjson"))
      add("b_list_lib", curl_loop(list_url, N_LIST, "lib"))
      add("c_list", client_loop("list", N_LIST))
      add("c_list_select", client_loop("select", N_LIST))
      -- list iteration, N_ITER orders in pages of 100, in each GC mode (per page)
      for _, mode in ipairs { "incremental", "generational" } do
        add("g_" .. mode, client_loop("each_" .. mode, N_ITER))
      end
      -- ratios within the round, so machine noise hits both sides alike
      local i = #samples.a_get
      add("r_get", samples.c_get[i] / samples.a_get[i])
      add("r_get_over", samples.c_get[i] - samples.b_get_lib[i])
      add("r_get_over_cpu", samples.c_get_cpu[i] - samples.b_get_lib_cpu[i])
      add("r_list_lib_cpu", samples.c_list_cpu[i] / samples.b_list_lib_cpu[i])
      add("r_list", samples.b_list[i] / samples.c_list[i])
      add("r_list_lib", samples.c_list[i] / samples.b_list_lib[i])
      add("r_list_select", samples.c_list[i] / samples.c_list_select[i])
      add("r_gc", samples.g_generational[i] / samples.g_incremental[i])
    end
    io.stderr:write(("bench: round %d/%d\n"):format(round, ROUNDS))
  end
  if CODEC_ONLY then return 0, 0 end

  -- peak RSS: one page, then iterating every order the API will page through
  local function peak_rss(script)
    local okp, text = sh(("%s -e %q"):format(arg[-1] or "lua5.4", ([[
      package.path = %q; package.cpath = %q
      local v = require "voucherify"
      local c = v.new { app_id = "b", app_token = "b", base_url = %q }
      %s
      for line in io.lines("/proc/self/status") do
        local kb = line:match("^VmHWM:%%s+(%%d+)") if kb then print(kb) end
      end]]):format(package.path, package.cpath, base, script)))
    return okp and tonumber(text:match("(%d+)%s*$")) or error(text)
  end
  local rss_one = peak_rss([[assert(c.orders:list { limit = 100 })]])
  local rss_all = peak_rss([[local n = 0
    local ok, err = pcall(function() for _ in c.orders:each { limit = 100 } do n = n + 1 end end)
    assert(n == 10000 and not ok and err.kind == "page_limit", tostring(err))]])
  return rss_one, rss_all
end
local ok, rss_one, rss_all = xpcall(measure, debug.traceback)
if nginx and (not ok or not os.getenv("BENCH_KEEP_NGINX")) then nginx:stop() end
if not ok then error(rss_one, 0) end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local m = #s // 2
  if #s % 2 == 1 then return s[m + 1] end
  return (s[m] + s[m + 1]) / 2
end
local function spread(t)
  return math.min(table.unpack(t)), math.max(table.unpack(t))
end

local function row(label, key, unit)
  local lo, hi = spread(samples[key])
  local scale = unit == "us" and 1e6 or 1
  print(("| %-52s | %10.1f | %10.1f - %-10.1f |"):format(label, median(samples[key]) * scale, lo * scale, hi * scale))
end
local function ratio(label, key, target, higher_is_better)
  local m = median(samples[key])
  local lo, hi = spread(samples[key])
  local met = higher_is_better and m >= target or (not higher_is_better and m <= target)
  print(("| %-52s | %9.2fx | %5.2f - %-5.2f | %s %.2fx %s |"):format(label, m, lo, hi,
    higher_is_better and ">=" or "<=", target, met and "met" or "NOT met"))
end

local function plain(label, key, fmt)
  local lo, hi = spread(samples[key])
  print(("| %-52s | " .. fmt .. " | " .. fmt .. " - " .. fmt .. " |"):format(label, median(samples[key]), lo, hi))
end

print(("\nvoucherify-lua bench, %s, %d cores, %d rounds (medians; min - max)\n"):format(
  os.date("!%Y-%m-%d"), tonumber(select(2, sh("nproc")):match("%d+")) or 0, ROUNDS))
print("| time per operation                                   |     median | min - max               |")
print("|------------------------------------------------------|------------|-------------------------|")
if not CODEC_ONLY then
  row("(a) C libcurl loop, GET one order (us)", "a_get", "us")
  row("(b) C libcurl loop + json.decode, one order (us)", "b_get_lib", "us")
  row("(c) client.orders:get (us)", "c_get", "us")
  row("(a) C libcurl loop, GET 100-order page (us)", "a_list", "us")
  row("(b) C libcurl loop + cjson.decode, 100-order page (us)", "b_list", "us")
  row("(b) C libcurl loop + json.decode, 100-order page (us)", "b_list_lib", "us")
  row("(c) client.orders:list{limit=100} (us)", "c_list", "us")
  row("(c) the same with select of 3 fields (us)", "c_list_select", "us")
  row("(c) orders:each, per 100-order page, GC incremental (us)", "g_incremental", "us")
  row("(c) orders:each, per 100-order page, GC generational (us)", "g_generational", "us")
end
row("(d) json.decode, 100-order page, whole (us)", "d_full", "us")
row("(d) json.decode, 100-order page, select of 3 fields (us)", "d_select", "us")
-- one row per (text, measure): label pattern, sample suffix
local function rows_per_text(rows, show)
  for _, text in ipairs { { "page", "100-order page" }, { "one", "one order" } } do
    for _, r in ipairs(rows) do show(r[1]:format(text[2]), text[1] .. r[2]) end
  end
end
rows_per_text({ { "(d) cjson.decode, %s (us)", "_cjson" }, { "(d) voucherify json.decode, %s (us)", "_lib" },
  { "(d) floor: tables from a tape, %s (us)", "_floor" }, { "(d) floor, keys from a cache, %s (us)", "_floor_keys" } },
  function(label, key) row(label, key, "us") end)
row("(d) cjson.encode, 100-order page (us)", "d_cjson_encode", "us")
row("(d) voucherify json.encode, 100-order page (us)", "d_encode", "us")
print("\n| ratio (per round, then median)                       |     median | min - max     | target         |")
print("|------------------------------------------------------|------------|---------------|----------------|")
if not CODEC_ONLY then
  ratio("orders:list{limit=100} / (C loop + json.decode)", "r_list_lib", 1.1, false)
  ratio("the same, CPU time of each process", "r_list_lib_cpu", 1.1, false)
  for _, r in ipairs { { "orders:get - (C loop + json.decode), one order", "r_get_over" },
    { "the same, CPU time of each process", "r_get_over_cpu" } } do
    local over = median(samples[r[2]]) * 1e6
    local lo, hi = spread(samples[r[2]])
    print(("| %-52s | %7.1f us | %5.1f - %-5.1f | <= 5.0 us %-5s |"):format(r[1], over, lo * 1e6, hi * 1e6,
      over <= 5 and "met" or "NOT met"))
  end
  ratio("orders:get / C loop", "r_get", 1.25, false)
  ratio("(C loop + cjson) / orders:list{limit=100}", "r_list", 2.0, true)
  ratio("orders:list: whole / select of 3 fields", "r_list_select", 2.0, true)
  ratio("orders:each per page: generational / incremental", "r_gc", 1.0, true)
end
ratio("json.decode of the page: whole / select of 3 fields", "r_d_select", 3.0, true)
ratio("cjson.decode / json.decode, 100-order page", "page_r_cjson", 2.3, true)
ratio("cjson.decode / json.decode, one order", "one_r_cjson", 2.6, true)
ratio("cjson.encode / json.encode", "r_encode", 1.5, true)
print("\n| decode against the construction floor               |     median | min - max               |")
print("|------------------------------------------------------|------------|-------------------------|")
rows_per_text({ { "cjson.decode / floor, %s (x)", "_r_floor_cjson" }, { "json.decode, x the floor, %s", "_r_floor" },
  { "json.decode, x the key-cached floor, %s", "_r_floor_keys" } },
  function(label, key) plain(label, key, "%10.2f") end)
rows_per_text({ { "cjson-to-floor gap closed, %s (%%)", "_r_gap" } },
  function(label, key) plain(label, key, "%10.1f") end)
if not CODEC_ONLY then
  local rss_ratio = rss_all / rss_one
  print(("\npeak RSS: one page %d KB; orders:each over 10,000 orders (the 100-page cap) %d KB: %.2fx"
    .. " (target <= 1.5x: %s)"):format(rss_one, rss_all, rss_ratio, rss_ratio <= 1.5 and "met" or "NOT met"))
end
