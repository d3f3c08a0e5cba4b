-- Files a caller names: an upload's path must be a readable, non-empty
-- regular file, checked with stat(2) before any request and without opening
-- it (a FIFO never blocks); and voucherify.files, the primitives behind that
-- and behind the download's temporary file, the same through the C core and
-- through the LuaJIT FFI inside nginx.
local fake_server = require "fake_server"
local files = require "voucherify.files"
local multipart = require "voucherify.multipart"
local core = require "voucherify.core"
local in_nginx = require "support.in_nginx"
local process = require "support.process"

local sh = process.output
local read, write = process.read_file, process.write_file

local is_root = sh("id -u"):match("^0%s") ~= nil

-- A directory with one of each kind of file in it.  The FIFO gets a writer
-- that gives up after 5 s: code that opens the FIFO to read it would block
-- until then (and then see it empty), so a test of it fails instead of hanging.
local function make_fixture()
  local dir = sh("mktemp -d"):gsub("%s+$", "")
  write(dir .. "/file.csv", "Source_id\na\n")
  write(dir .. "/empty.csv", "")
  assert(os.execute(("mkfifo %s/fifo"):format(dir)))
  os.execute(("timeout 5 sh -c 'exec 3>%s/fifo' >/dev/null 2>&1 &"):format(dir))
  assert(os.execute(("mkdir %s/dir"):format(dir)))
  assert(os.execute(("ln -s %s/file.csv %s/link.csv"):format(dir, dir)))
  assert(os.execute(("ln -s %s/missing %s/dangling"):format(dir, dir)))
  local listener = require("cqueues.socket").listen { path = dir .. "/socket" }
  assert(listener:listen())
  return dir, function()
    listener:close()
    os.execute("rm -rf " .. dir)
  end
end

describe("customers:import_csv { path = ... } refuses what is not a readable regular file", function()
  local server, client, dir, cleanup

  fake_server.suite({ client = { timeout = 2 } }, function(s, c) server, client = s, c end)
  setup(function() dir, cleanup = make_fixture() end)
  teardown(function() cleanup() end)

  local cases = {
    { "a directory", "/dir", "'source.path' must be a regular file: '%s' is a directory" },
    { "a FIFO (without blocking on it)", "/fifo", "'source.path' must be a regular file: '%s' is a FIFO" },
    { "a socket", "/socket", "'source.path' must be a regular file: '%s' is a socket" },
    { "a device", "/dev/zero", "'source.path' must be a regular file: '%s' is a device" },
    { "a /proc pseudo-file (size 0)", "/proc/self/status", "'source.path' is empty: '%s' has 0 bytes" },
    { "an empty file", "/empty.csv", "'source.path' is empty: '%s' has 0 bytes" },
    { "a path that does not exist", "/missing.csv",
      "'source.path' cannot be read: '%s': ENOENT: No such file or directory" },
    { "a dangling symlink", "/dangling", "'source.path' cannot be read: '%s': ENOENT" },
    { "a path through a file", "/file.csv/x", "'source.path' cannot be read: '%s': ENOTDIR" },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. ", at the caller's line, before any request", function()
      local path = case[2]:sub(1, 5) == "/dev/" and case[2] or case[2]:sub(1, 6) == "/proc/" and case[2]
        or dir .. case[2]
      server:clear_requests()
      local started = core.monotime()
      local function call() client.customers:import_csv { path = path } end
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.is_true(core.monotime() - started < 1, "took too long: it waited on the file")
      local prefix = ("spec/file_args_spec.lua:%d: voucherify: customers:import_csv: ")
        :format(debug.getinfo(call, "S").linedefined)
      assert.are.equal(prefix, err:sub(1, #prefix))
      local expected = case[3]:format(path)
      assert.are.equal(expected, err:sub(#prefix + 1, #prefix + #expected))
      assert.are.equal(0, #server:requests())
    end)
  end

  it("a path with a NUL byte (the C library would see only its start)", function()
    local ok, err = pcall(function() client.customers:import_csv { path = dir .. "/file.csv\0.txt" } end)
    assert.is_false(ok)
    assert.truthy(err:find("'source.path' must be a file path", 1, true), err)
  end);

  it("a file the process may not read (run as nobody when the specs run as root)", function()
    -- a directory of its own that nobody may enter
    local open_dir = sh("mktemp -d"):gsub("%s+$", "")
    assert(os.execute("chmod 755 " .. open_dir))
    write(open_dir .. "/secret.csv", "x\n")
    -- the library too, where `nobody` can read it (the checkout may sit in a private directory)
    assert(os.execute(("mkdir -p %s/build && cp -r lua %s/ && cp -r build/voucherify %s/build/ && chmod -R a+rX %s")
      :format(open_dir, open_dir, open_dir, open_dir)))
    assert(os.execute("chmod 000 " .. open_dir .. "/secret.csv"))
    local as = is_root and "setpriv --reuid=nobody --regid=nogroup --clear-groups " or ""
    local out = sh("cd " .. open_dir .. " && SECRET=" .. open_dir .. "/secret.csv " .. as .. fake_server.LUA .. [[ -e '
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = "build/?.so;" .. package.cpath
      local c = require("voucherify").new { app_id = "a", app_token = "b", base_url = "http://127.0.0.1:9" }
      local ok, err = pcall(function() c.customers:import_csv { path = os.getenv("SECRET") } end)
      io.write(tostring(ok), " ", err)' 2>&1]])
    os.execute("rm -rf " .. open_dir)
    assert.truthy(out:find("^false "), out)
    assert.truthy(out:find("voucherify: customers:import_csv: 'source.path' cannot be read: '" .. open_dir
      .. "/secret.csv': permission denied", 1, true), out)
  end)

  it("still uploads a regular file, also through a symlink", function()
    server:clear_requests()
    local job, err, res = client.customers:import_csv { path = dir .. "/link.csv" }
    assert.is_nil(err)
    assert.are.equal(202, res.status)
    assert.truthy(job.async_action_id)
    assert.truthy(server:requests()[1].body:find("Source_id\na\n", 1, true))
  end)
end)

describe("voucherify.files", function()
  local dir, cleanup

  before_each(function()
    dir, cleanup = make_fixture()
  end)

  after_each(function()
    cleanup()
  end)

  it("kind: what a path names, by stat(2), following symlinks", function()
    assert.are.equal("core", files.backend)
    assert.are.same({ "file", 12, true }, { files.kind(dir .. "/file.csv") })
    assert.are.same({ "file", 12, true }, { files.kind(dir .. "/link.csv") })
    assert.are.equal("directory", (files.kind(dir .. "/dir")))
    assert.are.equal("fifo", (files.kind(dir .. "/fifo")))
    assert.are.equal("socket", (files.kind(dir .. "/socket")))
    assert.are.equal("device", (files.kind("/dev/null")))
    assert.are.same({ nil, "ENOENT: No such file or directory", "ENOENT" }, { files.kind(dir .. "/dangling") })
  end)

  it("create_exclusive makes a new empty file and refuses any name that is taken", function()
    assert.is_true(files.create_exclusive(dir .. "/new"))
    assert.are.equal("", read(dir .. "/new"))
    for _, name in ipairs({ "new", "file.csv", "dir", "fifo", "link.csv", "dangling", "socket" }) do
      local ok, err, errname = files.create_exclusive(dir .. "/" .. name)
      assert.is_nil(ok, name)
      assert.are.equal("EEXIST", errname, name)
      assert.are.equal("EEXIST: File exists", err, name)
    end
    -- the dangling symlink's target was not created through it
    assert.is_nil(read(dir .. "/missing"))
    assert.are.equal("Source_id\na\n", read(dir .. "/file.csv"))
  end)

  it("write_existing replaces a regular file's contents, never creates, follows or blocks", function()
    assert.is_true(files.write_existing(dir .. "/file.csv", "new"))
    assert.are.equal("new", read(dir .. "/file.csv"))
    assert.are.same({ nil, "ENOENT: No such file or directory", "ENOENT" },
      { files.write_existing(dir .. "/absent", "x") })
    assert.is_nil(read(dir .. "/absent"))
    assert.are.equal("ELOOP", select(3, files.write_existing(dir .. "/link.csv", "through the link")))
    assert.are.equal("new", read(dir .. "/file.csv"))
    assert.are.equal("EISDIR", select(3, files.write_existing(dir .. "/dir", "x")))
    local started = core.monotime()
    -- a FIFO without a reader: ENXIO at once, where a plain open would wait for one
    assert.are.equal("ENXIO", select(3, files.write_existing(dir .. "/fifo", "x")))
    assert.is_true(core.monotime() - started < 1)
  end)

  it("random_hex gives 2n hex digits from the kernel, different every time", function()
    local seen = {}
    for _ = 1, 100 do
      local hex = assert(files.random_hex(8))
      assert.truthy(hex:match("^%x+$"))
      assert.are.equal(16, #hex)
      assert.is_nil(seen[hex])
      seen[hex] = true
    end
    assert.has_error(function() files.random_hex(0) end)
    assert.has_error(function() files.random_hex(65) end)
  end)

  describe("create_temp", function()
    local real_random

    before_each(function()
      real_random = files.random_hex
    end)

    after_each(function()
      files.random_hex = real_random
    end)

    -- makes random_hex hand out `list`, in order
    local function script(list)
      local i = 0
      files.random_hex = function() i = i + 1 return list[i] end
    end

    it("makes <path>.part-<16 hex digits> next to path", function()
      local temp = assert(files.create_temp(dir .. "/out.csv"))
      assert.truthy(temp:match("^" .. dir:gsub("%p", "%%%0") .. "/out%.csv%.part%-%x+$"), temp)
      local prefix = dir .. "/out.csv.part-"
      assert.are.equal(prefix, temp:sub(1, #prefix))
      assert.are.equal(16, #temp - #prefix)
      assert.are.equal("", read(temp))
    end)

    it("tries another name when one is taken, and leaves the taken one alone", function()
      write(dir .. "/out.csv.part-aaaa", "someone's")
      assert(os.execute(("ln -s %s/file.csv %s/out.csv.part-bbbb"):format(dir, dir)))
      script { "aaaa", "bbbb", "cccc" }
      assert.are.equal(dir .. "/out.csv.part-cccc", files.create_temp(dir .. "/out.csv"))
      assert.are.equal("someone's", read(dir .. "/out.csv.part-aaaa"))
      assert.are.equal("Source_id\na\n", read(dir .. "/file.csv"))
    end)

    it("gives up after a few taken names", function()
      write(dir .. "/out.csv.part-aaaa", "")
      script { "aaaa", "aaaa", "aaaa", "aaaa", "aaaa", "aaaa" }
      assert.are.same({ nil, "EEXIST: File exists", "EEXIST" }, { files.create_temp(dir .. "/out.csv") })
    end)

    it("uses a short hidden name when the name would be too long", function()
      local long = dir .. "/" .. ("n"):rep(250)
      local temp = assert(files.create_temp(long))
      assert.truthy(temp:match("/%.voucherify%-%x+%.part$"), temp)
      assert.are.equal(dir, temp:match("^(.*)/"))
    end)
  end)
end)

describe("voucherify.multipart with a path part (the nginx transport's uploads)", function()
  local dir, cleanup

  before_each(function()
    dir, cleanup = make_fixture()
  end)

  after_each(function()
    cleanup()
  end)

  it("refuses a FIFO without blocking", function()
    local started = core.monotime()
    local ctype, err = multipart.plan { { name = "file", path = dir .. "/fifo" } }
    assert.is_nil(ctype)
    assert.truthy(err:find("is not a regular file (fifo)", 1, true), err)
    assert.is_true(core.monotime() - started < 1)
  end)

  it("sends exactly the size it announced, even if the file grows meanwhile", function()
    local ctype, length, writer = multipart.plan({ { name = "file", path = dir .. "/file.csv" } }, "B")
    assert.truthy(ctype)
    local f = assert(io.open(dir .. "/file.csv", "ab"))
    f:write("grown\n")
    f:close()
    local sent = {}
    assert(writer(function(piece) sent[#sent + 1] = piece return true end))
    local body = table.concat(sent)
    assert.are.equal(length, #body)
    assert.truthy(body:find("\r\n\r\nSource_id\na\n\r\n--B--\r\n", 1, true))
  end)

  it("fails rather than send less than it announced when the file shrinks", function()
    local _, _, writer = multipart.plan({ { name = "file", path = dir .. "/file.csv" } }, "B")
    write(dir .. "/file.csv", "x")
    local ok, err = writer(function() return true end)
    assert.is_nil(ok)
    assert.truthy(err:find("shrank", 1, true))
  end)

  it("draws boundaries from the kernel's random source", function()
    local a, b = multipart.boundary(), multipart.boundary()
    assert.truthy(a:match("^%-+voucherify%x+$"))
    assert.are_not.equal(a, b)
  end)

  if in_nginx.available() then
    it("... so that two nginx processes do not draw the same one (LuaJIT's math.random would)", function()
      local chunk = [[ return { require("voucherify.multipart").boundary() } ]]
      assert.are_not.equal(in_nginx.run(chunk, { core = false })[1], in_nginx.run(chunk, { core = false })[1])
    end)
  end
end)

-- The same checks through the LuaJIT FFI (OpenResty without the C core): the
-- results must be those of the core, path for path.
local PROBE = [[
local dir, which = %q, %q
local files = require "voucherify.files"
local kind = which == "probe" and files._probe_kind or files.kind
local out = { backend = files.backend, kinds = {}, create = {}, write = {} }
for _, name in ipairs({ "file.csv", "empty.csv", "link.csv", "dir", "fifo", "socket", "dangling",
  "missing", "file.csv/x" }) do
  local k, size, readable = kind(dir .. "/" .. name)
  out.kinds[name] = { k or "nil", size, readable }
end
out.kinds["/dev/null"] = { kind("/dev/null") }
for _, name in ipairs({ "new", "new", "file.csv", "dir", "link.csv", "dangling" }) do
  local ok, err, errname = files.create_exclusive(dir .. "/" .. name)
  out.create[#out.create + 1] = { ok or "nil", err, errname }
end
for _, name in ipairs({ "new", "absent", "link.csv", "dir", "fifo" }) do
  local ok, err, errname = files.write_existing(dir .. "/" .. name, "written")
  out.write[#out.write + 1] = { ok or "nil", errname }
end
local f = io.open(dir .. "/new")
out.new = f:read("*a")
f:close()
out.hex = files.random_hex(8)
out.refuses = { pcall(files.random_hex, 0) == false, pcall(files.random_hex, 65) == false }
out.temp = files.create_temp(dir .. "/out.csv")
return out
]]

-- what the core gives for the same fixture (run in a fresh copy of it)
local function with_core(dir)
  local out = { backend = files.backend, kinds = {}, create = {}, write = {} }
  for _, name in ipairs({ "file.csv", "empty.csv", "link.csv", "dir", "fifo", "socket", "dangling",
    "missing", "file.csv/x" }) do
    local k, size, readable = files.kind(dir .. "/" .. name)
    out.kinds[name] = { k or "nil", size, readable }
  end
  out.kinds["/dev/null"] = { files.kind("/dev/null") }
  for _, name in ipairs({ "new", "new", "file.csv", "dir", "link.csv", "dangling" }) do
    local ok, err, errname = files.create_exclusive(dir .. "/" .. name)
    out.create[#out.create + 1] = { ok or "nil", err, errname }
  end
  for _, name in ipairs({ "new", "absent", "link.csv", "dir", "fifo" }) do
    local ok, _, errname = files.write_existing(dir .. "/" .. name, "written")
    out.write[#out.write + 1] = { ok or "nil", errname }
  end
  out.new = read(dir .. "/new")
  out.refuses = { pcall(files.random_hex, 0) == false, pcall(files.random_hex, 65) == false }
  return out
end

local nginx_it = in_nginx.available() and it or pending

describe("voucherify.files inside nginx without the C core (LuaJIT FFI)", function()
  nginx_it("gives the core's answers, path for path (statx)", function()
    local dir1, cleanup1 = make_fixture()
    local dir2, cleanup2 = make_fixture()
    local expected = with_core(dir1)
    local got = in_nginx.run(PROBE:format(dir2, "statx"), { core = false })
    cleanup1()
    cleanup2()
    assert.are.equal("ffi", got.backend)
    assert.truthy(got.hex:match("^%x+$") and #got.hex == 16)
    assert.truthy(got.temp:match("/out%.csv%.part%-%x+$"))
    got.backend, got.hex, got.temp, expected.backend = nil, nil, nil, nil
    assert.are.same(expected, got)
  end)

  nginx_it("without statx, the open(O_NONBLOCK) probe still tells files, directories and FIFOs apart", function()
    local dir, cleanup = make_fixture()
    local got = in_nginx.run(PROBE:format(dir, "probe"), { core = false })
    cleanup()
    assert.are.same({ "file", 12, true }, got.kinds["file.csv"])
    assert.are.same({ "file", 12, true }, got.kinds["link.csv"])
    assert.are.same({ "file", 0, true }, got.kinds["empty.csv"])
    assert.are.equal("directory", got.kinds.dir[1])
    assert.are.equal("fifo", got.kinds.fifo[1])
    assert.are.equal("socket", got.kinds.socket[1])
    assert.are.same({ "nil", "ENOENT: No such file or directory", "ENOENT" }, got.kinds.dangling)
    assert.are.same({ "nil", "ENOTDIR: Not a directory", "ENOTDIR" }, got.kinds["file.csv/x"])
  end)
end)
