-- `timeout` bounds a whole call: every attempt, the waits between them and
-- the OAuth token request; each attempt gets the time that is left.  The
-- timeout of `wait` (async actions, exports) bounds the polls and the sleeps
-- between them.  Both hold within 20%.
local core = require "voucherify.core"
local voucherify = require "voucherify"
local fake_server = require "fake_server"

local function timed(fn)
  local t0 = core.monotime()
  local a, b, c = fn()
  return core.monotime() - t0, a, b, c
end

local function within(took, seconds)
  assert.is_true(took >= seconds * 0.8 and took <= seconds * 1.2,
    ("took %.3f s, expected %.3f s within 20%%"):format(took, seconds))
end

describe("the timeout of a call", function()
  local server

  fake_server.suite(function(s) server = s end)

  local function client(extra)
    return voucherify.new(server:client_options(extra))
  end

  it("includes the retries: slow 503s end in a timeout error at `timeout`", function()
    local c = client { timeout = 1, max_retries = 5, max_retry_delay = 0.05 }
    server:faults { { delay = 0.6, status = 503 }, { delay = 0.6, status = 503 }, { delay = 0.6, status = 503 },
      { delay = 0.6, status = 503 } }
    local took, list, err = timed(function() return c.orders:list() end)
    c:close()
    assert.is_nil(list)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(2, err.attempts)
    within(took, 1)
  end)

  it("gives an attempt only the time left: no retry after the first attempt used it all", function()
    local c = client { timeout = 0.8, max_retries = 3, max_retry_delay = 0.05 }
    server:faults { { delay = 5 } }
    local took, list, err = timed(function() return c.orders:list() end)
    c:close()
    assert.is_nil(list)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(1, err.attempts)
    within(took, 0.8)
  end)

  it("includes Retry-After waits: a retry that would start past the deadline is not made", function()
    local c = client { timeout = 1.5, max_retries = 5, max_retry_delay = 5 }
    local f = { status = 429, headers = { ["Retry-After"] = "1" } }
    server:faults { f, f, f }
    local took, list, err = timed(function() return c.orders:list() end)
    c:close()
    assert.is_nil(list)
    assert.are.equal(429, err.status) -- the last error
    assert.are.equal(2, err.attempts)
    assert.are.equal(1, err.retry_after)
    within(took, 1)
  end)

  it("does not sleep when the wait alone would pass the deadline", function()
    local c = client { timeout = 1, max_retry_delay = 5 }
    server:faults { { status = 429, headers = { ["Retry-After"] = "2" } } }
    local took, list, err = timed(function() return c.orders:list() end)
    c:close()
    assert.is_nil(list)
    assert.are.equal(429, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(2, err.retry_after)
    assert.is_true(took < 0.3, "took " .. took)
  end)

  it("includes the OAuth token request", function()
    local c = client { timeout = 1, max_retries = 0, oauth = {} }
    server:faults { { path = "/v1/oauth/token", delay = 0.6 }, { path = "/v1/orders", delay = 0.6 } }
    local took, list, err = timed(function() return c.orders:list() end)
    c:close()
    assert.is_nil(list)
    assert.are.equal("timeout", err.kind)
    within(took, 1)
  end)

  it("still answers a fast call, and the next call gets the full timeout again", function()
    local c = client { timeout = 0.5, max_retries = 2, max_retry_delay = 0.05 }
    server:faults { { delay = 0.3, status = 503 } }
    local list, err, res = c.orders:list()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
    assert.are.equal(2, res.attempts)
    server:faults { { delay = 0.4 } }
    list, err = c.orders:list()
    c:close()
    assert.is_nil(err)
    assert.are.equal("list", list.object)
  end)
end)

describe("the timeout of wait", function()
  local server, c
  fake_server.suite({ client = { max_retry_delay = 5 } }, function(s, client) server, c = s, client end)

  it("async_actions:wait: a poll that does not answer is cut at the deadline", function()
    local job = assert(c.orders:import { { source_id = "t1" } })
    server:faults { { path = "/v1/async-actions/" .. job.async_action_id, delay = 3 } }
    local took, action, err = timed(function()
      return c.async_actions:wait(job, { timeout = 1, interval = 0.01 })
    end)
    assert.is_nil(action)
    assert.are.equal("timeout", err.kind)
    within(took, 1)
  end)

  it("exports:wait: slow polls and their retries stop at the deadline", function()
    local exp = assert(c.orders:export {})
    local path = "/v1/exports/" .. exp.id
    local slow = { path = path, delay = 0.6, status = 503 }
    server:faults { slow, slow, slow, slow, slow, slow }
    local took, done, err = timed(function() return c.exports:wait(exp, { timeout = 1, interval = 0.01 }) end)
    assert.is_nil(done)
    assert.are.equal("timeout", err.kind)
    within(took, 1)
  end)

  it("exports:wait: a Retry-After past the deadline ends the wait with the 429", function()
    local exp = assert(c.orders:export {})
    server:faults { { path = "/v1/exports/" .. exp.id, status = 429, headers = { ["Retry-After"] = "3" } } }
    local took, done, err = timed(function() return c.exports:wait(exp, { timeout = 1, interval = 0.01 }) end)
    assert.is_nil(done)
    assert.are.equal(429, err.status)
    assert.is_true(took <= 1.2, "took " .. took)
  end)

  it("exports:download: the wait before the download holds its timeout", function()
    local exp = assert(c.orders:export {})
    server:faults { { path = "/v1/exports/" .. exp.id, delay = 3 } }
    local took, text, err = timed(function() return c.exports:download(exp, { timeout = 0.7, interval = 0.01 }) end)
    assert.is_nil(text)
    assert.are.equal("timeout", err.kind)
    within(took, 0.7)
  end)

  it("never sleeps past the deadline, and ends with the status last seen", function()
    local job = assert(c.orders:import { { source_id = "t2" } })
    local took, action, err = timed(function()
      return c.async_actions:wait(job, { timeout = 0.5, interval = 5 })
    end)
    assert.is_nil(action)
    assert.are.equal("timeout", err.kind)
    assert.are.equal("ENQUEUED", err.action.status)
    assert.truthy(err.message:find("is still ENQUEUED", 1, true), err.message)
    within(took, 0.5)
  end)
end)
