-- The multi handle (csrc/multi.c) on its own: many requests at once through
-- a pool of easy handles, with the same outcomes as the one-at-a-time
-- handle, cancellation, and its misuse.
local core = require "voucherify.core"
local fake_server = require "fake_server"
local fake_limits = require "support.fake_limits"

describe("core.multi_new", function()
  local server
  fake_server.suite(function(s) server = s end)

  local function get(path, extra)
    local req = { method = "GET", url = server.url .. path, timeout = 5, idempotent = true,
      headers = { "X-App-Id: " .. fake_server.APP_ID, "X-App-Token: " .. fake_server.APP_TOKEN } }
    for k, v in pairs(extra or {}) do req[k] = v end
    return req
  end

  -- waits until every id in `ids` is done; returns their outcomes by id
  local function run(multi, ids)
    local outcomes, left = {}, #ids
    while left > 0 do
      for _, id in ipairs(multi:wait(5)) do
        outcomes[id] = { multi:collect(id) }
        left = left - 1
      end
    end
    return outcomes
  end

  it("runs requests at once and answers as perform does", function()
    fake_limits.set_limits(server, { latency = 0.2 })
    local multi = core.multi_new()
    local ids, started = {}, core.monotime()
    for i = 1, 6 do ids[i] = multi:start(get("/v1/orders?limit=" .. i)) end
    local outcomes = run(multi, ids)
    assert.is_true(core.monotime() - started < 0.6)
    local h = core.http_new()
    local alone = h:perform(get("/v1/orders?limit=1"))
    for i = 1, 6 do
      local res = outcomes[ids[i]][1]
      assert.are.equal(200, res.status)
      assert.are.equal(alone.headers["content-type"], res.headers["content-type"])
    end
    assert.are.same({ 0, 6 }, { multi:pending() })
    h:close()
    multi:close()
  end)

  it("reuses its easy handles and their connections", function()
    local multi = core.multi_new()
    for _ = 1, 3 do
      local ids = { multi:start(get("/v1/orders")), multi:start(get("/v1/orders")) }
      run(multi, ids)
    end
    assert.are.equal(2, select(2, multi:pending()))
    local reused = run(multi, { multi:start(get("/v1/orders")) })
    assert.is_true(select(2, next(reused))[1].reused)
    multi:close()
  end)

  it("fails the same ways: timeout, refused connection, too large, output file", function()
    local multi = core.multi_new { max_body_size = 10 }
    server:faults { { path = "/v1/slow", delay = 1 } }
    local ids = {
      slow = multi:start(get("/v1/slow", { timeout = 0.2 })),
      refused = multi:start { method = "GET", url = "http://127.0.0.1:1/", timeout = 2 },
      large = multi:start(get("/v1/orders")),
      file = multi:start(get("/v1/orders", { output_path = "/nonexistent/dir/file" })),
    }
    local list = {}
    for _, id in pairs(ids) do list[#list + 1] = id end
    local outcomes = run(multi, list)
    local function failure(name) return outcomes[ids[name]][2] end
    assert.are.equal("timeout", failure("slow").reason)
    assert.are.equal("connect", failure("refused").reason)
    assert.are.equal("too_large", failure("large").reason)
    assert.are.equal("write", failure("file").reason)
    assert.is_false(failure("file").sent)
    multi:close()
  end)

  it("cancels a request in flight; its handle serves the next one", function()
    fake_limits.set_limits(server, { latency = 0.5 })
    local multi = core.multi_new()
    local id = multi:start(get("/v1/orders"))
    assert.are.same({}, multi:wait(0.05))
    multi:cancel(id)
    assert.are.equal(0, multi:pending())
    fake_limits.set_limits(server, { latency = 0 })
    local again = multi:start(get("/v1/orders"))
    assert.are.equal(id, again)
    assert.are.equal(200, run(multi, { again })[again][1].status)
    -- a done request can be cancelled instead of collected
    local done = multi:start(get("/v1/orders"))
    assert.are.equal(1, #multi:wait(5))
    multi:cancel(done)
    assert.are.equal(0, multi:pending())
    multi:close()
  end)

  it("wait returns an empty list when nothing is done in time", function()
    local multi = core.multi_new()
    local started = core.monotime()
    assert.are.same({}, multi:wait(0.1))
    assert.is_true(core.monotime() - started >= 0.09)
    multi:close()
  end)

  it("raises on misuse: a malformed request, an unknown id, a closed handle", function()
    local multi = core.multi_new()
    assert.has_error(function() multi:start { method = "GET" } end,
      "voucherify.core: request.method and request.url are required")
    assert.has_error(function() multi:collect(3) end, "voucherify.core: no request 3 in progress")
    local id = multi:start(get("/v1/orders"))
    assert.has_error(function() multi:collect(id) end,
      ("voucherify.core: request %d is not done (wait for it first)"):format(id))
    multi:close()
    assert.has_error(function() multi:wait(0) end, "voucherify.core: the multi handle is closed")
    multi:close()
  end)

  it("closing or collecting with requests in flight leaks nothing (valgrind)", function()
    fake_limits.set_limits(server, { latency = 0.3 })
    local multi = core.multi_new()
    for _ = 1, 4 do multi:start(get("/v1/orders", { method = "POST", body = '{"amount":1}' })) end
    multi:wait(0.05)
    multi:close()
    local other = core.multi_new()
    other:start(get("/v1/orders"))
    other = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
  end)
end)
