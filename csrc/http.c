/*
 * HTTP over one reused libcurl easy handle.
 *
 * handle:perform(request) sends a request described by a plain table and
 * returns { status, headers, body }, or nil and a failure table
 * { code, name, message, sent, too_large } when libcurl could not complete
 * the transfer.
 *
 * request.idempotent decides whether the request may ever be sent twice.
 * libcurl silently resends a request when a reused keep-alive connection
 * dies before the first response byte; once the server has read it, that is
 * a duplicate.  So a request that is not idempotent streams its body through
 * a read callback whose seek callback refuses to rewind: libcurl's resend
 * then fails with CURLE_SEND_FAIL_REWIND instead of sending it again, and
 * the connection is still reused (no TLS handshake per create).  libcurl
 * only rewinds when body bytes were written, so a non-idempotent request
 * without a body (or with a multipart body, whose parts libcurl rewinds by
 * itself) goes on a fresh connection, on which libcurl never resends.
 * Idempotent requests keep libcurl's resend.
 *
 * request.proxy: a URL, or false for no proxy at all (not even the
 * http_proxy/https_proxy/all_proxy environment variables libcurl reads by
 * default); nil leaves libcurl's default.
 *
 * The response is refused (CURLE_WEIRD_SERVER_REPLY) when a header line has
 * a CR, LF or NUL inside (RFC 9110 5.5) or a Content-Length is not one
 * decimal number (RFC 9112 6.3), and (CURLE_RECV_ERROR) when the connection
 * closes inside the header block.  Header blocks beyond HTTP_MAX_HEADER_BYTES
 * or HTTP_MAX_HEADER_LINES, and bodies beyond request.max_body_size (in
 * memory or in the output file), fail as too large.  The cosocket transport
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
 * after it (building the result), never during.
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

#define HTTP_MT "voucherify.core.http"

/* Response header limits, all header blocks of a response together, status
 * and empty lines included: far above what an API sends (nginx proxies 4-8 KB
 * of upstream headers by default), low enough that a hostile server cannot
 * make the client build a huge header table. */
#define HTTP_MAX_HEADER_BYTES (64 * 1024)
#define HTTP_MAX_HEADER_LINES 500
/* A receive buffer larger than this is freed after the transfer. */
#define HTTP_KEEP_BUFFER (1024 * 1024)

typedef struct {
    CURL *easy;
    struct curl_slist *headers; /* request headers, alive only during perform */
    curl_mime *mime;            /* multipart body, alive only during perform */
    FILE *out;                  /* output_path target, open only during perform */
    size_t out_len;             /* bytes written to it */
    long status;                /* status of the response being received */
    char *conn_key;             /* TLS and proxy settings the handle is set up for */
    int write_failed;
    vbuf body;
    vbuf head;
    size_t max_body; /* 0: no limit */
    int too_large;
    int out_of_memory;
    const char *upload;  /* body sent through on_read (non-idempotent requests) */
    size_t upload_len;
    size_t upload_pos;
    size_t head_total;   /* header bytes received for this response, all blocks */
    size_t head_lines;
    const char *bad_header; /* why the response's header block is invalid */
    int head_too_large;
    int head_done;          /* the final header block ended: only trailers follow */
    int block_status;       /* status of the header block being read, 0 between blocks */
    curl_off_t content_length; /* -1: no Content-Length line yet */
    char errbuf[CURL_ERROR_SIZE];
} http_handle;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = ud;
    size_t n = size * nmemb;
    if (h->out && h->status == 0)
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
    if (h->out && h->status >= 200 && h->status < 300) {
        /* max_body_size bounds a body written to a file too, as on the cosocket transport */
        if (h->max_body && n > h->max_body - h->out_len) {
            h->too_large = 1;
            return 0;
        }
        h->out_len += n;
        if (fwrite(data, 1, n, h->out) != n) {
            h->write_failed = errno ? errno : EIO;
            return 0;
        }
        return n;
    }
    if (h->max_body && n > h->max_body - h->body.len) {
        h->too_large = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    if (!vbuf_append(&h->body, data, n)) {
        h->out_of_memory = 1;
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
 * h->bad_header or h->too_large saying why. */
static int check_header_line(http_handle *h, const char *data, size_t content)
{
    static const char bad_length[] =
        "invalid response header: Content-Length is not one decimal number";
    if (memchr(data, '\r', content) || memchr(data, '\n', content) || memchr(data, '\0', content)) {
        h->bad_header = "invalid response header: a CR, LF or NUL inside a header line";
        return 0;
    }
    if (content >= 15 && strncasecmp(data, "content-length:", 15) == 0) {
        curl_off_t v = parse_content_length(data + 15, data + content);
        if (v < 0 || (h->content_length >= 0 && v != h->content_length)) {
            h->bad_header = bad_length;
            return 0;
        }
        h->content_length = v;
        if (h->max_body && (unsigned long long)v > (unsigned long long)h->max_body) {
            h->too_large = 1; /* refused before a byte of the body is read */
            return 0;
        }
        if (v == (curl_off_t)INT64_MAX) {
            h->bad_header = bad_length;
            return 0;
        }
    }
    return 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = ud;
    size_t n = size * nmemb, content = n;
    h->head_total += n;
    if (h->head_total > HTTP_MAX_HEADER_BYTES || ++h->head_lines > HTTP_MAX_HEADER_LINES) {
        h->head_too_large = 1;
        return 0;
    }
    /* a line ends with LF or CRLF; any other CR, LF or NUL in it is invalid (RFC 9110 5.5) */
    if (content && data[content - 1] == '\n')
        content--;
    if (content && data[content - 1] == '\r')
        content--;
    if (!check_header_line(h, data, content))
        return 0;
    if (h->head_done)
        return n; /* a trailer (after a chunked body): checked, not kept */
    if (content >= 5 && memcmp(data, "HTTP/", 5) == 0 && h->block_status == 0) {
        /* a status line ("HTTP/1.1 200 OK", "HTTP/2 200 ") starts a header
         * block: the final one, or a 1xx before it */
        const char *sp = memchr(data, ' ', content);
        h->head.len = 0;
        h->content_length = -1;
        h->block_status = 200;
        if (sp && (size_t)(sp - data) + 4 <= content && isdigit((unsigned char)sp[1]) &&
            isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
            h->block_status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    } else if (content == 0) {
        /* the end of a block: after the final one, only trailers can follow */
        h->head_done = h->block_status >= 200 || h->block_status == 101;
        h->block_status = 0;
    }
    if (!vbuf_append(&h->head, data, n)) {
        h->out_of_memory = 1;
        return 0;
    }
    return n;
}

/* Copies the next piece of a non-idempotent request's body. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    http_handle *h = ud;
    size_t room = size * nitems, left = h->upload_len - h->upload_pos;
    size_t n = left < room ? left : room;
    if (n) {
        memcpy(buf, h->upload + h->upload_pos, n);
        h->upload_pos += n;
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

static http_handle *check_open(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    if (h->easy == NULL)
        luaL_error(L, "voucherify.core: the HTTP handle is closed");
    return h;
}

/* Frees what one perform needed: header list, mime body, output file. */
static int end_request(http_handle *h)
{
    int close_failed = 0;
    curl_slist_free_all(h->headers);
    h->headers = NULL;
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
    h->upload = NULL;
    h->upload_len = h->upload_pos = 0;
}

static void release(http_handle *h)
{
    end_request(h);
    if (h->easy) {
        curl_easy_cleanup(h->easy);
        h->easy = NULL;
    }
    free(h->conn_key);
    h->conn_key = NULL;
    vbuf_free(&h->body);
    vbuf_free(&h->head);
}

static int http_new(lua_State *L)
{
    http_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    vbuf_init(&h->body);
    vbuf_init(&h->head);
    luaL_getmetatable(L, HTTP_MT);
    lua_setmetatable(L, -2);
    h->easy = curl_easy_init();
    if (h->easy == NULL)
        return luaL_error(L, "voucherify.core: curl_easy_init failed");
    return 1;
}

static int http_close(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    release(h);
    return 0;
}

static const char *opt_string(lua_State *L, const char *field)
{
    const char *s;
    lua_getfield(L, 2, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "voucherify.core: request.%s must be a string", field);
    s = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the request table, so it stays alive */
    return s;
}

static long opt_millis(lua_State *L, const char *field)
{
    lua_Number secs;
    long ms;
    lua_getfield(L, 2, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    secs = luaL_checknumber(L, -1);
    lua_pop(L, 1);
    if (!(secs > 0) || secs > 86400 * 365)
        luaL_error(L, "voucherify.core: request.%s must be a positive number of seconds", field);
    ms = (long)ceil(secs * 1000);
    return ms > 0 ? ms : 1;
}

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

/* Builds the headers table: names lowercased, repeated names joined with ", ";
 * lines that are not "token: value" (the status line, obs-fold) are skipped. */
static void push_headers(lua_State *L, const vbuf *head)
{
    const char *p = head->data, *end = head->data + head->len;
    lua_newtable(L);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon && (size_t)(colon - p) < 256 && is_token(p, (size_t)(colon - p))) {
            char name[256];
            size_t nlen = (size_t)(colon - p), i;
            const char *v = colon + 1, *vend = line_end;
            for (i = 0; i < nlen; i++)
                name[i] = (char)tolower((unsigned char)p[i]);
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            lua_pushlstring(L, name, nlen);
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
            if (lua_isstring(L, -1)) {
                /* repeated header: join like a comma-separated list */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(vend - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(vend - v));
            }
            lua_rawset(L, -3);
        }
        p = eol ? eol + 1 : end;
    }
}

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

/*
 * Options that never change for a handle.  Set once, and again only after a
 * reset (when the TLS or proxy settings change): re-setting every option on
 * every request costs more than the rest of the library's work on a small GET.
 */
static CURLcode set_static_options(http_handle *h, int verify_tls, const char *ca_file,
                                   const char *proxy)
{
    CURL *easy = h->easy;
    CURLcode rc;
#define TRY(opt, val)                                                                              \
    do {                                                                                           \
        if ((rc = curl_easy_setopt(easy, opt, val)) != CURLE_OK)                                   \
            return rc;                                                                             \
    } while (0)
    curl_easy_reset(easy); /* keeps the connection cache, so keep-alive survives */
    /* a proxy's answer to CONNECT is not the API's: on_header sees only the API's blocks */
    TRY(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    TRY(CURLOPT_ERRORBUFFER, h->errbuf);
    TRY(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    TRY(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    TRY(CURLOPT_FOLLOWLOCATION, 0L);
    TRY(CURLOPT_ACCEPT_ENCODING, "");
    TRY(CURLOPT_TCP_KEEPALIVE, 1L);
    TRY(CURLOPT_WRITEFUNCTION, on_body);
    TRY(CURLOPT_WRITEDATA, h);
    TRY(CURLOPT_HEADERFUNCTION, on_header);
    TRY(CURLOPT_HEADERDATA, h);
    /* used only when POSTFIELDS is NULL: the bodies of non-idempotent requests */
    TRY(CURLOPT_READFUNCTION, on_read);
    TRY(CURLOPT_READDATA, h);
    TRY(CURLOPT_SEEKFUNCTION, refuse_seek);
    TRY(CURLOPT_SEEKDATA, h);
    /* an id is one path segment whatever its bytes: never remove "." or ".." segments */
    TRY(CURLOPT_PATH_AS_IS, 1L);
    TRY(CURLOPT_SSL_VERIFYPEER, verify_tls ? 1L : 0L);
    TRY(CURLOPT_SSL_VERIFYHOST, verify_tls ? 2L : 0L);
    if (ca_file)
        TRY(CURLOPT_CAINFO, ca_file);
    if (proxy)
        TRY(CURLOPT_PROXY, proxy); /* "": no proxy, whatever the environment says */
#undef TRY
    return CURLE_OK;
}

/* Sets up the handle for these TLS/proxy settings unless it already is.
 * proxy: NULL for libcurl's default (environment variables), "" for none. */
static CURLcode configure(http_handle *h, int verify_tls, const char *ca_file, const char *proxy)
{
    CURLcode rc;
    size_t n = 6 + (ca_file ? strlen(ca_file) : 0) + (proxy ? strlen(proxy) : 0);
    char *key = malloc(n);
    if (key == NULL)
        return CURLE_OUT_OF_MEMORY;
    snprintf(key, n, "%d\n%s\n%c%s", verify_tls, ca_file ? ca_file : "", proxy ? 'p' : 'e',
             proxy ? proxy : "");
    if (h->conn_key && strcmp(h->conn_key, key) == 0) {
        free(key);
        return CURLE_OK;
    }
    free(h->conn_key);
    h->conn_key = NULL;
    if ((rc = set_static_options(h, verify_tls, ca_file, proxy)) != CURLE_OK) {
        free(key);
        return rc;
    }
    h->conn_key = key;
    return CURLE_OK;
}

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if ((rc = curl_easy_setopt(easy, opt, val)) != CURLE_OK)                                   \
            goto curl_failed;                                                                      \
    } while (0)

/* Reads request.proxy: a string, false (no proxy: ""), or nil (libcurl's default: NULL). */
static const char *opt_proxy(lua_State *L)
{
    const char *s;
    lua_getfield(L, 2, "proxy");
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        s = lua_isnil(L, -1) ? NULL : "";
        lua_pop(L, 1);
        return s;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "voucherify.core: request.proxy must be a string or false");
    s = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the request table */
    return s;
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

static int http_perform(lua_State *L)
{
    http_handle *h = check_open(L);
    CURL *easy = h->easy;
    CURLcode rc;
    const char *method, *url, *body, *ca_file, *proxy, *output_path;
    size_t body_len = 0;
    long connect_ms, total_ms, status = 0;
    int verify_tls = 1, idempotent = 0, fresh_connect = 0;
    lua_Integer max_body = 0;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    method = opt_string(L, "method");
    url = opt_string(L, "url");
    if (method == NULL || url == NULL)
        return luaL_error(L, "voucherify.core: request.method and request.url are required");
    lua_getfield(L, 2, "body");
    body = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &body_len) : NULL;
    lua_pop(L, 1); /* the request table keeps the body alive during the transfer */
    ca_file = opt_string(L, "ca_file");
    proxy = opt_proxy(L);
    connect_ms = opt_millis(L, "connect_timeout");
    total_ms = opt_millis(L, "timeout");
    lua_getfield(L, 2, "verify_tls");
    if (lua_type(L, -1) == LUA_TBOOLEAN)
        verify_tls = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "idempotent");
    idempotent = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "max_body_size");
    if (!lua_isnil(L, -1))
        max_body = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    output_path = opt_string(L, "output_path");

    /* whatever a previous perform left (it raised midway) goes now */
    end_request(h);

    /* headers: an array of "Name: value" lines, owned by the handle until sent */
    lua_getfield(L, 2, "headers");
    if (lua_istable(L, -1)) {
        lua_Integer i, n = (lua_Integer)lua_rawlen(L, -1);
        for (i = 1; i <= n + 1; i++) {
            struct curl_slist *grown;
            const char *line = "Expect:"; /* no 100-continue round trip */
            if (i <= n) {
                lua_rawgeti(L, -1, i);
                line = lua_tostring(L, -1);
                lua_pop(L, 1);
                if (line == NULL)
                    return luaL_error(L, "voucherify.core: request.headers[%d] must be a string",
                                      (int)i);
            }
            grown = curl_slist_append(h->headers, line);
            if (grown == NULL)
                return luaL_error(L, "voucherify.core: out of memory");
            h->headers = grown;
        }
    }
    lua_pop(L, 1);

    h->body.len = 0;
    h->head.len = 0;
    h->too_large = 0;
    h->out_of_memory = 0;
    h->write_failed = 0;
    h->out_len = 0;
    h->bad_header = NULL;
    h->head_too_large = 0;
    h->head_done = 0;
    h->block_status = 0;
    h->content_length = -1;
    h->head_total = 0;
    h->head_lines = 0;
    h->upload = NULL;
    h->upload_len = 0;
    h->upload_pos = 0;
    h->status = 0;
    h->max_body = max_body > 0 ? (size_t)max_body : 0;
    h->errbuf[0] = '\0';

    if ((rc = configure(h, verify_tls, ca_file, proxy)) != CURLE_OK)
        goto curl_failed;
    /* every per-request option is set on every request, so nothing leaks from the last one */
    SET(CURLOPT_URL, url);
    SET(CURLOPT_HTTPHEADER, h->headers);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms); /* 0: libcurl's default */
    SET(CURLOPT_TIMEOUT_MS, total_ms);          /* 0: none */
    SET(CURLOPT_CUSTOMREQUEST, (char *)NULL);
    SET(CURLOPT_NOBODY, 0L);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body); /* 0: none */

    lua_getfield(L, 2, "multipart");
    if (lua_istable(L, -1)) {
        if ((rc = build_mime(L, h)) != CURLE_OK)
            goto curl_failed;
        SET(CURLOPT_MIMEPOST, h->mime);
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
        fresh_connect = !idempotent; /* libcurl rewinds mime parts by itself */
    } else if (strcmp(method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
        fresh_connect = !idempotent;
    } else if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
        fresh_connect = !idempotent;
    } else if (body == NULL && strcmp(method, "DELETE") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
        SET(CURLOPT_CUSTOMREQUEST, method);
        fresh_connect = !idempotent;
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (idempotent || body_len == 0) {
            SET(CURLOPT_POSTFIELDS, body ? body : "");
            fresh_connect = !idempotent; /* no body byte to refuse a rewind of */
        } else {
            /* streamed through on_read, which refuse_seek never lets libcurl replay */
            h->upload = body;
            h->upload_len = body_len;
            SET(CURLOPT_POSTFIELDS, (char *)NULL);
            SET(CURLOPT_POST, 1L);
        }
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
    SET(CURLOPT_FRESH_CONNECT, fresh_connect ? 1L : 0L);

    lua_pop(L, 1); /* multipart */

    if (output_path) {
        h->out = open_output(output_path);
        if (h->out == NULL) {
            h->write_failed = errno ? errno : EIO;
            rc = CURLE_WRITE_ERROR;
            goto curl_failed;
        }
    }

    rc = curl_easy_perform(easy);
    if (end_request(h) && rc == CURLE_OK) {
        h->write_failed = errno ? errno : EIO;
        rc = CURLE_WRITE_ERROR;
    }
    if (rc == CURLE_OK && !h->head_done) {
        /* the server closed inside the header block: libcurl takes what came as the answer */
        h->bad_header = "the connection closed before the end of the response headers";
        rc = CURLE_RECV_ERROR;
    }
    if (rc != CURLE_OK)
        goto curl_failed;
    if ((rc = curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status)) != CURLE_OK)
        goto curl_failed;

    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    push_headers(L, &h->head);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
    lua_setfield(L, -2, "body");
    after_transfer(h);
    return 1;

curl_failed: {
    curl_off_t sent = 0;
    int too_large;
    end_request(h);
    after_transfer(h);
    if (h->bad_header && rc == CURLE_WRITE_ERROR)
        rc = CURLE_WEIRD_SERVER_REPLY; /* not the CURLE_WRITE_ERROR on_header's 0 makes */
    if (rc == CURLE_FILESIZE_EXCEEDED)
        h->too_large = 1; /* Content-Length above max_body_size: refused before reading */
    too_large = h->too_large || h->head_too_large;
    if (curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
        sent = 0;
    lua_pushnil(L);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)rc);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, curl_easy_strerror(rc));
    lua_setfield(L, -2, "name");
    if (h->out_of_memory)
        lua_pushliteral(L, "out of memory while receiving the response");
    else if (h->write_failed)
        lua_pushfstring(L, "cannot write the response to %s: %s",
                        output_path ? output_path : "the output file", strerror(h->write_failed));
    else if (h->too_large)
        lua_pushfstring(L, "response body larger than the %d-byte limit", (int)h->max_body);
    else if (h->head_too_large)
        lua_pushfstring(L, "response headers larger than the limit (%d bytes, %d lines)",
                        HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADER_LINES);
    else if (h->bad_header)
        lua_pushstring(L, h->bad_header);
    else if (rc == CURLE_SEND_FAIL_REWIND)
        lua_pushliteral(L, "the connection closed after the request was sent, before any answer"
                           " (not sent again: the request is not idempotent)");
    else
        lua_pushstring(L, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, sent > 0);
    lua_setfield(L, -2, "sent");
    lua_pushboolean(L, too_large);
    lua_setfield(L, -2, "too_large");
    return 2;
}
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

void http_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"perform", http_perform},
        {"close", http_close},
        {"retained_bytes", http_retained},
        {NULL, NULL},
    };
    static const luaL_Reg fns[] = {
        {"http_new", http_new},
        {NULL, NULL},
    };
    curl_version_info_data *info;

    if (luaL_newmetatable(L, HTTP_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, http_close);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, http_close);
        lua_setfield(L, -2, "__close");
#endif
        lua_pushcfunction(L, http_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, fns, 0);
    info = curl_version_info(CURLVERSION_NOW);
    lua_pushstring(L, info && info->version ? info->version : "unknown");
    lua_setfield(L, -2, "curl_version");
}
