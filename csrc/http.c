/*
 * HTTP over one reused libcurl easy handle: the libcurl transport's C half
 * (lua/voucherify/transport/curl.lua; the contract every transport keeps is
 * written at the top of lua/voucherify/transport/init.lua).
 *
 *   core.http_new(settings)   -> handle; settings are the client's and fixed
 *       for the handle's life: verify_tls, ca_file, proxy, max_body_size, and
 *       the default timeout, connect_timeout (seconds) of a request naming none
 *   handle:perform(request)   -> { status, headers, body | value, reused } | nil, failure
 *   handle:start(request), handle:wait(), handle:collect() -> the same, in
 *       three steps: start reads the request and sets the handle up (no I/O),
 *       wait runs the transfer, collect returns its outcome and forgets it
 *   handle:close(), __gc, __close
 *
 * A request carries only what is its own: method, url, headers (a list of
 * "Name: value" lines), body, multipart, output_path, idempotent, this
 * attempt's timeout / connect_timeout, and json / select: with `json`, a 2xx
 * body (not 204, not empty) is decoded straight from the receive buffer
 * after the transfer (json_decode_bytes, with the `select` selector of
 * core.json_select if any) and returned as `value` instead of `body`: no Lua
 * string of it is made.  A body that is not valid JSON comes back as `body`
 * (the Lua layer reports the error); other statuses always as `body`.
 *
 * `headers` is filled lazily on Lua 5.2+ (see push_headers): a name is
 * looked up in the received header block, and pairs() fills the table.
 * `rate_limit = false` says the answer has no X-Rate-Limit-* header.  A failure is { reason, message, sent,
 * curl_code }: `reason` one of the names listed in transport/init.lua
 * (curl_reason below maps libcurl's codes onto them), `sent` whether any
 * byte of the request went out.
 *
 * request.idempotent decides whether the request may ever be sent twice.
 * libcurl silently resends a request when a reused keep-alive connection
 * dies before the first response byte; once the server has read it, that is
 * a duplicate.  So a request that is not idempotent streams its body through
 * a read callback whose seek callback refuses to rewind: libcurl's resend
 * then fails with CURLE_SEND_FAIL_REWIND (reason "resend_refused") instead of
 * sending it again, and the connection is still reused (no TLS handshake per
 * create).  libcurl only rewinds when body bytes were written, so a
 * non-idempotent request without a body (or with a multipart body, whose
 * parts libcurl rewinds by itself) goes on a fresh connection, on which
 * libcurl never resends.  Idempotent requests keep libcurl's resend.
 *
 * settings.proxy: a URL, or false for no proxy at all (not even the
 * http_proxy/https_proxy/all_proxy environment variables libcurl reads by
 * default); nil leaves libcurl's default.
 *
 * The response is refused (reason "protocol") when a header line has a CR,
 * LF or NUL inside (RFC 9110 5.5) or a Content-Length is not one decimal
 * number (RFC 9112 6.3), and ("reset") when the connection closes inside the
 * header block.  Header blocks beyond HTTP_MAX_HEADER_BYTES or
 * HTTP_MAX_HEADER_LINES, and bodies beyond settings.max_body_size (in memory
 * or in the output file), fail as "too_large".  The cosocket transport
 * (lua/voucherify/transport/ngx.lua) applies the same rules.  Receive
 * buffers that grew past HTTP_KEEP_BUFFER are released after the transfer,
 * so one huge response does not pin its memory until close().
 *
 * request.multipart = { { name =, filename =, type =, path = | data = }, ... }
 * sends multipart/form-data built with libcurl's mime API (a `path` part is
 * streamed from the file, never read whole).  request.output_path streams a
 * 2xx response body into that file, which must exist already (the caller
 * created it): it is opened without O_CREAT, without following a symlink,
 * and only if it is a regular file.
 *
 * The libcurl callbacks only copy bytes between C buffers owned by the
 * handle: the Lua API is used before the transfer (reading the request) and
 * after it (building the result), never during.  Between start and collect
 * the handle anchors the request table (the body is sent from its string).
 *
 * csrc/multi.c runs many requests at once on a pool of these handles (one
 * multi handle per client): it uses the same set-up, checks and outcome
 * through the functions http.h declares (http_prepare, http_finish,
 * http_push_outcome, ...).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buffer.h"
#include "compat.h"
#include "http.h"
#include "json.h"

#define HTTP_MT "voucherify.core.http"

/* Response header limits, all header blocks of a response together, status
 * and empty lines included: far above what an API sends (nginx proxies 4-8 KB
 * of upstream headers by default), low enough that a hostile server cannot
 * make the client build a huge header table. */
#define HTTP_MAX_HEADER_BYTES (64 * 1024)
#define HTTP_MAX_HEADER_LINES 500
/* A receive buffer larger than this is freed after the transfer. */
#define HTTP_KEEP_BUFFER (1024 * 1024)

/* The fields of one request (reading them is the only step that may raise). */
typedef struct {
    const char *method;
    const char *url;
    const char *body; /* NULL: none */
    size_t body_len;
    const char *output_path;
    long connect_ms;
    long timeout_ms;
    int idempotent;
} http_request;

/* Sets a libcurl option or returns its error from the enclosing CURLcode function. */
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        CURLcode setopt_rc = curl_easy_setopt(h->easy, opt, val);                                  \
        if (setopt_rc != CURLE_OK)                                                                 \
            return setopt_rc;                                                                      \
    } while (0)

/* ------------------------------------------------------------------------
 * libcurl callbacks: bytes between the connection and the handle's buffers
 * ------------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = ud;
    size_t n = size * nmemb;
    if (h->out && h->xfer.status == 0)
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->xfer.status);
    if (h->out && h->xfer.status >= 200 && h->xfer.status < 300) {
        /* max_body_size bounds a body written to a file too, as on the cosocket transport */
        if (h->max_body && n > h->max_body - h->xfer.out_len) {
            h->xfer.too_large = 1;
            return 0;
        }
        h->xfer.out_len += n;
        if (fwrite(data, 1, n, h->out) != n) {
            h->xfer.write_failed = errno ? errno : EIO;
            return 0;
        }
        return n;
    }
    if (h->max_body && n > h->max_body - h->body.len) {
        h->xfer.too_large = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    if (!vbuf_append(&h->body, data, n)) {
        h->xfer.out_of_memory = 1;
        return 0;
    }
    return n;
}

/* Parses a Content-Length value strictly (RFC 9112 6.3): digits only, a list
 * only of identical values; -1 when invalid, INT64_MAX when more than 18
 * digits (larger than any limit). */
static curl_off_t parse_content_length(const char *p, const char *end)
{
    curl_off_t value = -1;
    while (p < end) {
        curl_off_t v = 0;
        int digits = 0;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
            v = digits < 18 ? v * 10 + (*p - '0') : (curl_off_t)INT64_MAX;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (digits == 0 || (value >= 0 && v != value))
            return -1;
        value = v;
        if (p < end && *p++ != ',')
            return -1;
    }
    return value;
}

/* Checks one header line as libcurl hands it over (status, field, blank or
 * trailer line, without its line ending): 0 stops the transfer, with
 * h->xfer.bad_header or h->xfer.too_large saying why. */
static int check_header_line(http_handle *h, const char *data, size_t content)
{
    static const char bad_length[] =
        "invalid response header: Content-Length is not one decimal number";
    if (memchr(data, '\r', content) || memchr(data, '\n', content) || memchr(data, '\0', content)) {
        h->xfer.bad_header = "invalid response header: a CR, LF or NUL inside a header line";
        return 0;
    }
    if (content >= 15 && strncasecmp(data, "content-length:", 15) == 0) {
        curl_off_t v = parse_content_length(data + 15, data + content);
        if (v < 0 || (h->xfer.content_length >= 0 && v != h->xfer.content_length)) {
            h->xfer.bad_header = bad_length;
            return 0;
        }
        h->xfer.content_length = v;
        if (h->max_body && (unsigned long long)v > (unsigned long long)h->max_body) {
            h->xfer.too_large = 1; /* refused before a byte of the body is read */
            return 0;
        }
        if (v == (curl_off_t)INT64_MAX) {
            h->xfer.bad_header = bad_length;
            return 0;
        }
    }
    return 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = ud;
    size_t n = size * nmemb, content = n;
    h->xfer.head_total += n;
    if (h->xfer.head_total > HTTP_MAX_HEADER_BYTES || ++h->xfer.head_lines > HTTP_MAX_HEADER_LINES) {
        h->xfer.head_too_large = 1;
        return 0;
    }
    /* a line ends with LF or CRLF; any other CR, LF or NUL in it is invalid (RFC 9110 5.5) */
    if (content && data[content - 1] == '\n')
        content--;
    if (content && data[content - 1] == '\r')
        content--;
    if (!check_header_line(h, data, content))
        return 0;
    if (h->xfer.head_done)
        return n; /* a trailer (after a chunked body): checked, not kept */
    if (content >= 5 && memcmp(data, "HTTP/", 5) == 0 && h->xfer.block_status == 0) {
        /* a status line ("HTTP/1.1 200 OK", "HTTP/2 200 ") starts a header
         * block: the final one, or a 1xx before it */
        const char *sp = memchr(data, ' ', content);
        h->head.len = 0;
        h->xfer.content_length = -1;
        h->xfer.rate_limit_lines = 0;
        h->xfer.block_status = 200;
        if (sp && (size_t)(sp - data) + 4 <= content && isdigit((unsigned char)sp[1]) &&
            isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
            h->xfer.block_status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    } else if (content >= 13 && strncasecmp(data, "x-rate-limit-", 13) == 0) {
        h->xfer.rate_limit_lines = 1;
    } else if (content == 0) {
        /* the end of a block: after the final one, only trailers can follow */
        h->xfer.head_done = h->xfer.block_status >= 200 || h->xfer.block_status == 101;
        h->xfer.block_status = 0;
    }
    if (!vbuf_append(&h->head, data, n)) {
        h->xfer.out_of_memory = 1;
        return 0;
    }
    return n;
}

/* Copies the next piece of a non-idempotent request's body. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    http_handle *h = ud;
    size_t room = size * nitems, left = h->xfer.upload_len - h->xfer.upload_pos;
    size_t n = left < room ? left : room;
    if (n) {
        memcpy(buf, h->xfer.upload + h->xfer.upload_pos, n);
        h->xfer.upload_pos += n;
    }
    return n;
}

/* Refuses every rewind, so libcurl cannot send the body a second time. */
static int refuse_seek(void *ud, curl_off_t offset, int origin)
{
    (void)ud;
    (void)offset;
    (void)origin;
    return CURL_SEEKFUNC_CANTSEEK;
}

/* Frees what one request needed: mime body, output file (the header list is
 * kept for the next request, see read_headers). */
static int end_request(http_handle *h)
{
    int close_failed = 0;
    if (h->mime) {
        if (h->easy)
            curl_easy_setopt(h->easy, CURLOPT_MIMEPOST, (curl_mime *)NULL);
        curl_mime_free(h->mime);
        h->mime = NULL;
    }
    if (h->out) {
        close_failed = fclose(h->out) != 0;
        h->out = NULL;
    }
    return close_failed;
}

/* After a transfer: frees receive buffers that one large response grew (small
 * ones are reused) and forgets the request body, which Lua owns. */
static void after_transfer(http_handle *h)
{
    if (h->body.cap > HTTP_KEEP_BUFFER)
        vbuf_free(&h->body);
    if (h->head.cap > HTTP_KEEP_BUFFER)
        vbuf_free(&h->head);
    h->body.len = 0;
    h->head.len = 0;
    h->xfer.upload = NULL;
    h->xfer.upload_len = h->xfer.upload_pos = 0;
}

/* ------------------------------------------------------------------------
 * Reading Lua values: settings (http_new) and requests (perform, start)
 * ------------------------------------------------------------------------ */

/* Pushes field `field` of the table at idx and returns 1, or returns 0 (and
 * pushes nothing) when it is nil; raises unless it has type `type`.  `what`
 * names the table in the error ("request", "settings"). */
static int opt_field(lua_State *L, int idx, const char *what, const char *field, int type,
                     const char *expected)
{
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_type(L, -1) != type)
        luaL_error(L, "voucherify.core: %s.%s must be %s", what, field, expected);
    return 1;
}

/* A string field, or NULL when absent.  The table keeps it alive. */
static const char *opt_string(lua_State *L, int idx, const char *what, const char *field)
{
    const char *s;
    if (!opt_field(L, idx, what, field, LUA_TSTRING, "a string"))
        return NULL;
    s = lua_tostring(L, -1);
    lua_pop(L, 1);
    return s;
}

/* A number of seconds as milliseconds (rounded up), or `absent` when nil. */
static long opt_millis(lua_State *L, int idx, const char *what, const char *field, long absent)
{
    lua_Number secs;
    long ms;
    if (!opt_field(L, idx, what, field, LUA_TNUMBER, "a number of seconds"))
        return absent;
    secs = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(secs > 0) || secs > 86400 * 365)
        luaL_error(L, "voucherify.core: %s.%s must be a positive number of seconds", what, field);
    ms = (long)ceil(secs * 1000);
    return ms > 0 ? ms : 1;
}

/* A boolean field, or `absent` when nil. */
static int opt_boolean(lua_State *L, int idx, const char *what, const char *field, int absent)
{
    int b;
    if (!opt_field(L, idx, what, field, LUA_TBOOLEAN, "a boolean"))
        return absent;
    b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

/* settings.proxy: a string, false (no proxy: ""), or nil (libcurl's default: NULL). */
static const char *opt_proxy(lua_State *L, int idx)
{
    const char *s = NULL;
    lua_getfield(L, idx, "proxy");
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tostring(L, -1);
    else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        s = "";
    else if (!lua_isnil(L, -1))
        luaL_error(L, "voucherify.core: settings.proxy must be a string or false");
    lua_pop(L, 1); /* the settings table keeps it alive; libcurl copies it */
    return s;
}

/* The client's settings: given once to http_new, never in a request. */
static const char *const settings_fields[] = {"verify_tls", "ca_file", "proxy", "max_body_size", NULL};

/* Whether the lines of the headers table on top of the stack are those
 * h->headers was built from (the same values, in a table the handle anchors). */
static int same_headers(lua_State *L, const http_handle *h)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, -1);
    int same;
    if (h->lines_ref == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->lines_ref); /* headers, lines */
    same = (lua_Integer)lua_rawlen(L, -1) == n;
    for (i = 1; same && i <= n; i++) {
        lua_rawgeti(L, -2, i);
        lua_rawgeti(L, -2, i);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    return same;
}

/* Drops the header list and the lines it was built from. */
static void drop_headers(lua_State *L, http_handle *h)
{
    curl_slist_free_all(h->headers);
    h->headers = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, h->lines_ref);
    h->lines_ref = LUA_NOREF;
}

/*
 * request.headers (an array of "Name: value" lines) as h->headers.  A client
 * sends the same lines on most calls (its auth.header_lines table), so the
 * list is kept and rebuilt only when the lines differ: a copy of the lines,
 * anchored, tells (their strings cannot be freed and their addresses reused).
 * Building the list cost two mallocs a line, and as many frees, per request.
 */
static void read_headers(lua_State *L, http_handle *h, int idx)
{
    lua_Integer i, n;
    lua_getfield(L, idx, "headers");
    if (!lua_istable(L, -1)) {
        drop_headers(L, h);
        lua_pop(L, 1);
        return;
    }
    if (same_headers(L, h)) {
        lua_pop(L, 1);
        return;
    }
    drop_headers(L, h); /* a raise below leaves a partial list with no lines: rebuilt next time */
    n = (lua_Integer)lua_rawlen(L, -1);
    lua_createtable(L, (int)n, 0); /* headers, lines */
    for (i = 1; i <= n + 1; i++) {
        struct curl_slist *grown;
        const char *line = "Expect:"; /* no 100-continue round trip */
        if (i <= n) {
            lua_rawgeti(L, -2, i);
            lua_pushvalue(L, -1);
            lua_rawseti(L, -3, i); /* the value itself: a number stays a number, as in the request */
            line = lua_tostring(L, -1);
            if (line == NULL)
                luaL_error(L, "voucherify.core: request.headers[%d] must be a string", (int)i);
            grown = curl_slist_append(h->headers, line);
            lua_pop(L, 1);
        } else {
            grown = curl_slist_append(h->headers, line);
        }
        if (grown == NULL)
            luaL_error(L, "voucherify.core: out of memory");
        h->headers = grown;
    }
    h->lines_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the lines */
    lua_pop(L, 1);
}

/* Reads the request table at idx into r and builds h->headers.  Raises on a
 * malformed request (a programmer error), before anything is sent. */
static void read_request(lua_State *L, http_handle *h, int idx, http_request *r)
{
    const char *const *setting;
    /* loud, not ignored: a caller that thinks it turned verification off must learn it did not */
    for (setting = settings_fields; *setting; setting++) {
        lua_getfield(L, idx, *setting);
        if (!lua_isnil(L, -1))
            luaL_error(L, "voucherify.core: request.%s is a setting of the handle: give it to http_new",
                       *setting);
        lua_pop(L, 1);
    }
    r->method = opt_string(L, idx, "request", "method");
    r->url = opt_string(L, idx, "request", "url");
    if (r->method == NULL || r->url == NULL)
        luaL_error(L, "voucherify.core: request.method and request.url are required");
    lua_getfield(L, idx, "body");
    r->body_len = 0;
    r->body = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &r->body_len) : NULL;
    lua_pop(L, 1); /* the request table keeps the body alive during the transfer */
    r->output_path = opt_string(L, idx, "request", "output_path");
    /* this attempt's time, else the client's */
    r->connect_ms = opt_millis(L, idx, "request", "connect_timeout", h->connect_ms);
    r->timeout_ms = opt_millis(L, idx, "request", "timeout", h->timeout_ms);
    lua_getfield(L, idx, "idempotent");
    r->idempotent = lua_toboolean(L, -1);
    lua_pop(L, 1);

    read_headers(L, h, idx);
}

/* ------------------------------------------------------------------------
 * Reading the multipart body and the output file
 * ------------------------------------------------------------------------ */

/* Reads a string field of the table at the top of the stack (NULL when absent). */
static const char *part_string(lua_State *L, const char *field, size_t *len)
{
    const char *s;
    lua_getfield(L, -1, field);
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1); /* the part table keeps it alive */
    return s;
}

/* Builds h->mime from request.multipart; returns a CURLcode. */
static CURLcode build_mime(lua_State *L, http_handle *h)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, -1);
    CURLcode rc;
    h->mime = curl_mime_init(h->easy);
    if (h->mime == NULL)
        return CURLE_OUT_OF_MEMORY;
    for (i = 1; i <= n; i++) {
        curl_mimepart *part;
        const char *name, *filename, *type, *path, *data;
        size_t len = 0, ignored;
        lua_rawgeti(L, -1, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "voucherify.core: request.multipart[%d] must be a table", (int)i);
        name = part_string(L, "name", &ignored);
        filename = part_string(L, "filename", &ignored);
        type = part_string(L, "type", &ignored);
        path = part_string(L, "path", &ignored);
        data = part_string(L, "data", &len);
        if (name == NULL || (path == NULL) == (data == NULL))
            luaL_error(L, "voucherify.core: request.multipart[%d] needs a name and one of path, data",
                       (int)i);
        part = curl_mime_addpart(h->mime);
        if (part == NULL)
            return CURLE_OUT_OF_MEMORY;
        if ((rc = curl_mime_name(part, name)) != CURLE_OK)
            return rc;
        rc = path ? curl_mime_filedata(part, path) : curl_mime_data(part, data, len);
        if (rc != CURLE_OK)
            return rc;
        /* filedata sets the file's own name; an explicit one wins */
        if (filename && (rc = curl_mime_filename(part, filename)) != CURLE_OK)
            return rc;
        if (type && (rc = curl_mime_type(part, type)) != CURLE_OK)
            return rc;
        lua_pop(L, 1);
    }
    return CURLE_OK;
}

/* Opens the output file the caller created: never creates one, never follows a
 * symlink, never blocks on a FIFO, writes only to a regular file. */
static FILE *open_output(const char *path)
{
    struct stat st;
    FILE *f;
    int flags, err = 0, fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = EINVAL;
    else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        err = errno;
    if (err == 0 && (f = fdopen(fd, "wb")) != NULL)
        return f;
    err = err ? err : errno;
    close(fd);
    errno = err;
    return NULL;
}

/* ------------------------------------------------------------------------
 * Setting the handle up: once per handle, then once per request
 * ------------------------------------------------------------------------ */

/*
 * Options that never change for a handle, set once by http_new: re-setting
 * every option on every request costs more than the rest of the library's
 * work on a small GET.
 */
static CURLcode set_static_options(http_handle *h, int verify_tls, const char *ca_file,
                                   const char *proxy)
{
    /* a proxy's answer to CONNECT is not the API's: on_header sees only the API's blocks */
    SETOPT(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, h);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, h);
    /* used only when POSTFIELDS is NULL: the bodies of non-idempotent requests */
    SETOPT(CURLOPT_READFUNCTION, on_read);
    SETOPT(CURLOPT_READDATA, h);
    SETOPT(CURLOPT_SEEKFUNCTION, refuse_seek);
    SETOPT(CURLOPT_SEEKDATA, h);
    /* an id is one path segment whatever its bytes: never remove "." or ".." segments */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, verify_tls ? 1L : 0L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, verify_tls ? 2L : 0L);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body); /* 0: none */
    if (ca_file)
        SETOPT(CURLOPT_CAINFO, ca_file);
    if (proxy)
        SETOPT(CURLOPT_PROXY, proxy); /* "": no proxy, whatever the environment says */
    return CURLE_OK;
}

/* Clears what the last transfer left (the receive buffers keep their memory). */
static void reset_transfer(http_handle *h)
{
    memset(&h->xfer, 0, sizeof h->xfer);
    h->xfer.content_length = -1;
    h->body.len = 0;
    h->head.len = 0;
    h->errbuf[0] = '\0';
}

/* Sets the method and the body (none, in memory, streamed, multipart) and
 * whether the request needs a fresh connection.  The multipart table is read
 * from the request at idx. */
static CURLcode set_body(lua_State *L, http_handle *h, int idx, const http_request *r)
{
    const char *method = r->method;
    int rewinds = 0; /* libcurl could resend it without a rewind for on_read to refuse */
    int multipart;
    CURLcode rc = CURLE_OK;

    lua_getfield(L, idx, "multipart");
    multipart = lua_istable(L, -1);
    if (multipart)
        rc = build_mime(L, h);
    lua_pop(L, 1);
    if (rc != CURLE_OK)
        return rc;

    /* every method option is set on every request, so nothing leaks from the last one */
    SETOPT(CURLOPT_CUSTOMREQUEST, (char *)NULL);
    SETOPT(CURLOPT_NOBODY, 0L);
    if (multipart) {
        SETOPT(CURLOPT_MIMEPOST, h->mime);
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
        rewinds = 1; /* libcurl rewinds mime parts by itself */
    } else if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
        rewinds = 1;
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
        rewinds = 1;
    } else if (r->body == NULL && strcmp(method, "DELETE") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
        rewinds = 1;
    } else {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (r->idempotent || r->body_len == 0) {
            SETOPT(CURLOPT_POSTFIELDS, r->body ? r->body : "");
            rewinds = 1; /* no body byte to refuse a rewind of */
        } else {
            /* streamed through on_read, which refuse_seek never lets libcurl replay */
            h->xfer.upload = r->body;
            h->xfer.upload_len = r->body_len;
            SETOPT(CURLOPT_POSTFIELDS, (char *)NULL);
            SETOPT(CURLOPT_POST, 1L);
        }
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
    /* on a new connection libcurl never resends: the only way for a request it could replay */
    SETOPT(CURLOPT_FRESH_CONNECT, rewinds && !r->idempotent ? 1L : 0L);
    return CURLE_OK;
}

/* Reads the request at idx and sets the handle up for it, without I/O.  Not
 * CURLE_OK: the request failed before anything was sent (a multipart part,
 * the output file); a malformed request raises. */
CURLcode http_prepare(lua_State *L, http_handle *h, int idx)
{
    http_request r;
    CURLcode rc;
    read_request(L, h, idx, &r);
    reset_transfer(h);
    h->output_path = r.output_path;
    SETOPT(CURLOPT_URL, r.url);
    SETOPT(CURLOPT_HTTPHEADER, h->headers);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, r.connect_ms); /* 0: libcurl's default */
    SETOPT(CURLOPT_TIMEOUT_MS, r.timeout_ms);        /* 0: none; it bounds connecting too */
    if ((rc = set_body(L, h, idx, &r)) != CURLE_OK)
        return rc;
    if (r.output_path) {
        h->out = open_output(r.output_path);
        if (h->out == NULL) {
            h->xfer.write_failed = errno ? errno : EIO;
            return CURLE_WRITE_ERROR;
        }
    }
    return CURLE_OK;
}

CURLcode http_finish(http_handle *h, CURLcode rc)
{
    if (end_request(h) && rc == CURLE_OK) {
        h->xfer.write_failed = errno ? errno : EIO;
        rc = CURLE_WRITE_ERROR;
    }
    if (rc == CURLE_OK && !h->xfer.head_done) {
        /* the server closed inside the header block: libcurl takes what came as the answer */
        h->xfer.bad_header = "the connection closed before the end of the response headers";
        rc = CURLE_RECV_ERROR;
    }
    if (rc == CURLE_OUT_OF_MEMORY && !h->xfer.out_of_memory && !h->xfer.head_done)
        h->xfer.head_too_large = 1; /* libcurl refused a header line over its own cap (100 KB) */
    return rc;
}

/* Runs the transfer prepared: blocks until it ends. */
static CURLcode transfer(http_handle *h)
{
    h->xfer.transferred = 1;
    return http_finish(h, curl_easy_perform(h->easy));
}

/* ------------------------------------------------------------------------
 * The outcome: { status, headers, body, reused } or nil, failure
 * ------------------------------------------------------------------------ */

/* RFC 9110 tchar: what a field name is made of. */
static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_token(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!is_tchar((unsigned char)p[i]))
            return 0;
    return n > 0;
}

/* One "name: value" line of a header block, as the headers table sees it. */
typedef struct {
    const char *name, *value;
    size_t name_len, value_len;
} header_line;

/* The next header line at or after *p (updating *p past it): 1, or 0 at the
 * end.  Lines that are not "token: value" (the status line, obs-fold) and
 * names of 256 bytes or more are skipped; the value has its blanks trimmed. */
static int next_header(const char **p, const char *end, header_line *out)
{
    while (*p < end) {
        const char *line = *p;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(line, ':', (size_t)(line_end - line));
        *p = eol ? eol + 1 : end;
        if (colon && (size_t)(colon - line) < 256 && is_token(line, (size_t)(colon - line))) {
            const char *v = colon + 1, *vend = line_end;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            out->name = line;
            out->name_len = (size_t)(colon - line);
            out->value = v;
            out->value_len = (size_t)(vend - v);
            return 1;
        }
    }
    return 0;
}

/* Sets, in the table at idx, every header of block[0..len): names lowercased,
 * repeated names joined with ", " (RFC 9110 5.3).  Names the table holds
 * already are left as they are (a value a caller assigned). */
static void fill_headers(lua_State *L, int idx, const char *block, size_t len)
{
    const char *p = block, *end = block + len;
    header_line h;
    int fresh;
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    lua_newtable(L); /* the names this block set */
    fresh = lua_gettop(L);
    while (next_header(&p, end, &h)) {
        char name[256];
        size_t i;
        for (i = 0; i < h.name_len; i++)
            name[i] = (char)tolower((unsigned char)h.name[i]);
        lua_pushlstring(L, name, h.name_len);
        lua_pushvalue(L, -1);
        lua_rawget(L, fresh);
        if (lua_isstring(L, -1)) {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, h.value, h.value_len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_rawget(L, idx);
            if (!lua_isnil(L, -1)) { /* the caller's own value stays */
                lua_pop(L, 2);
                continue;
            }
            lua_pop(L, 1);
            lua_pushlstring(L, h.value, h.value_len);
        }
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, fresh);
        lua_rawset(L, idx);
    }
    lua_pop(L, 1);
}

#if LUA_VERSION_NUM >= 502
/*
 * Lazy headers (Lua 5.2+, where pairs honours __pairs): most callers read a
 * header or two, or none, so the table is not built per response.  The
 * headers table starts empty, with a metatable of its own holding the header
 * block (one string): reading a name scans the block for it (the library
 * reads the rate-limit ones on every answer); pairs() first fills the table
 * with every header and drops the metatable, so it is a plain table from then
 * on.  Names are lowercase, repeated ones joined with ", ", as before.
 * (LuaJIT's pairs ignores __pairs: there the table is built at once.)
 */
#define HEADER_BLOCK 1   /* the metatable's field holding the block */
#define HEADER_DELETED 2 /* the names the caller set to nil: { name = true } */

/* Whether the caller deleted header `name` (the key at index k) from the
 * headers table whose metatable is on top of the stack. */
static int header_deleted(lua_State *L, int k)
{
    int deleted;
    k = k < 0 ? lua_gettop(L) + k + 1 : k;
    lua_rawgeti(L, -1, HEADER_DELETED);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, k);
    lua_rawget(L, -2);
    deleted = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return deleted;
}

/* __index(headers, name): the value of header `name` (lowercase), or nil. */
static int headers_index(lua_State *L)
{
    size_t klen, len, i;
    const char *key, *block, *p, *end;
    header_line h;
    luaL_Buffer b;
    int found = 0;
    if (lua_type(L, 2) != LUA_TSTRING || !lua_getmetatable(L, 1))
        return 0;
    if (header_deleted(L, 2))
        return 0;
    key = lua_tolstring(L, 2, &klen);
    lua_rawgeti(L, -1, HEADER_BLOCK);
    block = lua_tolstring(L, -1, &len);
    if (block == NULL)
        return 0;
    if (klen == 0 || klen >= 256 || !is_token(key, klen))
        return 0;
    end = block + len;
    for (p = block; p < end;) {
        /* only a line "<key>:..." can match: compared before it is parsed */
        const char *line = p, *eol = memchr(p, '\n', (size_t)(end - p));
        p = eol ? eol + 1 : end;
        if ((size_t)(p - line) <= klen || line[klen] != ':')
            continue;
        for (i = 0; i < klen && (char)tolower((unsigned char)line[i]) == key[i]; i++)
            ;
        if (i < klen || !next_header(&line, p, &h))
            continue;
        if (found++ == 0)
            luaL_buffinit(L, &b);
        else
            luaL_addlstring(&b, ", ", 2);
        luaL_addlstring(&b, h.value, h.value_len);
    }
    if (!found)
        return 0;
    luaL_pushresult(&b);
    return 1;
}

/* Fills the headers table at 1 from its block and makes it a plain table. */
static void headers_materialize(lua_State *L)
{
    size_t len;
    const char *block;
    if (!lua_getmetatable(L, 1))
        return;
    lua_rawgeti(L, -1, HEADER_BLOCK);
    block = lua_tolstring(L, -1, &len);
    if (block)
        fill_headers(L, 1, block, len);
    lua_pop(L, 1);
    lua_rawgeti(L, -1, HEADER_DELETED); /* what the caller deleted stays deleted */
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, 1);
        }
    }
    lua_pop(L, 2);
    lua_pushnil(L);
    lua_setmetatable(L, 1);
}

/* __newindex(headers, name, value): nil deletes a header not yet read into
 * the table (recorded, so that __index and pairs skip it); a value is set. */
static int headers_newindex(lua_State *L)
{
    lua_settop(L, 3);
    if (lua_getmetatable(L, 1)) { /* 4 */
        lua_rawgeti(L, 4, HEADER_DELETED); /* 5 */
        if (lua_isnil(L, 5) && lua_isnil(L, 3)) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_rawseti(L, 4, HEADER_DELETED);
        }
        if (lua_istable(L, 5)) {
            lua_pushvalue(L, 2);
            if (lua_isnil(L, 3))
                lua_pushboolean(L, 1);
            else
                lua_pushnil(L);
            lua_rawset(L, 5);
        }
    }
    if (!lua_isnil(L, 3)) {
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_rawset(L, 1);
    }
    return 0;
}

/* next(), for __pairs: the environment may have no global `next`. */
static int headers_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs(headers): every header, the table filled first. */
static int headers_pairs(lua_State *L)
{
    lua_settop(L, 1);
    headers_materialize(L);
    lua_pushcfunction(L, headers_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}
#endif

/* Pushes the headers table of the header block (see above). */
static void push_headers(lua_State *L, const vbuf *head)
{
#if LUA_VERSION_NUM >= 502
    lua_createtable(L, 0, 0);
    lua_createtable(L, 2, 3);
    lua_pushlstring(L, head->data ? head->data : "", head->len);
    lua_rawseti(L, -2, HEADER_BLOCK);
    lua_pushcfunction(L, headers_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, headers_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, headers_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
#else
    lua_newtable(L);
    if (head->len)
        fill_headers(L, -1, head->data, head->len);
#endif
}

/* libcurl's error codes as the named reasons of lua/voucherify/transport/init.lua. */
static const char *curl_reason(CURLcode rc)
{
    switch (rc) {
    case CURLE_URL_MALFORMAT:
        return "url";
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
        return "resolve";
    case CURLE_COULDNT_CONNECT:
#if LIBCURL_VERSION_NUM >= 0x074900
    case CURLE_PROXY: /* the proxy refused the tunnel: nothing reached the API */
#endif
        return "connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return "reset";
    case CURLE_UNSUPPORTED_PROTOCOL: /* an HTTP/0.9 answer (only http and https URLs are allowed) */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return "protocol";
    case CURLE_SEND_FAIL_REWIND:
        return "resend_refused";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    case CURLE_WRITE_ERROR:
        return "write";
    case CURLE_READ_ERROR:
        return "upload";
    case CURLE_OUT_OF_MEMORY:
        return "memory";
    default:
        return "other";
    }
}

/* Why the transfer failed: what the callbacks saw first, else libcurl's code. */
static const char *failure_reason(const http_handle *h, CURLcode rc)
{
    if (h->xfer.too_large || h->xfer.head_too_large)
        return "too_large";
    if (h->xfer.out_of_memory)
        return "memory";
    if (h->xfer.write_failed)
        return "write";
    return curl_reason(rc);
}

/* The failure's message: the library's words where it knows better than libcurl. */
static void push_failure_message(lua_State *L, const http_handle *h, CURLcode rc)
{
    if (h->xfer.out_of_memory) {
        lua_pushliteral(L, "out of memory while receiving the response");
    } else if (h->xfer.write_failed) {
        lua_pushfstring(L, "cannot write the response to %s: %s",
                        h->output_path ? h->output_path : "the output file", strerror(h->xfer.write_failed));
    } else if (h->xfer.too_large) {
        char msg[80];
        snprintf(msg, sizeof msg, "response body larger than the %llu-byte limit",
                 (unsigned long long)h->max_body);
        lua_pushstring(L, msg);
    } else if (h->xfer.head_too_large) {
        lua_pushfstring(L, "response headers larger than the limit (%d bytes, %d lines)",
                        HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADER_LINES);
    } else if (h->xfer.bad_header) {
        lua_pushstring(L, h->xfer.bad_header);
    } else if (rc == CURLE_SEND_FAIL_REWIND) {
        lua_pushliteral(L, "the connection closed after the request was sent, before any answer"
                           " (not sent again: the request is not idempotent)");
    } else {
        lua_pushstring(L, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    }
}

/* Pushes nil and { reason, message, sent, curl_code }. */
static int push_failure(lua_State *L, http_handle *h, CURLcode rc)
{
    long sent = 0;
    if (h->xfer.bad_header && rc == CURLE_WRITE_ERROR)
        rc = CURLE_WEIRD_SERVER_REPLY; /* not the CURLE_WRITE_ERROR on_header's 0 makes */
    if (rc == CURLE_FILESIZE_EXCEEDED)
        h->xfer.too_large = 1; /* Content-Length above max_body_size: refused before reading */
    /* (a request that failed before its transfer sent nothing, whatever the last one did) */
    if (!h->xfer.transferred || curl_easy_getinfo(h->easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
        sent = 0;
    lua_pushnil(L);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, failure_reason(h, rc));
    lua_setfield(L, -2, "reason");
    push_failure_message(L, h, rc);
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, sent > 0);
    lua_setfield(L, -2, "sent");
    lua_pushinteger(L, (lua_Integer)rc);
    lua_setfield(L, -2, "curl_code");
    return 2;
}

/* Sets the response's `value` (the body decoded straight from the receive
 * buffer) when the request at req_idx asked for JSON (request.json, with its
 * request.select selector) and the status says a body to decode came: 1 done,
 * 0 not (no JSON expected, or not valid JSON: the caller then gets `body`
 * and the Lua layer decodes it, with the same error as before). */
static int set_value(lua_State *L, const http_handle *h, long status, int req_idx)
{
    int select_idx = 0, n;
    if (req_idx == 0 || status < 200 || status >= 300 || status == 204 || h->body.len == 0)
        return 0;
    lua_getfield(L, req_idx, "json");
    n = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!n)
        return 0;
    lua_getfield(L, req_idx, "select");
    if (!lua_isnil(L, -1))
        select_idx = lua_gettop(L);
    n = json_decode_bytes(L, h->body.data, h->body.len, select_idx);
    if (n != 1) {
        lua_pop(L, n + 1); /* nil, message, selector */
        return 0;
    }
    lua_setfield(L, -3, "value");
    lua_pop(L, 1); /* the selector (or nil) */
    return 1;
}

/* Pushes { status, headers, body | value, reused }. */
static int push_response(lua_State *L, http_handle *h, long status, int req_idx)
{
    long connects = 1;
    if (curl_easy_getinfo(h->easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK)
        connects = 1;
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    push_headers(L, &h->head);
    lua_setfield(L, -2, "headers");
    if (!h->xfer.rate_limit_lines) {
        /* no X-Rate-Limit-* header: the Lua layer need not look for one */
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "rate_limit");
    }
    if (!set_value(L, h, status, req_idx)) {
        lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
        lua_setfield(L, -2, "body");
    }
    lua_pushboolean(L, connects == 0); /* no new connection: a kept-alive one answered */
    lua_setfield(L, -2, "reused");
    return 1;
}

/* Pushes the outcome of a transfer that ended with rc, then lets its buffers go. */
int http_push_outcome(lua_State *L, http_handle *h, CURLcode rc, int req_idx)
{
    long status = 0;
    int n;
    end_request(h); /* a request that failed before its transfer still holds these */
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    n = rc == CURLE_OK ? push_response(L, h, status, req_idx) : push_failure(L, h, rc);
    after_transfer(h);
    return n;
}

/* ------------------------------------------------------------------------
 * The Lua API
 * ------------------------------------------------------------------------ */

int http_run_busy(lua_State *L, lua_CFunction fn, int *busy)
{
    int status;
    lua_pushcfunction(L, fn);
    lua_insert(L, 1);
    *busy = 1;
    status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    *busy = 0;
    return status;
}

void http_check_usable(lua_State *L, const http_handle *h)
{
    if (h->busy)
        luaL_error(L, "voucherify.core: the HTTP handle is busy with a request"
                      " (a finalizer used the client while it read or answered one)");
    if (h->easy == NULL)
        luaL_error(L, "voucherify.core: the HTTP handle is closed");
}

static http_handle *check_open(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    http_check_usable(L, h);
    return h;
}

/* Runs fn (a method of the handle at 1, with the arguments on the stack)
 * while the handle is busy; then the close a finalizer asked for meanwhile. */
static int run_on_handle(lua_State *L, http_handle *h, lua_CFunction fn)
{
    int status = http_run_busy(L, fn, &h->busy);
    if (h->close_pending) {
        h->close_pending = 0;
        http_release(L, h);
    }
    return status == 0 ? lua_gettop(L) : lua_error(L);
}

/* Drops the request in progress, if any: one that was started and never
 * collected, or one whose reading raised midway. */
void http_abandon(lua_State *L, http_handle *h)
{
    end_request(h);
    after_transfer(h);
    luaL_unref(L, LUA_REGISTRYINDEX, h->request_ref);
    h->request_ref = LUA_NOREF;
    h->state = HTTP_IDLE;
}

void http_release(lua_State *L, http_handle *h)
{
    http_abandon(L, h);
    drop_headers(L, h);
    if (h->easy) {
        curl_easy_cleanup(h->easy);
        h->easy = NULL;
    }
    vbuf_free(&h->body);
    vbuf_free(&h->head);
}

void http_read_settings(lua_State *L, int idx, http_settings *s)
{
    lua_Integer max_body = 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    s->verify_tls = opt_boolean(L, idx, "settings", "verify_tls", 1);
    s->ca_file = opt_string(L, idx, "settings", "ca_file");
    s->proxy = opt_proxy(L, idx);
    lua_getfield(L, idx, "max_body_size");
    if (!lua_isnil(L, -1))
        max_body = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    s->max_body = max_body > 0 ? (size_t)max_body : 0;
    s->connect_ms = opt_millis(L, idx, "settings", "connect_timeout", 0);
    s->timeout_ms = opt_millis(L, idx, "settings", "timeout", 0);
}

CURLcode http_init(http_handle *h, const http_settings *s)
{
    vbuf_init(&h->body);
    vbuf_init(&h->head);
    h->request_ref = LUA_NOREF;
    h->lines_ref = LUA_NOREF;
    h->state = HTTP_IDLE;
    h->connect_ms = s->connect_ms;
    h->timeout_ms = s->timeout_ms;
    h->max_body = s->max_body;
    h->easy = curl_easy_init();
    if (h->easy == NULL)
        return CURLE_FAILED_INIT;
    return set_static_options(h, s->verify_tls, s->ca_file, s->proxy);
}

/* core.http_new([settings]) -> handle, set up once for the client's settings. */
static int http_new(lua_State *L)
{
    http_handle *h;
    http_settings s;
    CURLcode rc;

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    lua_settop(L, 1);
    http_read_settings(L, 1, &s);
    h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    h->request_ref = LUA_NOREF;
    h->lines_ref = LUA_NOREF;
    luaL_getmetatable(L, HTTP_MT);
    lua_setmetatable(L, -2);
    if ((rc = http_init(h, &s)) != CURLE_OK)
        return luaL_error(L, "voucherify.core: cannot set up libcurl: %s", curl_easy_strerror(rc));
    return 1;
}

static int http_close(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    if (h->busy)
        h->close_pending = 1; /* released once the call in progress is done */
    else
        http_release(L, h);
    return 0;
}

static int perform_busy(lua_State *L)
{
    http_handle *h = (http_handle *)lua_touserdata(L, 1);
    CURLcode rc;
    http_abandon(L, h);
    rc = http_prepare(L, h, 2);
    if (rc == CURLE_OK)
        rc = transfer(h);
    return http_push_outcome(L, h, rc, 2); /* the request is still at index 2: its strings live */
}

/* handle:perform(request) -> response | nil, failure: start, wait and collect in one call. */
static int http_perform(lua_State *L)
{
    http_handle *h = check_open(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    return run_on_handle(L, h, perform_busy);
}

/* handle:start(request): sets the handle up for the request (no I/O).  A
 * request started before and never collected is dropped. */
static int start_busy(lua_State *L)
{
    http_handle *h = (http_handle *)lua_touserdata(L, 1);
    http_abandon(L, h);
    h->rc = http_prepare(L, h, 2);
    h->request_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it: anchored until collect */
    h->state = h->rc == CURLE_OK ? HTTP_STARTED : HTTP_DONE;
    return 0;
}

static int http_start(lua_State *L)
{
    http_handle *h = check_open(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    return run_on_handle(L, h, start_busy);
}

/* handle:wait(): runs the started request's transfer, blocking until it ends. */
static int http_wait(lua_State *L)
{
    http_handle *h = check_open(L);
    if (h->state == HTTP_IDLE)
        return luaL_error(L, "voucherify.core: no request was started");
    if (h->state == HTTP_STARTED) {
        h->rc = transfer(h);
        h->state = HTTP_DONE;
    }
    return 0;
}

static int collect_busy(lua_State *L)
{
    http_handle *h = (http_handle *)lua_touserdata(L, 1);
    int n;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->request_ref); /* index 2 */
    n = http_push_outcome(L, h, h->rc, lua_istable(L, 2) ? 2 : 0);
    luaL_unref(L, LUA_REGISTRYINDEX, h->request_ref); /* after the message named output_path */
    h->request_ref = LUA_NOREF;
    h->state = HTTP_IDLE;
    return n;
}

/* handle:collect() -> response | nil, failure: the outcome of the request waited for. */
static int http_collect(lua_State *L)
{
    http_handle *h = check_open(L);
    if (h->state != HTTP_DONE)
        return luaL_error(L, "voucherify.core: no finished request to collect (start, wait, then collect)");
    lua_settop(L, 1);
    return run_on_handle(L, h, collect_busy);
}

/* Bytes the handle keeps allocated for receiving between transfers (for tests). */
static int http_retained(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    lua_pushinteger(L, (lua_Integer)(h->body.cap + h->head.cap));
    return 1;
}

static int http_tostring(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    lua_pushfstring(L, "voucherify.core.http (%s)", h->easy ? "open" : "closed");
    return 1;
}

void http_register_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                         lua_CFunction tostring)
{
    if (luaL_newmetatable(L, name)) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__close");
#endif
        if (tostring) {
            lua_pushcfunction(L, tostring);
            lua_setfield(L, -2, "__tostring");
        }
    }
    lua_pop(L, 1);
}

void http_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"perform", http_perform},
        {"start", http_start},
        {"wait", http_wait},
        {"collect", http_collect},
        {"close", http_close},
        {"retained_bytes", http_retained},
        {NULL, NULL},
    };
    static const luaL_Reg fns[] = {
        {"http_new", http_new},
        {NULL, NULL},
    };
    curl_version_info_data *info;

    http_register_class(L, HTTP_MT, methods, http_close, http_tostring);
    luaL_setfuncs(L, fns, 0);
    multi_register(L);
    info = curl_version_info(CURLVERSION_NOW);
    lua_pushstring(L, info && info->version ? info->version : "unknown");
    lua_setfield(L, -2, "curl_version");
}
