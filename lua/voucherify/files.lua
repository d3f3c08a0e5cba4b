--- The file system primitives plain Lua lacks (stat, O_EXCL, O_NOFOLLOW, a
-- good random source), for checking the files a caller names and for the
-- download's temporary file.  The C core (csrc/files.c) provides them; inside
-- OpenResty without the core, the LuaJIT FFI does (Linux on x86, x64, ARM and
-- PowerPC).  Failures return nil, "ENAME: message", "ENAME" (as luv does).
-- @module voucherify.files

local files = {}

--- How many bytes of randomness a temporary name carries (16 hex digits).
files.RANDOM_BYTES = 8
--- How many temporary names `create_temp` tries before giving up.
files.TRIES = 5

-- The same four primitives through the LuaJIT FFI, for OpenResty without the
-- C core.  `flags`: this architecture's open(2) flag values.  Limits: `kind`
-- needs statx(2) (glibc 2.28, Linux 4.11); without it, it falls back to
-- `probe_kind`, which must open the path (O_RDONLY|O_NONBLOCK, so a FIFO does
-- not block, but a device is opened), needs read permission to see anything,
-- and cannot tell a device that seeks (/dev/null, a disk) from a file, nor a
-- FIFO from a tty.
local function ffi_backend(ffi, flags)
  local bit = require "bit"
  -- renamed symbols (asm), so no other module's cdef of open() can clash; pcall: a
  -- second load of this module (package.loaded cleared) finds them defined already
  pcall(ffi.cdef, [[
  int voucherify_open(const char *path, int flags, unsigned int mode) __asm__("open");
  int voucherify_close(int fd) __asm__("close");
  intptr_t voucherify_write(int fd, const void *buf, size_t n) __asm__("write");
  int64_t voucherify_lseek(int fd, int64_t offset, int whence) __asm__("lseek64");
  int voucherify_ftruncate(int fd, int64_t length) __asm__("ftruncate64");
  int voucherify_access(const char *path, int mode) __asm__("access");
  int voucherify_unlink(const char *path) __asm__("unlink");
  char *voucherify_strerror(int errnum) __asm__("strerror");
  typedef struct {
    uint32_t mask, blksize; uint64_t attributes;
    uint32_t nlink, uid, gid; uint16_t mode, spare0;
    uint64_t ino, size, blocks, attributes_mask;
    uint8_t rest[192];
  } voucherify_statx_t;
  int voucherify_statx(int dirfd, const char *path, int flags, unsigned int mask,
    voucherify_statx_t *buf) __asm__("statx");
  intptr_t voucherify_getrandom(void *buf, size_t n, unsigned int flags) __asm__("getrandom");
  ]])
  local C = ffi.C
  local O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_CLOEXEC = 0, 1, 0x40, 0x80, 0x80000
  local R_OK, SEEK_END, AT_FDCWD, AT_EMPTY_PATH = 4, 2, -100, 0x1000
  local STATX_TYPE, STATX_SIZE = 0x1, 0x200
  local S_IFMT = 0xF000
  local KINDS = { [0x8000] = "file", [0x4000] = "directory", [0x1000] = "fifo", [0xC000] = "socket",
    [0x2000] = "device", [0x6000] = "device" }
  -- errno values of Linux on the architectures above
  local NAMES = { [1] = "EPERM", [2] = "ENOENT", [4] = "EINTR", [5] = "EIO", [6] = "ENXIO",
    [11] = "EAGAIN", [13] = "EACCES", [17] = "EEXIST", [20] = "ENOTDIR", [21] = "EISDIR",
    [22] = "EINVAL", [23] = "ENFILE", [24] = "EMFILE", [26] = "ETXTBSY", [27] = "EFBIG",
    [28] = "ENOSPC", [29] = "ESPIPE", [30] = "EROFS", [36] = "ENAMETOOLONG", [38] = "ENOSYS",
    [40] = "ELOOP", [122] = "EDQUOT" }

  local function failure(e)
    local name = NAMES[e] or "EOTHER"
    return nil, name .. ": " .. ffi.string(C.voucherify_strerror(e)), name
  end

  local function open(path, how, mode)
    local fd, e
    repeat
      fd = C.voucherify_open(path, how, mode or 0)
      e = fd < 0 and ffi.errno() or nil
    until e ~= 4
    return fd, e
  end

  local has_statx = pcall(function() return C.voucherify_statx end)

  -- the kind of what `fd` is open on, when statx is missing: lseek fails on
  -- pipes, FIFOs and ttys (directories are found before, by O_DIRECTORY)
  local function probe_fd(fd)
    local n = C.voucherify_lseek(fd, 0, SEEK_END)
    if n < 0 then return "fifo", 0 end
    return "file", tonumber(n)
  end

  local function statx(dirfd, path, at_flags)
    local st = ffi.new("voucherify_statx_t")
    if C.voucherify_statx(dirfd, path, at_flags, STATX_TYPE + STATX_SIZE, st) ~= 0 then
      return nil, ffi.errno()
    end
    return KINDS[bit.band(st.mode, S_IFMT)] or "other", tonumber(st.size)
  end

  local b = {}

  --- `kind` without statx: must open the path (see the limits above).
  function b.probe_kind(path)
    local how = bit.bor(O_RDONLY, flags.O_NONBLOCK, flags.O_NOCTTY, O_CLOEXEC)
    local fd, e = open(path, bit.bor(how, flags.O_DIRECTORY))
    if fd >= 0 then
      C.voucherify_close(fd)
      return "directory", 0, true
    end
    if e ~= 20 then return failure(e) end -- not ENOTDIR: ENOENT, EACCES, ...
    fd, e = open(path, how)
    if fd < 0 then
      if e == 6 then return "socket", 0, false end -- ENXIO: what a socket's open fails with
      return failure(e)
    end
    local kind, size = probe_fd(fd)
    C.voucherify_close(fd)
    return kind, size, true
  end

  function b.kind(path)
    if not has_statx then return b.probe_kind(path) end
    local kind, size = statx(AT_FDCWD, path, 0)
    if not kind then
      if size == 38 then return b.probe_kind(path) end -- ENOSYS: a kernel before 4.11
      return failure(size)
    end
    return kind, size, C.voucherify_access(path, R_OK) == 0
  end

  function b.create_exclusive(path)
    local fd, e = open(path, bit.bor(O_WRONLY, O_CREAT, O_EXCL, flags.O_NOFOLLOW, flags.O_NOCTTY, O_CLOEXEC),
      438) -- 0666, less the umask
    if fd < 0 then return failure(e) end
    if C.voucherify_close(fd) ~= 0 then
      e = ffi.errno()
      C.voucherify_unlink(path) -- ours: made just above
      return failure(e)
    end
    return true
  end

  function b.write_existing(path, data)
    local fd, e = open(path, bit.bor(O_WRONLY, flags.O_NOFOLLOW, flags.O_NONBLOCK, flags.O_NOCTTY, O_CLOEXEC))
    if fd < 0 then return failure(e) end
    local kind = has_statx and statx(fd, "", AT_EMPTY_PATH) or probe_fd(fd)
    if kind ~= "file" then
      C.voucherify_close(fd)
      return nil, "EINVAL: not a regular file", "EINVAL"
    end
    e = nil
    if C.voucherify_ftruncate(fd, 0) ~= 0 then e = ffi.errno() end
    local done, len = 0, #data
    local buf = ffi.cast("const char *", data)
    while not e and done < len do
      local n = tonumber(C.voucherify_write(fd, buf + done, len - done))
      if n < 0 then
        if ffi.errno() ~= 4 then e = ffi.errno() end
      elseif n == 0 then
        e = 5 -- no progress on a regular file: give up rather than spin
      else
        done = done + n
      end
    end
    if C.voucherify_close(fd) ~= 0 and not e then e = ffi.errno() end
    if e then return failure(e) end
    return true
  end

  local has_getrandom = pcall(function() return C.voucherify_getrandom end)
  function b.random_hex(nbytes)
    if type(nbytes) ~= "number" or nbytes % 1 ~= 0 or nbytes < 1 or nbytes > 64 then
      error("bad argument #1 to 'random_hex' (between 1 and 64 bytes)", 2)
    end
    local bytes
    if has_getrandom then
      local buf = ffi.new("uint8_t[?]", nbytes)
      local got = 0
      while got < nbytes do
        local n = tonumber(C.voucherify_getrandom(buf + got, nbytes - got, 0))
        if n > 0 then
          got = got + n
        elseif n == 0 or ffi.errno() ~= 4 then
          break -- ENOSYS (a kernel before 3.17) and the like: the device below
        end
      end
      if got == nbytes then bytes = ffi.string(buf, nbytes) end
    end
    if not bytes then
      local f, err = io.open("/dev/urandom", "rb")
      if not f then return nil, "EIO: " .. tostring(err), "EIO" end
      bytes = f:read(nbytes)
      f:close()
      if not bytes or #bytes ~= nbytes then return nil, "EIO: short read from /dev/urandom", "EIO" end
    end
    return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
  end

  return b
end

local core = require("voucherify.runtime").core
local impl

if core and core.file_kind then
  impl = {
    kind = core.file_kind, create_exclusive = core.create_exclusive,
    write_existing = core.write_existing, random_hex = core.random_hex,
  }
  files.backend = "core"
else
  local has_ffi, ffi = pcall(require, "ffi")
  -- open(2) flags differ between architectures; these are Linux's for the ones listed
  local generic = { O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000 }
  local arm_ppc = { O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_DIRECTORY = 0x4000, O_NOFOLLOW = 0x8000 }
  local FLAGS = has_ffi and ffi.os == "Linux" and ({ x86 = generic, x64 = generic, arm = arm_ppc,
    arm64 = arm_ppc, arm64be = arm_ppc, ppc = arm_ppc })[ffi.arch]
  if FLAGS then
    impl = ffi_backend(ffi, FLAGS)
    files.backend = "ffi"
  else
    local function unsupported() return nil, "ENOSYS: no C core and no LuaJIT FFI for files here", "ENOSYS" end
    impl = { kind = unsupported, create_exclusive = unsupported, write_existing = unsupported,
      random_hex = unsupported }
    files.backend = "none"
  end
end

-- internal, for the specs: the FFI backend's fallback when statx is missing
files._probe_kind = impl.probe_kind

--- What `path` names, following symlinks, without opening it (so a FIFO
-- cannot block the check).
-- @tparam string path
-- @return kind ("file", "directory", "fifo", "socket", "device", "other"),
--   size in bytes, readable (boolean); or nil, err, errname
function files.kind(path)
  return impl.kind(path)
end

--- Creates an empty file at `path`, failing with "EEXIST" when anything is
-- there already (a file, a directory, a symlink even if dangling).
-- @return true, or nil, err, errname
function files.create_exclusive(path)
  return impl.create_exclusive(path)
end

--- Replaces the contents of the existing regular file `path` with `data`:
-- never creates a file, never follows a symlink, never blocks on a FIFO.
-- @return true, or nil, err, errname
function files.write_existing(path, data)
  return impl.write_existing(path, data)
end

--- `2 * nbytes` random hex digits from the kernel's generator.
-- @tparam integer nbytes 1 to 64
-- @return the hex string, or nil, err, errname
function files.random_hex(nbytes)
  return impl.random_hex(nbytes)
end

--- The directory part of `path` ("." when it has none).
function files.dirname(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir == nil then return "." end
  if dir == "" then return "/" end
  return dir
end

--- Creates, exclusively, a new empty file next to `path` with a name nobody
-- can predict (`<path>.part-<16 hex digits>`), for writing `path` by rename.
-- A name that is taken is never touched: another random one is tried.
-- @tparam string path the file the temporary one will be renamed onto
-- @return the temporary file's path, or nil, err, errname
function files.create_temp(path)
  local err, errname
  for _ = 1, files.TRIES do
    local hex
    hex, err, errname = files.random_hex(files.RANDOM_BYTES)
    if not hex then return nil, err, errname end
    local candidate = path .. ".part-" .. hex
    local ok
    ok, err, errname = files.create_exclusive(candidate)
    if ok then return candidate end
    if errname == "ENAMETOOLONG" then
      -- the name plus the suffix is over NAME_MAX: a short hidden name in the same directory
      candidate = files.dirname(path) .. "/.voucherify-" .. hex .. ".part"
      ok, err, errname = files.create_exclusive(candidate)
      if ok then return candidate end
    end
    if errname ~= "EEXIST" then return nil, err, errname end
  end
  return nil, err, errname
end

return files
