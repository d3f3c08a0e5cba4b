local voucherify = require "voucherify"
local json = voucherify.json
local fake_server = require "fake_server"

describe("client.customers against the fake server", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  local function last_request()
    local log = server:requests()
    return log[#log]
  end

  describe("create, get, update, delete", function()
    it("creates a customer and upserts by source_id", function()
      local c, err, res = client.customers:create { source_id = "alice", name = "Alice",
        email = "alice@example.com", address = { city = "Paris" }, metadata = { tier = "gold" } }
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.truthy(c.id:match("^cust_"))
      assert.are.equal("customer", c.object)
      assert.are.equal("Paris", c.address.city)
      local again = assert(client.customers:create { source_id = "alice", name = "Alice B." })
      assert.are.equal(c.id, again.id)
      assert.are.equal("Alice B.", again.name)
      assert.are.equal("gold", again.metadata.tier)
      assert.are.equal(1, assert(client.customers:list()).total)
    end)

    it("gets by id and by source_id, and percent-encodes ids like x@y.com", function()
      local c = assert(client.customers:create { source_id = "x@y.com/1", email = "x@y.com" })
      assert.are.equal(c.id, assert(client.customers:get(c.id)).id)
      assert.are.equal(c.id, assert(client.customers:get("x@y.com/1")).id)
      assert.are.equal("/v1/customers/x%40y.com%2F1", last_request().path)
    end)

    it("updates a customer", function()
      local c = assert(client.customers:create { source_id = "bob" })
      local updated = assert(client.customers:update("bob", { name = "Bob", metadata = { vip = true } }))
      assert.are.equal(c.id, updated.id)
      assert.are.equal("Bob", updated.name)
      assert.is_true(updated.metadata.vip)
      assert.are.equal("PUT", last_request().method)
    end)

    it("returns structured 404 errors", function()
      for _, call in ipairs({
        function() return client.customers:get("nobody") end,
        function() return client.customers:update("nobody", { name = "x" }) end,
        function() return client.customers:delete("nobody") end,
        function() return client.customers:permanently_delete("nobody") end,
        function() return client.customers:activity("nobody") end,
        function() return client.customers:redeemables("nobody") end,
      }) do
        local result, err, res = call()
        assert.is_nil(result)
        assert.are.equal("api", err.kind)
        assert.are.equal(404, err.status)
        assert.are.equal("not_found", err.key)
        assert.are.equal("customer", err.resource_type)
        assert.are.equal("nobody", err.resource_id)
        assert.are.equal(404, res.status)
      end
    end)

    it("deletes (204 -> true)", function()
      assert(client.customers:create { source_id = "carol" })
      local ok, err, res = client.customers:delete("carol")
      assert.is_nil(err)
      assert.is_true(ok)
      assert.are.equal(204, res.status)
      assert.are.equal(404, select(2, client.customers:get("carol")).status)
    end)

    it("deletes permanently and returns the deletion object", function()
      local c = assert(client.customers:create { source_id = "dave" })
      local del, err = client.customers:permanently_delete("dave")
      assert.is_nil(err)
      assert.truthy(del.id:match("^del_"))
      assert.are.equal("DONE", del.status)
      assert.are.equal(c.id, del.related_object_id)
      assert.are.equal("customer", del.related_object)
      assert.are.equal("POST", last_request().method)
      assert.are.equal("/v1/customers/dave/permanent-deletion", last_request().path)
    end)

    it("lists a customer's segments", function()
      local c = assert(client.customers:create { source_id = "eve" })
      server:set_segments(c.id, { { id = "seg_1", name = "VIP" } })
      local list = assert(client.customers:segments("eve"))
      assert.are.equal("list", list.object)
      assert.are.equal(1, list.total)
      assert.are.equal("seg_1", list.data[1].id)
      assert.are.equal("segment", list.data[1].object)
    end)

    it("raises for bad arguments before any request", function()
      assert.has_error(function() client.customers:create("x") end)
      assert.has_error(function() client.customers:get("") end)
      assert.has_error(function() client.customers:delete(nil) end)
      assert.has_error(function() client.customers:list { colour = "red" } end,
        "voucherify: customers:list: unknown parameter 'colour' (expected one of: city, created_at_after, "
        .. "created_at_before, email, limit, name, order, page, segment_id, starting_after, "
        .. "updated_at_after, updated_at_before)")
      assert.has_error(function() client.customers:list { created_at_before = "yesterday" } end)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("list", function()
    it("sends every parameter, dates as ISO 8601, with bracket names", function()
      local page, err = client.customers:list {
        limit = 5, page = 2, email = "a@b.c", city = "New York", name = "Ann & Bob", segment_id = "seg_1",
        created_at_before = "2024-01-02T00:00:00.000Z", created_at_after = 1704067200,
        updated_at_before = 1704153600.5, updated_at_after = "2023-12-31T00:00:00Z",
        order = "-source_id", starting_after = "2024-06-01T00:00:00.000Z",
      }
      assert.is_nil(err)
      assert.are.equal("list", page.object)
      assert.are.equal("customers", page.data_ref)
      assert.are.equal("limit=5&page=2&email=a%40b.c&city=New%20York&name=Ann%20%26%20Bob&segment_id=seg_1"
        .. "&created_at[before]=2024-01-02T00%3A00%3A00.000Z&created_at[after]=2024-01-01T00%3A00%3A00.000Z"
        .. "&updated_at[before]=2024-01-02T00%3A00%3A00.500Z&updated_at[after]=2023-12-31T00%3A00%3A00Z"
        .. "&order=-source_id&starting_after=2024-06-01T00%3A00%3A00.000Z", last_request().query)
    end)

    it("filters and orders as the API does, newest first by default", function()
      server:freeze_clock("2024-01-01T00:00:00.000Z")
      assert(client.customers:create { source_id = "c1", email = "one@x.io", address = { city = "Oslo" } })
      server:freeze_clock("2024-01-02T00:00:00.000Z")
      assert(client.customers:create { source_id = "c2", name = "Two", address = { city = "Rome" } })
      server:freeze_clock("2024-01-03T00:00:00.000Z")
      assert(client.customers:create { source_id = "c3", address = { city = "Oslo" } })
      server:freeze_clock(nil)
      local function ids(params)
        local out = {}
        for i, c in ipairs(assert(client.customers:list(params)).customers) do out[i] = c.source_id end
        return table.concat(out, ",")
      end
      assert.are.equal("c3,c2,c1", ids())
      assert.are.equal("c1,c2,c3", ids { order = "created_at" })
      assert.are.equal("c3,c1", ids { city = "Oslo" })
      assert.are.equal("c1", ids { email = "one@x.io" })
      assert.are.equal("c2", ids { name = "Two" })
      assert.are.equal("c2,c1", ids { created_at_before = "2024-01-03T00:00:00.000Z" })
      assert.are.equal("c3", ids { created_at_after = "2024-01-02T00:00:00.000Z" })
      assert.are.equal("c2,c1", ids { starting_after = "2024-01-03T00:00:00.000Z" })
      assert.are.equal("c3", ids { starting_after = "2024-01-02T00:00:00.000Z", order = "created_at" })
      assert.are.equal("c3,c2,c1", ids { order = "-source_id" })
      local page = assert(client.customers:list { limit = 2 })
      assert.is_true(page.has_more)
      assert.are.equal(3, page.total)
    end)

    it("returns 400 for limit = 101 and page = 100", function()
      assert.are.equal(400, select(2, client.customers:list { limit = 101 }).status)
      assert.are.equal(400, select(2, client.customers:list { page = 100 }).status)
    end)
  end)

  describe("each and pages", function()
    -- 250 customers spread over three identical timestamps
    local stamps = { "2024-03-01T10:00:00.000Z", "2024-03-01T10:00:00.001Z", "2024-03-02T08:30:00.250Z" }
    local function seed(n_per_stamp)
      local n = 0
      for s, stamp in ipairs(stamps) do
        server:freeze_clock(stamp)
        local batch = {}
        for _ = 1, n_per_stamp[s] do
          n = n + 1
          batch[#batch + 1] = { source_id = ("cust-%03d"):format(n) }
        end
        if #batch > 0 then assert(client.customers:update_in_bulk(batch)) end
      end
      server:freeze_clock(nil)
      server:clear_requests()
      return n
    end

    local function walk(params)
      local seen, count, order = {}, 0, {}
      for c in client.customers:each(params) do
        assert.is_nil(seen[c.id], "repeated " .. c.source_id)
        seen[c.id] = true
        count = count + 1
        order[count] = c.created_at
      end
      return count, order
    end

    local cases = {
      { "newest first (no order)", {}, "desc" },
      { "oldest first (order = created_at)", { order = "created_at" }, "asc" },
    }
    for _, case in ipairs(cases) do
      for _, limit in ipairs({ 100, 30, 7 }) do
        it(("walks 250 customers on 3 timestamps, %s, limit %d, without skips or repeats")
          :format(case[1], limit), function()
          local total = seed { 84, 83, 83 }
          local params = { limit = limit }
          for k, v in pairs(case[2]) do params[k] = v end
          local count, stamps_seen = walk(params)
          assert.are.equal(total, count)
          for i = 2, #stamps_seen do
            if case[3] == "desc" then
              assert.is_true(stamps_seen[i - 1] >= stamps_seen[i])
            else
              assert.is_true(stamps_seen[i - 1] <= stamps_seen[i])
            end
          end
          for _, r in ipairs(server:requests()) do
            local q = r.query
            if case[3] == "asc" then assert.truthy(q:find("order=created_at", 1, true), q) end
            assert.is_nil(q:find("page=100", 1, true))
          end
        end)
      end
    end

    it("uses few requests when timestamps are distinct", function()
      for i = 1, 250 do
        server:freeze_clock(("2024-05-01T00:00:%02d.%03dZ"):format(i // 60, i % 1000))
        assert(client.customers:create { source_id = "d" .. i })
      end
      server:freeze_clock(nil)
      server:clear_requests()
      assert.are.equal(250, (walk { limit = 100 }))
      assert.are.equal(3, #server:requests())
    end)

    it("goes past the 99-page cap of the list", function()
      for i = 1, 105 do assert(client.customers:create { source_id = "p" .. i }) end
      server:clear_requests()
      assert.are.equal(105, (walk { limit = 1 }))
      assert.is_true(#server:requests() >= 105)
    end)

    it("pages by number with order = source_id, and raises past the 99-page cap", function()
      local batch = {}
      for i = 1, 100 do batch[i] = { source_id = ("s%03d"):format(i) } end
      assert(client.customers:update_in_bulk(batch))
      server:clear_requests()
      local seen = {}
      local ok, err = pcall(function()
        for c in client.customers:each { order = "source_id", limit = 1 } do seen[#seen + 1] = c.source_id end
      end)
      assert.is_false(ok)
      assert.are.equal("page_limit", err.kind)
      assert.truthy(err.message:find("99 pages", 1, true), err.message)
      assert.are.equal(99, #seen)
      assert.are.equal("s001", seen[1])
      assert.are.equal("s099", seen[99])
      assert.truthy(server:requests()[2].query:find("page=2", 1, true))
    end)

    it("keeps the caller's filters on every request", function()
      server:freeze_clock("2024-01-01T00:00:00.000Z")
      for i = 1, 12 do
        assert(client.customers:create { source_id = "f" .. i, address = { city = i % 2 == 0 and "Oslo" or "Rome" } })
      end
      server:freeze_clock(nil)
      server:clear_requests()
      local n = 0
      for c in client.customers:each { city = "Oslo", limit = 4 } do
        n = n + 1
        assert.are.equal("Oslo", c.address.city)
      end
      assert.are.equal(6, n)
      for _, r in ipairs(server:requests()) do assert.truthy(r.query:find("city=Oslo", 1, true)) end
    end)

    it("pages yields pages whose customers together are each customer once", function()
      seed { 10, 10, 5 }
      local ids, pages = {}, 0
      for page, info in client.customers:pages { limit = 8, on_page = function() end } do
        pages = pages + 1
        assert.are.equal("customers", page.data_ref)
        assert.are.equal(#page.customers, info.count)
        for _, c in ipairs(page.customers) do
          assert.is_nil(ids[c.id])
          ids[c.id] = true
        end
      end
      local n = 0
      for _ in pairs(ids) do n = n + 1 end
      assert.are.equal(25, n)
      assert.is_true(pages >= 4)
    end)

    it("calls on_page with progress and raises the error object on failure", function()
      seed { 5, 0, 0 }
      local infos = {}
      for _ in client.customers:each { limit = 2, on_page = function(_, info) infos[#infos + 1] = info end } do end
      assert.are.equal(5, infos[#infos].fetched)
      assert.are.equal(5, infos[1].total)
      server:faults { { status = 404 } }
      local ok, err = pcall(function() for _ in client.customers:each() do end end)
      assert.is_false(ok)
      assert.is_true(voucherify.is_error(err))
      assert.are.equal(404, err.status)
    end)
  end)

  describe("activity", function()
    local function customer_with_events(n)
      local c = assert(client.customers:create { source_id = "act" })
      for i = 1, n - 1 do assert(client.customers:update("act", { name = "v" .. i })) end
      server:clear_requests()
      return c
    end

    it("returns a page with the cursor fields", function()
      customer_with_events(5)
      local page, err = client.customers:activity("act", { limit = 2, order = "created_at",
        start_date = 0, end_date = "2100-01-01T00:00:00.000Z", type = "customer.updated" })
      assert.is_nil(err)
      assert.are.equal(2, #page.data)
      assert.is_true(page.has_more)
      assert.are.equal(page.data[2].id, page.more_starting_after)
      assert.are.equal("customer.updated", page.data[1].type)
      assert.are.equal("limit=2&order=created_at&start_date=1970-01-01T00%3A00%3A00.000Z"
        .. "&end_date=2100-01-01T00%3A00%3A00.000Z&type=customer.updated", last_request().query)
    end)

    it("each_activity follows more_starting_after until has_more is false", function()
      customer_with_events(25)
      local n, seen = 0, {}
      for e in client.customers:each_activity("act", { limit = 10 }) do
        n = n + 1
        assert.is_nil(seen[e.id])
        seen[e.id] = true
      end
      assert.are.equal(25, n)
      local log = server:requests()
      assert.are.equal(3, #log)
      assert.are.equal("limit=10", log[1].query)
      assert.truthy(log[2].query:match("^limit=10&starting_after_id=evcus_"))
    end)

    it("activities (deprecated) returns the list with a total", function()
      customer_with_events(3)
      local page = assert(client.customers:activities("act", { limit = 2, order = "-created_at" }))
      assert.are.equal(3, page.total)
      assert.are.equal(2, #page.data)
      assert.are.equal("/v1/customers/act/activities", last_request().path)
    end)
  end)

  describe("redeemables", function()
    it("sends filters as a deepObject and applies them", function()
      local c = assert(client.customers:create { source_id = "red" })
      server:seed_redeemables(c.id, 6)
      local page, err = client.customers:redeemables("red", { limit = 10,
        filters = { redeemable_id = { conditions = { ["$in"] = { "v_00000002", "v_00000004" } } } } })
      assert.is_nil(err)
      assert.are.equal(2, #page.data)
      assert.are.equal("v_00000002", page.data[1].redeemable_id)
      assert.are.equal("limit=10&filters[redeemable_id][conditions][$in][0]=v_00000002"
        .. "&filters[redeemable_id][conditions][$in][1]=v_00000004", last_request().query)
    end)

    it("each_redeemable walks every redeemable with the id cursor", function()
      local c = assert(client.customers:create { source_id = "red2" })
      server:seed_redeemables(c.id, 23)
      server:clear_requests()
      local ids = {}
      for r in client.customers:each_redeemable("red2", { limit = 10, order = "-id" }) do
        ids[#ids + 1] = r.id
      end
      assert.are.equal(23, #ids)
      assert.is_true(ids[1] > ids[2])
      assert.are.equal(3, #server:requests())
    end)
  end)

  describe("import_csv", function()
    local function import(source)
      local job, err, res = client.customers:import_csv(source)
      assert.is_nil(err)
      assert.are.equal(202, res.status)
      local action = assert(client.async_actions:wait(job, { interval = 0.01 }))
      return action, last_request()
    end

    it("uploads { csv = ... } as one multipart part 'file' and maps the columns", function()
      server:clear_requests()
      local csv_text = "Name,Email,Source_id,Address_City,Address_Postal_Code,Phone,Birthdate,Tier\n"
        .. "Ann,ann@x.io,ann,Oslo,0150,+47 1,1990-01-02,gold\n"
        .. "Bad,not-an-email,bad,,,,,\n"
      local action = import { csv = csv_text }
      local upload = server:requests()[1]
      assert.are.equal("/v1/customers/importCSV", upload.path)
      assert.truthy(upload.headers["content-type"]:match("^multipart/form%-data; boundary="))
      assert.truthy(upload.body:find('Content-Disposition: form-data; name="file"; filename="customers.csv"', 1, true))
      assert.truthy(upload.body:find("Content-Type: text/csv", 1, true))
      assert.truthy(upload.body:find(csv_text, 1, true))
      assert.are.equal("DONE", action.status)
      assert.are.equal("CUSTOMERS.IMPORT_CSV", action.type)
      assert.are.equal(1, action.result.done_count)
      assert.are.equal(1, action.result.failed_count)
      assert.are.equal(2, action.result.failed[1].row)
      assert.are.equal("bad", action.result.failed[1].source_id)
      local ann = assert(client.customers:get("ann"))
      assert.are.equal("Oslo", ann.address.city)
      assert.are.equal("0150", ann.address.postal_code)
      assert.are.equal("1990-01-02", ann.birthdate)
      assert.are.equal("gold", ann.metadata.Tier)
    end)

    it("streams { path = ... } from disk with the file's name", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write("Source_id,Email\n")
      for i = 1, 300 do f:write(("file-%d,f%d@x.io\n"):format(i, i)) end
      f:close()
      server:clear_requests()
      local action = import { path = path }
      local upload = server:requests()[1]
      os.remove(path)
      assert.truthy(upload.body:find('filename="' .. path:match("[^/]+$") .. '"', 1, true))
      assert.are.equal(300, action.result.done_count)
      assert.are.equal(300, assert(client.customers:list()).total)
    end)

    it("builds the CSV from { rows, columns }", function()
      server:clear_requests()
      import { columns = { "Source_id", "Name", "Note" },
        rows = { { Source_id = "r1", Name = "Row, One", Note = 'says "hi"' }, { "r2", "Row Two" } } }
      local expected = 'Source_id,Name,Note\r\nr1,"Row, One","says ""hi"""\r\nr2,Row Two,\r\n'
      assert.truthy(server:requests()[1].body:find(expected, 1, true))
      assert.are.equal("Row, One", assert(client.customers:get("r1")).name)
      assert.are.equal('says "hi"', assert(client.customers:get("r1")).metadata.Note)
    end)

    it("raises for a missing file or an ambiguous source", function()
      assert.has_error(function() client.customers:import_csv { path = "/nonexistent/x.csv" } end)
      assert.has_error(function() client.customers:import_csv { csv = "a", rows = {} } end,
        "voucherify: customers:import_csv: 'source' needs exactly one of path, csv or rows")
      assert.has_error(function() client.customers:import_csv {} end)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("bulk updates", function()
    it("update_in_bulk upserts by source_id as an async action", function()
      local job, err, res = client.customers:update_in_bulk { { source_id = "b1", name = "One" },
        { source_id = "b2", metadata = { x = 1 } } }
      assert.is_nil(err)
      assert.are.equal(202, res.status)
      local action = assert(client.async_actions:wait(job.async_action_id, { interval = 0.01 }))
      assert.are.equal(2, action.result.done_count)
      assert.are.equal("One", assert(client.customers:get("b1")).name)
      local sent = json.decode(server:requests()[1].body)
      assert.are.equal(voucherify.array_mt, getmetatable(sent))
      assert.are.equal("b2", sent[2].source_id)
    end)

    it("update_metadata_in_bulk sets metadata on every source_id", function()
      assert(client.customers:create { source_id = "m1" })
      assert(client.customers:create { source_id = "m2" })
      local job = assert(client.customers:update_metadata_in_bulk { source_ids = { "m1", "m2" },
        metadata = { segment = "b2b" } })
      local sent = json.decode(server:requests()[3].body)
      assert.are.same({ source_ids = { "m1", "m2" }, metadata = { segment = "b2b" } }, sent)
      assert(client.async_actions:wait(job, { interval = 0.01 }))
      assert.are.equal("b2b", assert(client.customers:get("m2")).metadata.segment)
    end)

    it("surfaces the gateway's 413 for a payload over 10 MB as an api error", function()
      local big = {}
      local filler = string.rep("x", 1000)
      for i = 1, 11000 do big[i] = { source_id = "big" .. i, description = filler } end
      local job, err, res = client.customers:update_in_bulk(big)
      assert.is_nil(job)
      assert.are.equal("api", err.kind)
      assert.are.equal(413, err.status)
      assert.are.equal(413, res.status)
      assert.truthy(err.message:find("Payload content length greater than maximum allowed", 1, true))
      assert.are.equal(1, err.attempts)
    end)
  end)
end)
