-- customers:each when more customers share one timestamp than one query can
-- page through (99 pages of `limit`): every customer exactly once, or a
-- "page_limit" error naming the millisecond and how many are left.
local voucherify = require "voucherify"
local json = voucherify.json
local fake_server = require "fake_server"

describe("customers:each with more customers in one millisecond than 99 pages hold", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)
  local T = "2024-03-01T10:00:00.000Z"

  -- adds customers as given (created_at / updated_at included) in one control call
  local function seed(list)
    server:control("POST", "/_fake/customers", { customers = json.array(list) })
  end

  -- n customers through the API, all created (and updated) at the frozen time T
  local function bulk_at_t(n, name)
    server:freeze_clock(T)
    local batch = {}
    for i = 1, n do batch[i] = { source_id = name(i) } end
    assert(client.customers:update_in_bulk(batch))
    server:freeze_clock(nil)
  end

  -- walks; fails on a repeat; returns the count, the ids seen and the error raised (if any)
  local function walk(params)
    local seen, count = {}, 0
    local ok, err = pcall(function()
      for c in client.customers:each(params) do
        assert(not seen[c.id], "yielded twice: " .. tostring(c.source_id))
        seen[c.id] = true
        count = count + 1
      end
    end)
    if not ok and not voucherify.is_error(err) then error(err, 0) end
    return count, seen, not ok and err or nil
  end

  local function max_page()
    local max = 0
    for _, r in ipairs(server:requests()) do
      local p = tonumber(r.query:match("[?&]?page=(%d+)"))
      if p and p > max then max = p end
    end
    return max
  end

  it("walks all 10,050 customers created in one millisecond, newest first (limit 100)", function()
    bulk_at_t(10050, function(i) return ("c%05d"):format(i) end)
    server:clear_requests()
    local count, _, err = walk { limit = 100 }
    assert.is_nil(err)
    assert.are.equal(10050, count)
    assert.is_true(max_page() <= 99)
  end)

  it("walks all 10,050 customers created in one millisecond, oldest first (limit 100)", function()
    -- source_ids run backwards, so the ones past the first 99 pages sort first by source_id
    bulk_at_t(10050, function(i) return ("c%05d"):format(20000 - i) end)
    server:clear_requests()
    local count, _, err = walk { limit = 100, order = "created_at" }
    assert.is_nil(err)
    assert.are.equal(10050, count)
    assert.is_true(max_page() <= 99)
  end)

  -- 1,100 customers created at T (limit 5: 99 pages hold 495): 1,000 updated at
  -- one of 8 later milliseconds, 100 never updated (null updated_at) whose
  -- source_ids sort last, inserted in the middle so that neither direction's
  -- first 495 holds them
  local function mixed_group()
    local list = {}
    for i = 1, 1100 do
      local c = { source_id = ("m-%04d"):format(i), created_at = T }
      if i > 500 and i <= 600 then
        c.source_id, c.updated_at = ("z-%04d"):format(i), json.null
      else
        c.updated_at = ("2024-03-01T11:00:00.%03dZ"):format(i % 8)
      end
      list[i] = c
    end
    seed(list)
    server:clear_requests()
  end

  for _, case in ipairs({ { "newest first", {} }, { "oldest first", { order = "created_at" } } }) do
    it(("walks a group 2x larger than 99 pages, split by updated_at and by source_id, %s (limit 5)")
      :format(case[1]), function()
      mixed_group()
      local params = { limit = 5 }
      for k, v in pairs(case[2]) do params[k] = v end
      local count, _, err = walk(params)
      assert.is_nil(err)
      assert.are.equal(1100, count)
      local by_updated, by_source = false, false
      for _, r in ipairs(server:requests()) do
        if r.query:find("order=updated_at", 1, true) then by_updated = true end
        if r.query:find("order=-source_id", 1, true) then by_source = true end
      end
      assert.is_true(by_updated and by_source)
      assert.is_true(max_page() <= 99)
    end)
  end

  it("walks customers sharing created_at and updated_at with both source_id orders (limit 5)", function()
    bulk_at_t(900, function(i) return ("s%04d"):format(i) end)
    local c = assert(client.customers:create { source_id = "later" })
    server:clear_requests()
    local count, seen, err = walk { limit = 5 }
    assert.is_nil(err)
    assert.are.equal(901, count)
    assert.is_true(seen[c.id])
  end)

  for _, case in ipairs({ { "newest first", {} }, { "oldest first", { order = "created_at" } } }) do
    it(("raises page_limit naming the millisecond when the API cannot tell them apart, %s"):format(case[1]),
      function()
      bulk_at_t(1100, function(i) return ("s%04d"):format(i) end)
      server:freeze_clock("2024-03-01T09:00:00.000Z")
      assert(client.customers:create { source_id = "before" })
      server:freeze_clock("2024-03-01T12:00:00.000Z")
      assert(client.customers:create { source_id = "after" })
      server:freeze_clock(nil)
      local params = { limit = 5 }
      for k, v in pairs(case[2]) do params[k] = v end
      local count, _, err = walk(params)
      assert.is_not_nil(err, "ended quietly after " .. count .. " customers")
      assert.are.equal("page_limit", err.kind)
      -- the customer walked before the group, and 2 x 495 of the group
      assert.are.equal(991, count)
      assert.are.equal(110, err.remaining)
      assert.are.equal(1100, err.total)
      assert.are.equal(T, err.timestamp)
      assert.are.equal(T, err.cursor)
      assert.are.equal("created_at", err.field)
      assert.are.equal(1100, err.group_total)
      assert.truthy(err.message:find("customers:each", 1, true), err.message)
      assert.truthy(err.message:find("110 of the 1100 customers with created_at " .. T, 1, true), err.message)
      assert.truthy(tostring(err):find("page_limit", 1, true))
      assert.is_true(max_page() <= 99)
    end)
  end

  it("walks by updated_at a group sharing updated_at, split by created_at (limit 5)", function()
    local list = {}
    for i = 1, 700 do
      list[i] = { source_id = ("u%04d"):format(i), created_at = ("2024-02-01T00:00:00.%03dZ"):format(i % 5),
        updated_at = T }
    end
    seed(list)
    local count, _, err = walk { limit = 5, order = "updated_at" }
    assert.is_nil(err)
    assert.are.equal(700, count)
  end)

  it("the seeding control call keeps the timestamps it is given", function()
    seed { { source_id = "n1", created_at = T, updated_at = json.null }, { source_id = "n2" } }
    local c = assert(client.customers:get("n1"))
    assert.are.equal(T, c.created_at)
    assert.is_nil(c.updated_at) -- never updated: left out, as the spec's customer (not nullable)
    assert.is_string(assert(client.customers:get("n2")).updated_at)
  end)
end)
