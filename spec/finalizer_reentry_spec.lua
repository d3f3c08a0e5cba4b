-- The libcurl transport decodes a 2xx body straight from its receive buffer,
-- and decoding allocates: a GC step may run a user's finalizer in the middle
-- of it.  A finalizer that uses the client then (closes it, or makes a call on
-- it) must never make the decode read freed or overwritten memory: a call
-- raises "is busy", a close waits until the response is built.
-- Run under valgrind by `make check-memory`, where a use after free fails.
local raw_server = require "support.raw_server"
local voucherify = require "voucherify"

-- a 3000-order page: decoding it is most of what a call allocates, so the
-- collector's steps (and the finalizers they run) mostly fall inside the decode
local SERVER = [[
return function(conn, ctx)
  local items = {}
  for i = 1, 3000 do
    items[i] = ('{"id":"ord_%d","status":"PAID","amount":%d,"metadata":{"k":"value-%d"}}'):format(i, i, i)
  end
  local body = '{"object":"list","orders":[' .. table.concat(items, ",") .. '],"has_more":false,"total":3000}'
  while true do
    local req = ctx.read_request(conn)
    if not req then return end
    -- the finalizer's own call, when the client was not busy: a small answer
    local answer = req.target:find("in_gc", 1, true) and '{"id":"in_gc"}' or body
    conn:write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #answer
      .. "\r\n\r\n" .. answer)
    conn:flush()
  end
end
]]

describe("a finalizer that uses the client while a response is decoded", function()
  local srv
  setup(function()
    srv = raw_server.start(SERVER)
  end)
  local mode
  setup(function()
    mode = collectgarbage("incremental") -- the mode the suite ran in, to give back
    collectgarbage(mode)
  end)
  teardown(function()
    srv:stop()
    collectgarbage("incremental", 200, 100) -- Lua 5.4's defaults, both modes
    collectgarbage("generational", 20, 100)
    collectgarbage(mode)
  end)

  local function full_page(page)
    assert.are.equal(3000, #page.orders)
    assert.are.equal("ord_3000", page.orders[3000].id)
    assert.are.equal("value-1", page.orders[1].metadata.k)
  end

  -- A finalizer armed before each call runs at the collector's next step:
  -- before the request, during the decode, or after.  Whenever it runs, the
  -- call must end with the whole page or a clear error, and the close must
  -- hold once the call is over; valgrind (make check-memory) shows any read
  -- of freed memory.  (When it runs during the decode, a call it makes raises
  -- "is busy" and its close waits: the standalone run of this file sees that
  -- in its first round; inside the whole suite the moment varies.)
  for _, what in ipairs { "closes the client", "calls the client, then closes it" } do
    it(what .. " whenever it runs, and the call ends with its page or a clear error", function()
      for _ = 1, 20 do
        local client = voucherify.new { app_id = "a", app_token = "b", base_url = srv.url, max_retries = 0 }
        collectgarbage("incremental")
        collectgarbage("generational", 10)
        local armed, ran = true, false
        setmetatable({}, { __gc = function()
          if not armed then return end
          ran = true
          if what:find("calls") then
            local ok, res, err = pcall(client.orders.get, client.orders, "in_gc")
            local why = tostring(ok and err or res)
            assert(ok and res and res.id == "in_gc" or why:find("is busy", 1, true), why)
          end
          client:close()
        end })
        local ok, page, err = pcall(client.orders.list, client.orders, { limit = 100 })
        armed = false
        if ok and page then
          full_page(page)
        else
          assert.matches("closed", tostring(ok and err or page))
        end
        if ran then
          local ok2, why2 = pcall(client.orders.list, client.orders, { limit = 100 })
          assert.is_false(ok2)
          assert.matches("closed", tostring(why2))
        end
        client:close()
      end
    end)
  end
end)
