/*
 * LD_PRELOAD shim for spec/nginx_spec.lua: every TLS handshake that nginx
 * starts as a client completes without waiting, as happens by chance on a
 * busy machine (nginx is descheduled between sending a flight and reading
 * the answer, and the server answers meanwhile).
 *
 * After a process writes a TLS handshake record on a socket, its next read()
 * there first waits until the server's answer has arrived (poll, at most
 * 5 s) and has stopped growing (no new byte for QUIET_MS).  OpenSSL then
 * finds the server's whole flight in one read and ngx_ssl_handshake()
 * returns NGX_OK at once: the path where lua-resty-core 0.1.25 raises
 * "assertion failed!" instead of returning a failed verification
 * (openresty/lua-resty-core#499).  Only the timing changes: every byte still
 * goes through libc's read() and write() unchanged.  OpenSSL's socket BIO
 * uses read()/write(); nginx's plain sockets use recv()/send() and are not
 * touched.
 *
 * With TLS_AT_ONCE_LOG=FILE in the environment it appends a line to FILE for
 * each answer it waited for, so that a test can tell the shim was at work.
 *
 *   LD_PRELOAD=$PWD/build/support/tls_at_once.so TLS_AT_ONCE_LOG=$PWD/held.log nginx ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FDS 4096
#define FIRST_BYTE_MS 5000
#define QUIET_MS 100

/* fds on which a handshake record was written and not yet answered */
static unsigned char waiting_answer[MAX_FDS];

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_close)(int);
static int log_fd = -1;

static void resolve(void)
{
    *(void **)&real_write = dlsym(RTLD_NEXT, "write");
    *(void **)&real_read = dlsym(RTLD_NEXT, "read");
    *(void **)&real_close = dlsym(RTLD_NEXT, "close");
}

/* Runs at load time, in nginx's master (its workers inherit the log fd). */
__attribute__((constructor)) static void init(void)
{
    const char *path = getenv("TLS_AT_ONCE_LOG");
    if (!real_write)
        resolve();
    if (path)
        log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static int is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Waits until the peer's answer is there and no more of it is coming. */
static void wait_for_whole_answer(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    int available = 0, one = 1, rounds;
    if (poll(&p, 1, FIRST_BYTE_MS) != 1)
        return;
    /* SO_RCVLOWAT makes poll wake only once more than what is there arrives */
    for (rounds = 0; rounds < 100 && ioctl(fd, FIONREAD, &available) == 0; rounds++) {
        int low = available + 1;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &low, sizeof low) != 0 || poll(&p, 1, QUIET_MS) != 1)
            break;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    if (log_fd >= 0) {
        char line[64];
        int n = snprintf(line, sizeof line, "held fd %d until %d bytes were there\n", fd, available);
        if (n > 0 && real_write(log_fd, line, (size_t)n) < 0)
            log_fd = -1;
    }
}

ssize_t write(int fd, const void *buf, size_t count)
{
    const unsigned char *bytes = buf;
    if (!real_write)
        resolve(); /* called before our constructor ran */
    /* a TLS record of type 22: handshake (ClientHello, or the client's second flight) */
    if (fd >= 0 && fd < MAX_FDS && count > 5 && bytes[0] == 22 && bytes[1] == 3 && is_socket(fd))
        waiting_answer[fd] = 1;
    return real_write(fd, buf, count);
}

ssize_t read(int fd, void *buf, size_t count)
{
    if (!real_read)
        resolve();
    if (fd >= 0 && fd < MAX_FDS && waiting_answer[fd]) {
        waiting_answer[fd] = 0;
        wait_for_whole_answer(fd);
    }
    return real_read(fd, buf, count);
}

int close(int fd)
{
    if (!real_close)
        resolve();
    if (fd >= 0 && fd < MAX_FDS)
        waiting_answer[fd] = 0;
    return real_close(fd);
}
