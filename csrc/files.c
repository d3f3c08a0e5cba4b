/*
 * File system primitives for the Lua layer (lua/voucherify/files.lua), which
 * plain Lua cannot express: stat(2), O_EXCL, O_NOFOLLOW, a good random source.
 *
 *   core.file_kind(path)         -> kind, size, readable | nil, err, errname
 *       kind: "file", "directory", "fifo", "socket", "device", "other";
 *       stat(2) follows symlinks and never opens the path, so a FIFO cannot block it
 *   core.create_exclusive(path)  -> true | nil, err, errname
 *       creates an empty file, failing (EEXIST) if anything, even a dangling
 *       symlink, is already there
 *   core.write_existing(path, s) -> true | nil, err, errname
 *       replaces the contents of an existing regular file; never creates one,
 *       never follows a symlink, never blocks on a FIFO
 *   core.random_hex(nbytes)      -> 2 * nbytes hex digits | nil, err, errname
 *
 * Failures follow luv: nil, "ENAME: message", "ENAME".
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/random.h>
#endif

#include "files.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* the most random_hex hands out at once (enough for any name) */
#define RANDOM_MAX 64

static const char *errno_name(int e)
{
    switch (e) {
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case EMFILE: return "EMFILE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENFILE: return "ENFILE";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case ENOTDIR: return "ENOTDIR";
    case ENXIO: return "ENXIO";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case EDQUOT: return "EDQUOT";
    case EFBIG: return "EFBIG";
    case ETXTBSY: return "ETXTBSY";
    case EWOULDBLOCK: return "EAGAIN";
    case ENOSYS: return "ENOSYS";
    default: return "EOTHER";
    }
}

/* Pushes nil, "ENAME: message", "ENAME" for errno `e`; returns 3. */
static int push_errno(lua_State *L, int e)
{
    const char *name = errno_name(e);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", name, strerror(e));
    lua_pushstring(L, name);
    return 3;
}

static int files_kind(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    const char *kind;
    if (stat(path, &st) != 0)
        return push_errno(L, errno);
    if (S_ISREG(st.st_mode))
        kind = "file";
    else if (S_ISDIR(st.st_mode))
        kind = "directory";
    else if (S_ISFIFO(st.st_mode))
        kind = "fifo";
    else if (S_ISSOCK(st.st_mode))
        kind = "socket";
    else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        kind = "device";
    else
        kind = "other";
    lua_pushstring(L, kind);
    lua_pushinteger(L, (lua_Integer)st.st_size);
    /* access(2) asks without opening: the same rule open(O_RDONLY) would apply */
    lua_pushboolean(L, access(path, R_OK) == 0);
    return 3;
}

static int files_create_exclusive(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd;
    /* O_EXCL fails on any existing name, symlinks included; O_NOFOLLOW is belt and braces */
    do
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return push_errno(L, errno);
    if (close(fd) != 0) {
        int e = errno;
        unlink(path); /* ours: made just above */
        return push_errno(L, e);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int files_write_existing(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len, done = 0;
    const char *data = luaL_checklstring(L, 2, &len);
    struct stat st;
    int fd, e = 0;
    /* no O_CREAT; O_NONBLOCK so that a FIFO fails (ENXIO) or returns at once instead of blocking */
    do
        fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return push_errno(L, errno);
    if (fstat(fd, &st) != 0)
        e = errno;
    else if (!S_ISREG(st.st_mode))
        e = EINVAL;
    else if (ftruncate(fd, 0) != 0)
        e = errno;
    while (e == 0 && done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno != EINTR)
            e = errno;
        else if (n == 0)
            e = EIO; /* no progress on a regular file: give up rather than spin */
        else if (n > 0)
            done += (size_t)n;
    }
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e != 0) {
        if (e == EINVAL) {
            lua_pushnil(L);
            lua_pushliteral(L, "EINVAL: not a regular file");
            lua_pushliteral(L, "EINVAL");
            return 3;
        }
        return push_errno(L, e);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Fills `buf` from the kernel's generator: getrandom(2), else /dev/urandom. */
static int fill_random(unsigned char *buf, size_t len)
{
    size_t done = 0;
    int fd;
#if defined(__linux__)
    while (done < len) {
        ssize_t n = getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* ENOSYS (old kernel): try the device */
        }
        done += (size_t)n;
    }
    if (done == len)
        return 0;
#endif
    do
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno;
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            return e;
        }
        done += (size_t)n;
    }
    close(fd);
    return 0;
}

static int files_random_hex(lua_State *L)
{
    static const char digits[] = "0123456789abcdef";
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char bytes[RANDOM_MAX];
    char hex[2 * RANDOM_MAX];
    int e, i;
    luaL_argcheck(L, n >= 1 && n <= RANDOM_MAX, 1, "between 1 and 64 bytes");
    if ((e = fill_random(bytes, (size_t)n)) != 0)
        return push_errno(L, e);
    for (i = 0; i < (int)n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    lua_pushlstring(L, hex, (size_t)(2 * n));
    return 1;
}

void files_register(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"file_kind", files_kind},
        {"create_exclusive", files_create_exclusive},
        {"write_existing", files_write_existing},
        {"random_hex", files_random_hex},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
