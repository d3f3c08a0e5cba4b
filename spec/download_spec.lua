-- exports:download{ path = p }: the CSV goes into a temporary file created
-- exclusively next to p (an unpredictable name) only once the download is
-- about to be sent, is renamed onto p when complete, and is removed on every
-- failure; no file the library did not create is ever written or removed.
local voucherify = require "voucherify"
local fake_server = require "fake_server"
local process = require "support.process"

local sh = process.output
local read, write = process.read_file, process.write_file

-- the names in `dir`, sorted
local function listing(dir)
  local names = {}
  for name in sh("ls -A " .. dir):gmatch("[^\n]+") do names[#names + 1] = name end
  table.sort(names)
  return names
end

local function inode(path)
  return sh("stat -c %i " .. path):match("%d+")
end

describe("exports:download with opts.path", function()
  local server, client, dir, path

  -- an export that is DONE, whose link points at the fake API listener (where faults apply)
  local function link(route)
    return { id = "exp_link", status = "DONE", result = { url = server.url .. route .. "?token=t0k3n" } }
  end

  -- an export of three orders that is not DONE yet
  local function pending_export()
    for i = 1, 3 do assert(client.orders:create { source_id = "o" .. i, status = "PAID" }) end
    return assert(client.orders:export { fields = { "source_id" } })
  end

  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  before_each(function()
    dir = sh("mktemp -d"):gsub("%s+$", "")
    path = dir .. "/orders.csv"
  end)

  after_each(function()
    os.execute("rm -rf " .. dir)
  end)

  describe("success", function()
    it("writes the CSV to path, returns path, and leaves nothing else in the directory", function()
      local exp = pending_export()
      local result, err, res = client.exports:download(exp, { path = path, interval = 0.01 })
      assert.is_nil(err)
      assert.are.equal(path, result)
      assert.are.equal(200, res.status)
      assert.are.equal("source_id\r\no3\r\no2\r\no1\r\n", read(path))
      assert.are.same({ "orders.csv" }, listing(dir))
    end)

    it("replaces an existing path atomically: a new file is renamed over it, the old one is not rewritten", function()
      write(path, "old contents")
      -- a second name for the old file: if the download wrote into it in place, this would change
      assert(os.execute(("ln %s %s/old-link"):format(path, dir)))
      local before = inode(path)
      server:faults { { path = "/v1/dl", status = 200, body = "a,b\r\n1,2\r\n" } }
      assert(client.exports:download(link("/v1/dl"), { path = path }))
      assert.are.equal("a,b\r\n1,2\r\n", read(path))
      assert.are_not.equal(before, inode(path))
      assert.are.equal("old contents", read(dir .. "/old-link"))
      assert.are.same({ "old-link", "orders.csv" }, listing(dir))
    end)

    it("replaces a symlink at path with the file and never writes the link's target", function()
      local target = dir .. "/victim"
      write(target, "victim's data")
      assert(os.execute(("ln -s %s %s"):format(target, path)))
      server:faults { { path = "/v1/dl", status = 200, body = "x\r\n" } }
      assert(client.exports:download(link("/v1/dl"), { path = path }))
      assert.are.equal("victim's data", read(target))
      assert.are.equal("x\r\n", read(path))
      assert.are.equal("", sh("find " .. path .. " -type l"))
    end)

    it("uses a new unpredictable temporary name <path>.part-<16 hex digits> each time", function()
      local seen = {}
      local spy = voucherify.new(server:client_options { max_retries = 0, on_response = function()
        -- runs after the request, before the rename: the temporary file is there
        for _, name in ipairs(listing(dir)) do
          if name ~= "orders.csv" then seen[#seen + 1] = name end
        end
      end })
      for _ = 1, 2 do
        server:faults { { path = "/v1/dl", status = 200, body = "x\r\n" } }
        assert(spy.exports:download(link("/v1/dl"), { path = path }))
      end
      spy:close()
      assert.are.equal(2, #seen)
      for _, name in ipairs(seen) do assert.truthy(name:match("^orders%.csv%.part%-%x+$"), name) end
      assert.are.equal(16, #seen[1] - #"orders.csv.part-")
      assert.are_not.equal(seen[1], seen[2])
      assert.are.same({ "orders.csv" }, listing(dir))
    end)
  end)

  describe("files of the user's next to path", function()
    -- the old fixed temporary name, taken by a symlink to a victim file and by a plain file
    local function plant()
      local victim = dir .. "/victim"
      write(victim, "victim's data")
      assert(os.execute(("ln -s %s %s.part"):format(victim, path)))
      write(dir .. "/orders.csv.part-0123456789abcdef", "mine")
      return function()
        assert.are.equal("victim's data", read(victim))
        assert.are.equal(victim .. "\n", sh("readlink " .. path .. ".part"))
        assert.are.equal("mine", read(dir .. "/orders.csv.part-0123456789abcdef"))
      end
    end

    it("a symlink at <path>.part and a file with a temporary-looking name stay untouched on success", function()
      local check = plant()
      server:faults { { path = "/v1/dl", status = 200, body = "x\r\n" } }
      assert(client.exports:download(link("/v1/dl"), { path = path }))
      check()
      assert.are.equal("x\r\n", read(path))
      assert.are.same({ "orders.csv", "orders.csv.part", "orders.csv.part-0123456789abcdef", "victim" },
        listing(dir))
    end)

    it("... and on failure", function()
      local check = plant()
      server:faults { { path = "/v1/dl", status = 500 } }
      local result, err = client.exports:download(link("/v1/dl"), { path = path })
      assert.is_nil(result)
      assert.are.equal(500, err.status)
      check()
      assert.are.same({ "orders.csv.part", "orders.csv.part-0123456789abcdef", "victim" }, listing(dir))
    end)
  end)

  describe("failures leave path as it was and no temporary file", function()
    before_each(function()
      write(path, "old contents")
    end)

    local function unchanged()
      assert.are.equal("old contents", read(path))
      assert.are.same({ "orders.csv" }, listing(dir))
    end

    it("a wait that times out", function()
      local exp = pending_export()
      local result, err = client.exports:download(exp.id, { path = path, interval = 0.05, timeout = 0.01 })
      assert.is_nil(result)
      assert.are.equal("timeout", err.kind)
      unchanged()
    end)

    it("on_progress raising, and no temporary file exists while waiting", function()
      local exp = pending_export()
      local during
      local ok, raised = pcall(client.exports.download, client.exports, exp.id, { path = path, interval = 0.01,
        on_progress = function() during = listing(dir) error({ mine = true }) end })
      assert.is_false(ok)
      assert.are.same({ mine = true }, raised) -- the callback's own error, unchanged
      assert.are.same({ "orders.csv" }, during)
      unchanged()
    end)

    it("on_response raising after the download was written (a Lua error), re-raised unchanged", function()
      local hooked = voucherify.new(server:client_options { max_retries = 0,
        on_response = function() error("hook failed", 0) end })
      server:faults { { path = "/v1/dl", status = 200, body = "new\r\n" } }
      local ok, raised = pcall(hooked.exports.download, hooked.exports, link("/v1/dl"), { path = path })
      hooked:close()
      assert.is_false(ok)
      assert.are.equal("hook failed", raised)
      unchanged()
    end)

    it("a server error (500) and a refused token (401)", function()
      server:faults { { path = "/v1/dl", status = 500 } }
      local result, err = client.exports:download(link("/v1/dl"), { path = path })
      assert.is_nil(result)
      assert.are.equal("api", err.kind)
      unchanged()
      local exp = assert(client.exports:wait(pending_export(), { interval = 0.01 }))
      exp.result.url = exp.result.url:gsub("token=%x+", "token=wrong")
      result, err = client.exports:download(exp, { path = path })
      assert.is_nil(result)
      assert.are.equal(401, err.status)
      unchanged()
    end)

    it("a body over max_body_size", function()
      local small = voucherify.new(server:client_options { max_retries = 0, max_body_size = 64 })
      server:faults { { path = "/v1/dl", status = 200, body = ("x"):rep(100000) } }
      local result, err = small.exports:download(link("/v1/dl"), { path = path })
      small:close()
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      unchanged()
    end)

    it("a chunked body (no Content-Length) over max_body_size", function()
      local raw = require("support.raw_server").start([[
        return function(conn, ctx)
          ctx.read_request(conn)
          conn:write("HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
          for _ = 1, 64 do conn:write(("400\r\n%s\r\n"):format(("z"):rep(1024))) end
          conn:write("0\r\n\r\n")
        end
      ]])
      local small = voucherify.new(server:client_options { max_retries = 0, max_body_size = 4096 })
      local result, err = small.exports:download({ id = "exp_raw", status = "DONE",
        result = { url = raw.url .. "/dl?token=t" } }, { path = path })
      small:close()
      raw:stop()
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      unchanged()
    end)

    it("a connection closed in the middle of the body, and a refused connection", function()
      server:faults { { path = "/v1/dl", status = 200, body = ("y"):rep(10000), close = "mid_body" } }
      local result, err = client.exports:download(link("/v1/dl"), { path = path })
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      unchanged()
      local closed, stop = fake_server.blackhole()
      stop() -- nothing listens there any more
      result, err = client.exports:download({ id = "exp_x", status = "DONE",
        result = { url = closed .. "/v1/dl?token=t" } }, { path = path })
      assert.is_nil(result)
      assert.is_true(voucherify.is_error(err))
      unchanged()
    end)

    it("a temporary file that cannot be created: a network error naming path, nothing sent", function()
      -- procfs refuses new files even to root
      server:faults { { path = "/v1/dl", status = 200, body = "x\r\n" } }
      server:clear_requests()
      local result, err = client.exports:download(link("/v1/dl"), { path = "/proc/voucherify-spec.csv" })
      assert.is_nil(result)
      assert.are.equal("network", err.kind)
      assert.truthy(err.message:find("cannot save the export to /proc/voucherify-spec.csv", 1, true), err.message)
      assert.are.equal(0, #server:requests())
      unchanged()
    end)
  end)

  describe("usage errors, raised at the caller's line before any request", function()
    local cases = {
      { "a directory", function() return dir end, "must name a file, not a directory" },
      { "a path ending in /", function() return dir .. "/sub/" end, "must name a file, not a directory" },
      { "a directory that does not exist", function() return dir .. "/missing/orders.csv" end,
        "directory '" },
      { "a directory that is a file", function()
        write(dir .. "/file", "")
        return dir .. "/file/orders.csv"
      end, "is not a directory" },
      { "a FIFO", function()
        assert(os.execute("mkfifo " .. dir .. "/fifo"))
        return dir .. "/fifo"
      end, "is a FIFO" },
      { "a device", function() return "/dev/null" end, "is a device" },
      { "not a string", function() return 42 end, "must be a file path" },
      { "with a NUL byte", function() return path .. "\0.txt" end, "must be a file path" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local p = case[2]()
        server:clear_requests()
        local function call() client.exports:download(link("/v1/dl"), { path = p }) end
        local ok, err = pcall(call)
        assert.is_false(ok)
        local prefix = ("spec/download_spec.lua:%d: voucherify: exports:download: 'opts.path' ")
          :format(debug.getinfo(call, "S").linedefined)
        assert.are.equal(prefix, err:sub(1, #prefix))
        assert.truthy(err:find(case[3], 1, true), err)
        assert.are.equal(0, #server:requests())
      end)
    end

    it("blames the caller's line", function()
      local function call() client.exports:download(link("/v1/dl"), { path = dir }) end
      local line = debug.getinfo(call, "S").linedefined
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.are.equal(("spec/download_spec.lua:%d: voucherify: exports:download: 'opts.path' must name a file, "
        .. "not a directory (got '%s')"):format(line, dir), err)
    end)
  end)
end)
