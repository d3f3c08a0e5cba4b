/* HTTP transport over libcurl: one easy handle per userdata, set up once for the
 * client's settings and reused across requests (start, wait, collect; perform).
 * The handle's internals are shared with csrc/multi.c, whose pool of easy
 * handles runs many requests at once with the same request and outcome code. */
#ifndef VOUCHERIFY_HTTP_H
#define VOUCHERIFY_HTTP_H

#include <stdio.h>

#include <curl/curl.h>

#include "buffer.h"
#include "compat.h"

/* Where a handle is between perform/start and collect. */
enum { HTTP_IDLE, HTTP_STARTED, HTTP_DONE };

/* What one transfer finds out, as the callbacks see it; cleared before each. */
typedef struct {
    size_t out_len;             /* bytes written to the output file */
    long status;                /* status of the response being received */
    int transferred;            /* the transfer ran (perform, or added to a multi) */
    int write_failed;           /* errno of a failed write to the output file */
    int too_large;              /* the body went over max_body */
    int out_of_memory;
    const char *upload;         /* body sent through on_read (non-idempotent requests) */
    size_t upload_len;
    size_t upload_pos;
    size_t head_total;          /* header bytes received for this response, all blocks */
    size_t head_lines;
    const char *bad_header;     /* why the response's header block is invalid */
    int head_too_large;
    int head_done;              /* the final header block ended: only trailers follow */
    int rate_limit_lines;       /* the header block being read has an X-Rate-Limit-* line */
    int block_status;           /* status of the header block being read, 0 between blocks */
    curl_off_t content_length;  /* -1: no Content-Length line yet */
} http_transfer;

typedef struct {
    CURL *easy;
    /* settings, fixed by http_new */
    long connect_ms;  /* for a request that names no connect_timeout; 0: libcurl's default */
    long timeout_ms;  /* for a request that names no timeout; 0: none */
    size_t max_body;  /* 0: no limit */
    /* the request in progress */
    int state;                  /* HTTP_IDLE, HTTP_STARTED, HTTP_DONE (start/wait/collect) */
    int request_ref;            /* the started request table, anchored until collect */
    CURLcode rc;                /* the outcome of a started request, once HTTP_DONE */
    const char *output_path;    /* request.output_path, named in a write failure */
    struct curl_slist *headers; /* request headers, kept while the next request's are the same */
    int lines_ref;              /* the lines h->headers was built from (LUA_NOREF: none) */
    curl_mime *mime;            /* multipart body, alive only during the request */
    FILE *out;                  /* output_path target, open only during the request */
    http_transfer xfer;
    vbuf body;                  /* receive buffers, kept between transfers (HTTP_KEEP_BUFFER) */
    vbuf head;
    /* Reading a request and building an outcome use the Lua API, which may
     * run a GC step and so a finalizer that uses this handle: while `busy`,
     * requests on it raise and a close is deferred (close_pending) until the
     * call in progress is done (see http_run_busy). */
    int busy;
    int close_pending;
    char errbuf[CURL_ERROR_SIZE];
} http_handle;

/* The client's settings, fixed for a handle's life (read by http_read_settings;
 * the strings belong to the settings table). */
typedef struct {
    int verify_tls;
    const char *ca_file; /* NULL: the system's CAs */
    const char *proxy;   /* NULL: libcurl's default; "": none, whatever the environment says */
    long connect_ms;     /* 0: libcurl's default */
    long timeout_ms;     /* 0: none */
    size_t max_body;     /* 0: no limit */
} http_settings;

/* Adds http_new and curl_version to the table on top of the stack. */
void http_register(lua_State *L);

/* For csrc/multi.c: the life of one handle outside its userdata. */

/* Reads the settings table at idx (raises on a malformed one). */
void http_read_settings(lua_State *L, int idx, http_settings *s);
/* Sets a zeroed handle up for the settings: CURLE_OK, or why it failed (the
 * handle must still be released). */
CURLcode http_init(http_handle *h, const http_settings *s);
/* Reads the request table at idx and sets the handle up for it (no I/O); not
 * CURLE_OK: it failed before anything was sent; a malformed request raises. */
CURLcode http_prepare(lua_State *L, http_handle *h, int idx);
/* The outcome of a transfer that libcurl ended with rc, once the handle's
 * own checks (output file, header block) are applied. */
CURLcode http_finish(http_handle *h, CURLcode rc);
/* Pushes response | nil, failure for a transfer that ended with rc; req_idx
 * is the stack index of the request table (0: none), whose `json` and
 * `select` say whether to decode a 2xx body into `value` (see http.c). */
int http_push_outcome(lua_State *L, http_handle *h, CURLcode rc, int req_idx);
/* Calls fn with the values on the stack as its arguments, protected, with
 * *busy set meanwhile; returns lua_pcall's status with fn's results (or its
 * error) on the stack.  The caller then performs a deferred close, and raises
 * the error again (lua_error) when the status is not 0. */
int http_run_busy(lua_State *L, lua_CFunction fn, int *busy);
/* Raises unless the handle can take a request now (open, not busy). */
void http_check_usable(lua_State *L, const http_handle *h);
/* Drops the request in progress (none: a no-op); the handle stays usable. */
void http_abandon(lua_State *L, http_handle *h);
/* Frees everything the handle holds (its easy handle too). */
void http_release(lua_State *L, http_handle *h);

/* Registers metatable `name`: methods as __index, close as __gc (and
 * __close on 5.4), tostring (if any) as __tostring. */
void http_register_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                         lua_CFunction tostring);

/* Adds multi_new to the table on top of the stack (csrc/multi.c). */
void multi_register(lua_State *L);

#endif
