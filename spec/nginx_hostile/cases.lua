--- The hostile server cases that spec/hostile_transport_spec.lua runs through
-- both transports: libcurl in the busted process, the cosocket transport
-- inside nginx (nginx_hostile/handler.lua).  Each case has
--   server  the raw server's script (spec/support/raw_server.lua), or
--           `{ reply = bytes }`: read one request, answer those bytes, close
--   client  function(env) -> outcome table, run on either transport; env.new(opts)
--           makes a client of the raw server, env.param is the spec's argument
--   expect  what both transports must give: the outcome's fields, and
--           `copies = { [lua pattern on "METHOD target"] = how many the server read }`
-- This file is loaded by Lua 5.4 and by LuaJIT: plain Lua 5.1 syntax.
local cases = {}

--- Helpers the server scripts start with.
cases.PRELUDE = [[
local function rec(ctx, req)
  if req then ctx.record { method = req.method, target = req.target, body = req.body } end
  return req
end
local function answer(conn, status, body, extra)
  conn:write(("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s")
    :format(status, #body, extra or "", body))
  conn:flush()
end
-- answers every request of the connection with fn(req) -> status, body (nil: close unanswered)
local function serve(conn, ctx, fn)
  while true do
    local req = rec(ctx, ctx.read_request(conn))
    if not req then return end
    local status, body, extra = fn(req)
    if not status then return end
    answer(conn, status, body, extra)
  end
end
]]

-- The server reads the second request it gets in full, then closes its
-- connection without a byte of answer; it answers every other request.
local DROP_SECOND = [[
return function(conn, ctx)
  serve(conn, ctx, function()
    ctx.state.n = (ctx.state.n or 0) + 1
    if ctx.state.n == 2 then return nil end
    return 200, '{"id":"x","object":"thing"}'
  end)
end
]]

-- The same for the first request.
local DROP_FIRST = [[
return function(conn, ctx)
  serve(conn, ctx, function()
    ctx.state.n = (ctx.state.n or 0) + 1
    if ctx.state.n == 1 then return nil end
    return 200, '{"id":"x","object":"thing"}'
  end)
end
]]

local OK_JSON = [[
return function(conn, ctx)
  serve(conn, ctx, function() return 200, '{"id":"x","object":"thing"}' end)
end
]]

--- What a call gave, in a form both transports can be compared on.
function cases.outcome(result, err, res)
  local o = { ok = err == nil and result ~= nil }
  if err then
    o.kind = err.kind
    o.status = err.status
    -- a limit (body or headers) was hit: the messages say "larger than"
    o.limit = type(err.message) == "string" and err.message:find("larger than", 1, true) ~= nil
    -- the library's own words (not the transport's) must match too
    if err.kind ~= "network" and err.kind ~= "timeout" then o.message = err.message end
  else
    o.status = res and res.status
    o.value = result
  end
  return o
end

local function call(fn)
  return function(env)
    local c = env.new { max_retries = 0 }
    return cases.outcome(fn(c))
  end
end

-- A first call (so the connection is kept alive), then `fn`'s call.
local function after_warm_up(fn, opts)
  return function(env)
    local c = env.new(opts or { max_retries = 0 })
    assert(c.orders:get("warm"))
    return cases.outcome(fn(c))
  end
end

local list = {}
local function case(t) list[#list + 1] = t end

-- 1. Writes that must never run twice, on a kept-alive connection that dies
-- after the server read them (libcurl resent these before: defect 2).
local NEVER_TWICE = {
  { "orders:create without an id", "^POST /v1/orders$", function(c) return c.orders:create { amount = 1 } end },
  { "customers:create without an id", "^POST /v1/customers$",
    function(c) return c.customers:create { name = "n" } end },
  { "orders:export", "^POST /v1/orders/export$", function(c) return c.orders:export {} end },
  { "customers:permanently_delete", "^POST /v1/customers/c1/permanent%-deletion$",
    function(c) return c.customers:permanently_delete("c1") end },
  { "orders:import", "^POST /v1/orders/import$", function(c) return c.orders:import { { amount = 1 } } end },
  { "customers:update_in_bulk", "^POST /v1/customers/bulk/async$",
    function(c) return c.customers:update_in_bulk { { source_id = "s" } } end },
  { "customers:update_metadata_in_bulk", "^POST /v1/customers/metadata/async$",
    function(c) return c.customers:update_metadata_in_bulk { source_ids = { "s" }, metadata = { a = 1 } } end },
  { "customers:import_csv", "^POST /v1/customers/importCSV$",
    function(c) return c.customers:import_csv { csv = "name\nA\n" } end },
}
for _, w in ipairs(NEVER_TWICE) do
  case {
    name = w[1] .. " is sent once when the kept-alive connection dies after the server read it",
    server = DROP_SECOND,
    -- max_retries = 2: the retry policy must not repeat it either
    client = after_warm_up(w[3], { max_retries = 2 }),
    expect = { ok = false, kind = "network", copies = { [w[2]] = 1 } },
  }
end

-- 2. Calls that may run twice are still sent again, once, and succeed.
case {
  name = "orders:get is sent again when the kept-alive connection dies after the server read it",
  server = DROP_SECOND,
  client = after_warm_up(function(c) return c.orders:get("o1") end),
  expect = { ok = true, status = 200, copies = { ["^GET /v1/orders/o1$"] = 2 } },
}
case {
  name = "customers:create with a source_id (an upsert) is sent again likewise",
  server = DROP_SECOND,
  client = after_warm_up(function(c) return c.customers:create { source_id = "s1" } end),
  expect = { ok = true, status = 200, copies = { ["^POST /v1/customers$"] = 2 } },
}

-- 3. A connection closed after the request was read, on a new connection.
case {
  name = "a create on a new connection closed after the request was read fails, sent once",
  server = DROP_FIRST,
  client = function(env) return cases.outcome(env.new { max_retries = 2 }.orders:create { amount = 1 }) end,
  expect = { ok = false, kind = "network", copies = { ["^POST /v1/orders$"] = 1 } },
}
case {
  name = "a GET on a new connection closed after the request was read is retried by the policy",
  server = DROP_FIRST,
  client = function(env) return cases.outcome(env.new { max_retries = 1 }.orders:get("o1")) end,
  expect = { ok = true, status = 200, copies = { ["^GET /v1/orders/o1$"] = 2 } },
}
case {
  name = "with max_retries = 0 that GET fails, sent once",
  server = DROP_FIRST,
  client = call(function(c) return c.orders:get("o1") end),
  expect = { ok = false, kind = "network", copies = { ["^GET /v1/orders/o1$"] = 1 } },
}

-- 4. Status lines.
local function get_reply(name, bytes, expect)
  case { name = name, server = { reply = bytes }, client = call(function(c) return c.orders:get("o1") end),
    expect = expect }
end
local NETWORK = { ok = false, kind = "network", limit = false }
local LIMIT = { ok = false, kind = "network", limit = true }
get_reply("a well-formed answer (the reference)", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"id\":\"o1\"}",
  { ok = true, status = 200, value = { id = "o1" } })
get_reply("a status line that is not HTTP", "garbage\r\n\r\n{}", NETWORK)
get_reply("a status line of another protocol", "HTCPCP/1.0 418 I'm a teapot\r\nContent-Length: 2\r\n\r\n{}",
  NETWORK)
get_reply("a four-digit status", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("a two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("a status below 100", "HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("a status line with a CR inside", "HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("an empty answer", "", NETWORK)
get_reply("an answer cut inside the headers", "HTTP/1.1 200 OK\r\nContent-Le", NETWORK)
get_reply("1xx answers before the final one are skipped",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
  .. "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"id\":\"o1\"}",
  { ok = true, status = 200, value = { id = "o1" } })

case {
  name = "a redirect is not followed: no request (and no credential) goes where it points",
  server = { reply = "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 2\r\n\r\n{}" },
  client = call(function(c) return c.orders:get("o1") end),
  expect = { ok = false, kind = "decode", status = 302,
    copies = { ["^GET /v1/orders/o1$"] = 1, ["^GET /elsewhere"] = 0 } },
}

-- 5. Header lines.
get_reply("a bare CR inside a header value",
  "HTTP/1.1 200 OK\r\nX-Evil: a\rInjected: yes\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("a NUL inside a header value", "HTTP/1.1 200 OK\r\nX-Evil: a\0b\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("a CR inside a header name", "HTTP/1.1 200 OK\r\nX-E\rvil: a\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("a header line without a colon", "HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\n{}", NETWORK)
get_reply("one header line of 70 KB", "HTTP/1.1 200 OK\r\nX-Big: " .. ("a"):rep(70000)
  .. "\r\nContent-Length: 2\r\n\r\n{}", LIMIT)
get_reply("100 000 header lines", "HTTP/1.1 200 OK\r\n" .. ("X-A: b\r\n"):rep(100000)
  .. "Content-Length: 2\r\n\r\n{}", LIMIT)
get_reply("1000 header lines of 20 bytes (under the byte limit, over the line limit)",
  "HTTP/1.1 200 OK\r\n" .. ("X-Header-Name: val\r\n"):rep(1000) .. "Content-Length: 2\r\n\r\n{}", LIMIT)
get_reply("an endless stream of 1xx answers", ("HTTP/1.1 100 Continue\r\n\r\n"):rep(20000), LIMIT)
case {
  name = "400 repeated header lines (within the limits) are joined",
  server = { reply = "HTTP/1.1 200 OK\r\n" .. ("X-Dup: v\r\n"):rep(400) .. "Content-Length: 2\r\n\r\n{}" },
  client = function(env)
    local _, err, res = env.new { max_retries = 0 }.orders:get("o1")
    return { ok = err == nil, dup = res and res.headers["x-dup"] }
  end,
  expect = { ok = true, dup = ("v, "):rep(399) .. "v" },
}
get_reply("a chunked trailer that looks like a status line",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n{\"id\":\"o1\"}\r\n0\r\nHTTP/1.1 200 OK\r\n\r\n",
  NETWORK)
case {
  name = "chunked trailers never add to nor replace the headers",
  server = { reply = "HTTP/1.1 200 OK\r\nX-Real: yes\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. "b\r\n{\"id\":\"o1\"}\r\n0\r\nX-Fake: yes\r\nX-Real: no\r\n\r\n" },
  client = function(env)
    local order, err, res = env.new { max_retries = 0 }.orders:get("o1")
    return { ok = err == nil, id = order and order.id, real = res and res.headers["x-real"],
      fake = res and res.headers["x-fake"] or false }
  end,
  expect = { ok = true, id = "o1", real = "yes", fake = false },
}
case {
  name = "bare LF line endings, an obs-fold line and a name with a space are tolerated alike",
  server = { reply = "HTTP/1.1 200 OK\nX-A: a\n  folded\nX-B : b\nContent-Length: 11\n\n{\"id\":\"o1\"}" },
  client = function(env)
    local order, err, res = env.new { max_retries = 0 }.orders:get("o1")
    return { ok = err == nil, id = order and order.id, a = res and res.headers["x-a"],
      b = res and res.headers["x-b"] or false }
  end,
  expect = { ok = true, id = "o1", a = "a", b = false },
}
get_reply("a chunked trailer with a CR inside",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: a\rb\r\n\r\n", NETWORK)

-- 6. Content-Length.
get_reply("a Content-Length longer than the body (then close)",
  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", NETWORK)
get_reply("two different Content-Length values",
  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ", NETWORK)
get_reply("a hexadecimal Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\n{}", NETWORK)
get_reply("a signed Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}", NETWORK)
get_reply("a negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}", NETWORK)
get_reply("a Content-Length of 20 digits", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
  LIMIT)
get_reply("a repeated identical Content-Length is accepted",
  "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Length: 11\r\n\r\n{\"id\":\"o1\"}",
  { ok = true, status = 200, value = { id = "o1" } })
case {
  name = "a Content-Length shorter than the body: the excess is never read as the next answer",
  server = [[
return function(conn, ctx)
  if ctx.index == 1 then
    if not rec(ctx, ctx.read_request(conn)) then return end
    conn:write('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"id":"o1"}'
      .. 'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"id":"smuggled"}')
    conn:flush()
  end
  serve(conn, ctx, function() return 200, '{"id":"o2"}' end)
end
]],
  client = function(env)
    local c = env.new { max_retries = 0 }
    local first = cases.outcome(c.orders:get("o1"))
    local second = cases.outcome(c.orders:get("o2"))
    return { first = first.value, second = second.value }
  end,
  expect = { first = { id = "o1" }, second = { id = "o2" },
    copies = { ["^GET /v1/orders/o1$"] = 1, ["^GET /v1/orders/o2$"] = 1 } },
}

-- 7. Bodies over max_body_size (1000 bytes here).
local function limited(name, bytes, expect)
  case { name = name, server = { reply = bytes },
    client = function(env) return cases.outcome(env.new { max_retries = 0, max_body_size = 1000 }.orders:get("o1")) end,
    expect = expect or LIMIT }
end
local BIG = "{\"a\":\"" .. ("a"):rep(5000) .. "\"}"
limited("a Content-Length over max_body_size", "HTTP/1.1 200 OK\r\nContent-Length: " .. #BIG .. "\r\n\r\n" .. BIG)
limited("a Content-Length of 10 GB", "HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n{}")
limited("a chunked body over max_body_size",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. ("3e8\r\n" .. ("a"):rep(1000) .. "\r\n"):rep(5)
  .. "0\r\n\r\n")
limited("a body until close over max_body_size", "HTTP/1.1 200 OK\r\n\r\n" .. BIG)
limited("a gzip body inflating over max_body_size",
  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 48\r\n\r\n"
  .. "\31\139\8\0\0\0\0\0\2\3\237\193\49\17\0\0\8\4\160\46\31\195\54\230\240\236\110\10\55\96\210\169\52\0\0"
  .. "\0\0\240\46\123\166\225\195\148\144\19\0\0")
limited("a gzip body within max_body_size is inflated",
  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 31\r\n\r\n"
  .. "\31\139\8\0\0\0\0\0\2\3\171\86\202\76\81\178\82\202\55\84\170\5\0\65\125\101\208\11\0\0\0",
  { ok = true, status = 200, value = { id = "o1" } })

-- 8. Chunked framing.
get_reply("a chunk size larger than the data (then close)",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}\r\n0\r\n\r\n", NETWORK)
get_reply("a chunk size smaller than the data",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n", NETWORK)
get_reply("a chunk size that is not hexadecimal",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", NETWORK)
get_reply("a chunk size of 17 hex digits",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n{}\r\n0\r\n\r\n", NETWORK)
get_reply("no last chunk (then close)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
  NETWORK)
get_reply("chunks with extensions",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\n{\"id\"\r\n6\r\n:\"o1\"}\r\n0\r\n\r\n",
  { ok = true, status = 200, value = { id = "o1" } })
get_reply("an unknown transfer coding",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", NETWORK)
get_reply("an unknown content coding", "HTTP/1.1 200 OK\r\nContent-Encoding: xyz\r\nContent-Length: 2\r\n\r\n{}",
  NETWORK)
get_reply("a gzip content coding that is not gzip",
  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}", NETWORK)

-- 9. A server that drips its answer: `timeout` bounds the attempt.
case {
  name = "an answer dripping one byte every 100 ms times out on time",
  server = [[
return function(conn, ctx)
  rec(ctx, ctx.read_request(conn))
  conn:write("HTTP/1.1 200 OK\r\n")
  conn:flush()
  for _ = 1, 50 do
    ctx.sleep(0.1)
    if not conn:write("X") or not conn:flush() then return end
  end
end
]],
  client = function(env)
    local clock = require "voucherify.clock"
    local t0 = clock.now()
    local o = cases.outcome(env.new { max_retries = 0, timeout = 1 }.orders:get("o1"))
    local took = clock.now() - t0
    o.on_time = took >= 0.9 and took < 2
    return o
  end,
  expect = { ok = false, kind = "timeout", on_time = true },
}

case {
  name = "an answer arriving a byte at a time within the timeout is read whole",
  server = [[
return function(conn, ctx)
  rec(ctx, ctx.read_request(conn))
  local answer = 'HTTP/1.1 200 OK\r\nX-Slow: abc\r\nTransfer-Encoding: chunked\r\n\r\n'
    .. 'b\r\n{"id":"o1"}\r\n0\r\n\r\n'
  for i = 1, #answer do
    conn:write(answer:sub(i, i))
    conn:flush()
    if i % 8 == 0 then ctx.sleep(0.005) end
  end
end
]],
  client = function(env)
    local order, err, res = env.new { max_retries = 0, timeout = 5 }.orders:get("o1")
    return { ok = err == nil, id = order and order.id, slow = res and res.headers["x-slow"] }
  end,
  expect = { ok = true, id = "o1", slow = "abc" },
}

-- 10. A server that ignores the cursor (the walk must end with an error
-- saying it makes no progress, after a bounded number of requests; the
-- message, the iterator's, must be the same on both transports).
local function cursor_server(cursors)
  return [[
return function(conn, ctx)
  serve(conn, ctx, function()
    ctx.state.n = (ctx.state.n or 0) + 1
    if ctx.state.n > 200 then return 400, '{"code":400,"message":"the test server gave up"}' end
    local cursors = { ]] .. cursors .. [[ }
    local cursor = cursors[(ctx.state.n - 1) % #cursors + 1]
    return 200, '{"object":"list","data":[{"id":"evt_1"}],"has_more":true,"more_starting_after":"'
      .. cursor .. '"}'
  end)
end
]]
end
local function walk(env)
  local c = env.new { max_retries = 0 }
  local n = 0
  local ok, err = pcall(function()
    for _ in c.customers:each_activity("c1") do n = n + 1 end
  end)
  local o = cases.outcome(nil, not ok and err or nil)
  o.ok = ok
  o.error_object = not ok and require("voucherify").is_error(err)
  -- the iterator itself ended the walk (its wording is pagination.lua's), not
  -- the test server's 400 after 200 requests
  o.no_progress = not ok and type(err) == "table" and err.kind ~= "api" and err.kind ~= "network"
  return o
end
case {
  name = "customers:each_activity against a cursor that never advances",
  server = cursor_server('"a"'),
  client = walk,
  expect = { ok = false, error_object = true, no_progress = true, max_requests = 20 },
}
case {
  name = "customers:each_activity against cursors cycling a, b, a, b",
  server = cursor_server('"a", "b"'),
  client = walk,
  expect = { ok = false, error_object = true, no_progress = true, max_requests = 20 },
}

-- 11. Ids made of dots stay one path segment (defect 4).
local DOT_IDS = {
  { ".", "%2E" }, { "..", "%2E%2E" }, { "...", "%2E%2E%2E" }, { "%2e", "%252e" }, { "a/..", "a%2F.." },
}
for _, d in ipairs(DOT_IDS) do
  local id, seg = d[1], d[2]
  local quoted = seg:gsub("%%", "%%%%"):gsub("%.", "%%.")
  case {
    name = ("the id %q stays one path segment"):format(id),
    server = OK_JSON,
    param = id,
    client = function(env)
      local c = env.new { max_retries = 0 }
      assert(c.orders:get(env.param))
      assert(c.orders:update(env.param, { status = "PAID" }))
      assert(c.customers:permanently_delete(env.param))
      return { ok = true }
    end,
    expect = { ok = true, copies = {
      ["^GET /v1/orders/" .. quoted .. "$"] = 1,
      ["^PUT /v1/orders/" .. quoted .. "$"] = 1,
      ["^POST /v1/customers/" .. quoted .. "/permanent%-deletion$"] = 1,
    }, max_requests = 3 },
  }
end

-- 12. Downloads: the transport writes only into a file that exists already
-- and is not a symlink (env.param: the path, prepared by the spec).
local function download(env)
  local ok, err = env.send { method = "GET", url = env.base .. "/file", output_path = env.param,
    idempotent = true, timeout = 5 }
  return { ok = ok ~= nil, status = ok and ok.status, failed = err ~= nil }
end
cases.DOWNLOAD_SERVER = [[
return function(conn, ctx)
  serve(conn, ctx, function() return 200, "fresh contents" end)
end
]]
case { name = "a download into an existing file writes it", server = cases.DOWNLOAD_SERVER, client = download,
  param_kind = "file", expect = { ok = true, status = 200, contents = "fresh contents" } }
case { name = "a download never creates the output file", server = cases.DOWNLOAD_SERVER, client = download,
  param_kind = "missing", expect = { ok = false, failed = true, contents = false } }
case { name = "a download never writes through a symlink", server = cases.DOWNLOAD_SERVER, client = download,
  param_kind = "symlink", expect = { ok = false, failed = true, target = "the user's file" } }
case { name = "a download never opens a FIFO (nor blocks on it)", server = cases.DOWNLOAD_SERVER, client = download,
  param_kind = "fifo", expect = { ok = false, failed = true } }

cases.list = list
cases.by_name = {}
for _, c in ipairs(list) do cases.by_name[c.name] = c end

--- Runs the client side of case `name` against `base` on `transport` ("curl"
-- or "ngx"); `voucherify` is the library module.
function cases.run(name, voucherify, base, transport, param)
  local c = assert(cases.by_name[name], "no such case: " .. tostring(name))
  local env = { base = base, param = param, transport = transport }
  function env.new(opts)
    local o = { app_id = "hostile-app", app_token = "hostile-token", base_url = base, transport = transport,
      timeout = 5 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return voucherify.new(o)
  end
  function env.send(req)
    local t = require("voucherify.transport." .. transport).new()
    local res, err = t:send(req)
    t:close()
    return res, err
  end
  local ok, outcome = pcall(c.client, env)
  if not ok then return { raised = tostring(outcome) } end
  return outcome
end

return cases
