--- Test and bench helper: the shell steps the server helpers (support.nginx,
-- support.redis_server) share.
--
--   local process = require "support.process"
--   local ok, out = process.sh("command -v nginx")
--   local dir = process.temp_dir("nginx")
--   local port = process.random_port()
--   process.write_file(path, "text"); local text = process.read_file(path)
-- @module support.process

local process = {}

--- Runs `cmd` in a shell.
-- @tparam string cmd the command line
-- @return true when it exited 0; its stdout and stderr, trailing white space cut
function process.sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, (out:gsub("%s+$", ""))
end

--- What `cmd` printed on stdout, as printed (stderr is left alone, the
-- trailing newline kept: a spec may compare it whole).
-- @tparam string cmd the command line
-- @return its stdout
function process.output(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

--- A new directory of our own: mktemp -d creates it atomically under a
-- unique name (os.tmpname + mkdir could be raced by another run).
-- @tparam string tag part of its name ("voucherify-TAG.XXXXXX"), to tell runs apart
-- @return its absolute path
function process.temp_dir(tag)
  local ok, dir = process.sh(([[mktemp -d "${TMPDIR:-/tmp}/voucherify-%s.XXXXXX"]]):format(tag))
  assert(ok, "mktemp -d failed: " .. dir)
  return dir
end

--- A loopback port for a server that cannot listen on port 0 and say which
-- it got: at random (from /dev/urandom, not math.random, which a spec may
-- seed) below the kernel's ephemeral range (32768-60999 by default), where no
-- client socket holds one.  It may still be taken: the caller tries another.
-- @return the port number
function process.random_port()
  local f = assert(io.open("/dev/urandom", "rb"))
  local hi, lo = f:read(2):byte(1, 2)
  f:close()
  return 20000 + (hi * 256 + lo) % 10000
end

--- The whole of a file, read in binary mode.
-- @tparam string path the file
-- @return its contents, or nil when it cannot be opened (a spec asserts a file is absent)
function process.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

--- Writes `text` as the whole of a file, created or truncated.
-- @tparam string path the file
-- @tparam string text its new contents
function process.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

return process
