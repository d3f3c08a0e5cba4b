local voucherify = require "voucherify"
local fake_server = require "fake_server"

describe("async actions and exports against the fake server", function()
  local server, client
  fake_server.suite({ client = true }, function(s, c) server, client = s, c end)

  describe("async_actions", function()
    it("get returns the action as it moves ENQUEUED -> IN_PROGRESS -> DONE", function()
      local job = assert(client.orders:import { { source_id = "a1" } })
      local statuses = {}
      for i = 1, 4 do
        local action, err, res = client.async_actions:get(job.async_action_id)
        assert.is_nil(err)
        assert.are.equal(200, res.status)
        assert.are.equal("async_action", action.object)
        assert.are.equal("ORDERS.IMPORT", action.type)
        statuses[i] = action.status .. ":" .. action.progress
      end
      assert.are.same({ "ENQUEUED:0", "IN_PROGRESS:50", "DONE:100", "DONE:100" }, statuses)
    end)

    it("wait polls until DONE, reports progress, and returns the action", function()
      local job = assert(client.orders:import { { source_id = "a1" }, { source_id = "a2" } })
      local seen = {}
      local action, err, res = client.async_actions:wait(job.async_action_id, { interval = 0.01,
        on_progress = function(a) seen[#seen + 1] = a.status end })
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal("DONE", action.status)
      assert.are.equal(2, action.result.done_count)
      assert.are.same({ "ENQUEUED", "IN_PROGRESS", "DONE" }, seen)
    end)

    it("wait returns an async error with the action when it FAILED", function()
      local job = assert(client.orders:import { { source_id = "a1" } })
      server:fail_job(job.async_action_id)
      local action, err = client.async_actions:wait(job, { interval = 0.01 })
      assert.is_nil(action)
      assert.is_true(voucherify.is_error(err))
      assert.are.equal("async", err.kind)
      assert.are.equal("FAILED", err.action.status)
      assert.are.equal(job.async_action_id, err.action.id)
      assert.truthy(tostring(err):find(job.async_action_id, 1, true))
    end)

    it("wait gives up with a timeout error after opts.timeout", function()
      local job = assert(client.orders:import { { source_id = "a1" } })
      local action, err = client.async_actions:wait(job, { interval = 0.05, timeout = 0.01 })
      assert.is_nil(action)
      assert.are.equal("timeout", err.kind)
      assert.are_not.equal("DONE", err.action.status)
      assert.truthy(err.message:find("is still", 1, true))
    end)

    it("get returns 404 for an unknown id and raises for a bad one", function()
      local _, err = client.async_actions:get("aa_nope")
      assert.are.equal(404, err.status)
      assert.are.equal("async_action", err.resource_type)
      assert.has_error(function() client.async_actions:get(nil) end)
      assert.has_error(function() client.async_actions:wait("aa_1", { interval = -1 }) end)
      assert.has_error(function() client.async_actions:wait("aa_1", { every = 1 }) end)
    end)
  end)

  describe("exports", function()
    local function seed_orders()
      for i = 1, 3 do
        assert(client.orders:create { source_id = "o" .. i, status = "PAID", amount = i * 100,
          metadata = { channel = i == 2 and "web, mobile" or "store" } })
      end
    end

    it("orders:export -> wait -> download gives a CSV with the requested fields as header", function()
      seed_orders()
      local exp = assert(client.orders:export { fields = { "id", "source_id", "amount", "metadata.channel" },
        order = "created_at" })
      assert.are.equal("SCHEDULED", exp.status)
      local done, err = client.exports:wait(exp, { interval = 0.01 })
      assert.is_nil(err)
      assert.are.equal("DONE", done.status)
      assert.is_string(done.result.url)
      assert.is_nil(done.result.url:find(server.url, 1, true)) -- the download host is another one
      local text, derr, res = client.exports:download(done)
      assert.is_nil(derr)
      assert.are.equal(200, res.status)
      local rows = assert(require("voucherify.csv").parse(text))
      assert.are.same({ "id", "source_id", "amount", "metadata.channel" }, rows[1])
      assert.are.equal(4, #rows)
      assert.are.same({ "o1", "100", "store" }, { rows[2][2], rows[2][3], rows[2][4] })
      assert.are.equal("web, mobile", rows[3][4])
    end)

    it("download waits for the export and sends no credentials to the download host", function()
      seed_orders()
      local exp = assert(client.orders:export { fields = { "source_id" } })
      server:clear_requests()
      local text = assert(client.exports:download(exp.id, { interval = 0.01 }))
      assert.are.equal("source_id\r\no3\r\no2\r\no1\r\n", text)
      local log = server:requests()
      local dl = log[#log]
      assert.are.equal("download", dl.listener)
      assert.truthy(dl.query:match("^token=%x+$"))
      assert.is_nil(dl.headers["x-app-token"])
      assert.is_nil(dl.headers["x-app-id"])
      assert.is_nil(dl.headers["authorization"])
    end)

    it("download writes opts.path and returns it", function()
      seed_orders()
      local exp = assert(client.orders:export { fields = { "source_id", "status" } })
      local path = os.tmpname()
      local result, err = client.exports:download(exp, { path = path, interval = 0.01 })
      assert.is_nil(err)
      assert.are.equal(path, result)
      local f = assert(io.open(path))
      local text = f:read("a")
      f:close()
      os.remove(path)
      assert.are.equal("source_id,status\r\no3,PAID\r\no2,PAID\r\no1,PAID\r\n", text)
    end)

    it("a download without the right token is a 401 api error that does not show the token", function()
      seed_orders()
      local exp = assert(client.exports:wait(assert(client.orders:export {}), { interval = 0.01 }))
      local real_token = exp.result.url:match("token=(%x+)")
      -- the same link with the token cut short
      local tampered = { id = exp.id, status = "DONE", result = { url = exp.result.url:gsub("token=%x+",
        "token=" .. real_token:sub(1, 20)) } }
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write("keep me")
      f:close()
      local text, err, res = client.exports:download(tampered, { path = path })
      f = assert(io.open(path))
      local kept = f:read("a")
      f:close()
      os.remove(path)
      assert.are.equal("keep me", kept)
      assert.is_nil(text)
      assert.are.equal("api", err.kind)
      assert.are.equal(401, err.status)
      assert.are.equal(401, res.status)
      assert.are.equal("unauthorized", err.key)
      for k, v in pairs(err) do
        assert.is_nil(tostring(v):find(real_token:sub(1, 20), 1, true), "token in err." .. k)
      end
      assert.is_nil(tostring(err):find(real_token:sub(1, 20), 1, true))
      assert.truthy(err.url:find("token=[redacted]", 1, true))
    end)

    it("wait returns an async error when the export ends in ERROR", function()
      local exp = assert(client.orders:export {})
      server:fail_job(exp.id)
      local done, err = client.exports:wait(exp.id, { interval = 0.01 })
      assert.is_nil(done)
      assert.are.equal("async", err.kind)
      assert.are.equal("ERROR", err.export.status)
      local text, derr = client.exports:download(exp.id, { interval = 0.01 })
      assert.is_nil(text)
      assert.are.equal("async", derr.kind)
    end)

    it("get returns 404 for an unknown export", function()
      local _, err = client.exports:get("exp_nope")
      assert.are.equal(404, err.status)
      assert.are.equal("export", err.resource_type)
    end)
  end)
end)
