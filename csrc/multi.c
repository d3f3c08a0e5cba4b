/*
 * Many requests at once: one libcurl multi handle and a pool of easy handles
 * (the http_handle of csrc/http.c, so a request is read, checked and
 * answered exactly as on the one-at-a-time path).  The scheduler in
 * lua/voucherify/tasks.lua drives it from Lua; the libcurl transport
 * (lua/voucherify/transport/curl.lua) makes one per client.
 *
 *   core.multi_new(settings) -> multi; settings as for core.http_new
 *   multi:start(request)     -> id: sets an idle easy handle up for the
 *       request and adds it (no I/O yet); a malformed request raises; a
 *       request that fails before any I/O (a multipart part, the output
 *       file) is done at once and comes out of the next wait
 *   multi:wait(seconds)      -> { id, ... }: runs the transfers until one at
 *       least is done or the time is over (then the list may be empty)
 *   multi:collect(id)        -> response | nil, failure (as handle:collect);
 *       the easy handle goes back to the pool
 *   multi:cancel(id)         drops a request, done or not: removed from the
 *       multi handle, its easy handle reset and back in the pool
 *   multi:pending()          -> requests started and not yet collected or
 *       cancelled, and easy handles made so far (for tests)
 *   multi:close(), __gc, __close
 *
 * Every easy handle belongs to the one multi handle, so connections live in
 * its connection cache and are kept alive across requests whichever easy
 * handle sends them.  The pool grows to the largest number of requests in
 * flight at once and its handles are reused (ids are indexes into it).  As
 * in http.c, libcurl's callbacks only touch C buffers: the Lua API is used in
 * start (reading the request) and collect (building the outcome).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define MULTI_MT "voucherify.core.multi"

/* One easy handle of the pool and where its request is. */
typedef struct {
    http_handle h;
    int id;       /* its index in the pool + 1 */
    int in_multi; /* added to the multi handle, transfer not yet done */
    int queued;   /* done, waiting to be returned by wait */
    int busy;     /* started and not yet collected or cancelled */
} multi_slot;

typedef struct {
    CURLM *multi;
    http_settings settings; /* with ca_file and proxy copied: the settings table may go */
    char *ca_file;
    char *proxy;
    multi_slot **slots; /* the pool; an id is an index + 1 */
    int nslots;
    int *done; /* ids done since the last wait, in the order they ended */
    int ndone;
    /* start, wait and collect use the Lua API, so a finalizer may run in the
     * middle of them: it finds the multi busy, and its close is deferred
     * until they are done (see http_run_busy) */
    int busy;
    int close_pending;
} http_multi;

static char *copy_string(const char *s)
{
    char *copy;
    if (s == NULL)
        return NULL;
    copy = malloc(strlen(s) + 1);
    if (copy)
        strcpy(copy, s);
    return copy;
}

static http_multi *check_multi(lua_State *L)
{
    http_multi *m = luaL_checkudata(L, 1, MULTI_MT);
    if (m->busy)
        luaL_error(L, "voucherify.core: the multi handle is busy"
                      " (a finalizer used the client while it read or answered a request)");
    if (m->multi == NULL)
        luaL_error(L, "voucherify.core: the multi handle is closed");
    return m;
}

/* The slot of id at stack index idx; raises unless it is busy. */
static multi_slot *check_slot(lua_State *L, http_multi *m, int idx)
{
    lua_Integer id = luaL_checkinteger(L, idx);
    if (id < 1 || id > m->nslots || !m->slots[id - 1]->busy)
        luaL_error(L, "voucherify.core: no request %d in progress", (int)id);
    return m->slots[id - 1];
}

/* Takes a slot out of the done queue, if it is there. */
static void unqueue(http_multi *m, int id)
{
    int i, j = 0;
    for (i = 0; i < m->ndone; i++)
        if (m->done[i] != id)
            m->done[j++] = m->done[i];
    m->ndone = j;
    m->slots[id - 1]->queued = 0;
}

static void queue(http_multi *m, int id)
{
    m->done[m->ndone++] = id; /* room for every slot: see grow */
    m->slots[id - 1]->queued = 1;
}

/* Ends the slot's request whatever its state: out of the multi handle, out of
 * the queue, easy handle reset for the next one (its options are all set
 * again by http_prepare). */
static void drop(lua_State *L, http_multi *m, int id)
{
    multi_slot *s = m->slots[id - 1];
    if (s->in_multi) {
        curl_multi_remove_handle(m->multi, s->h.easy);
        s->in_multi = 0;
    }
    if (s->queued)
        unqueue(m, id);
    http_abandon(L, &s->h);
    s->busy = 0;
}

/* An idle slot's id, making one when every slot is busy; raises when out of memory. */
static int idle_slot(lua_State *L, http_multi *m)
{
    multi_slot *s, **slots;
    int *done, i;
    CURLcode rc;
    for (i = 0; i < m->nslots; i++)
        if (!m->slots[i]->busy)
            return i + 1;
    slots = realloc(m->slots, (size_t)(m->nslots + 1) * sizeof *slots);
    if (slots == NULL)
        luaL_error(L, "voucherify.core: out of memory");
    m->slots = slots;
    done = realloc(m->done, (size_t)(m->nslots + 1) * sizeof *done);
    if (done == NULL)
        luaL_error(L, "voucherify.core: out of memory");
    m->done = done;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        luaL_error(L, "voucherify.core: out of memory");
    s->id = m->nslots + 1;
    m->slots[m->nslots++] = s; /* owned by the multi from here on, even if set-up fails */
    rc = http_init(&s->h, &m->settings);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(s->h.easy, CURLOPT_PRIVATE, (char *)s);
    if (rc != CURLE_OK) {
        http_release(L, &s->h);
        free(s);
        m->nslots--;
        luaL_error(L, "voucherify.core: cannot set up libcurl: %s", curl_easy_strerror(rc));
    }
    return m->nslots;
}

/* Moves every transfer libcurl finished into the done queue. */
static void harvest(http_multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result; /* msg is invalid once the handle is removed */
        char *priv = NULL;
        multi_slot *s;
        int id;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        s = (multi_slot *)priv;
        curl_multi_remove_handle(m->multi, easy);
        if (s == NULL)
            continue;
        id = s->id;
        s->in_multi = 0;
        s->h.rc = http_finish(&s->h, rc);
        s->h.state = HTTP_DONE;
        queue(m, id);
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * The Lua API
 * ------------------------------------------------------------------------ */

static void release_multi(lua_State *L, http_multi *m)
{
    int i;
    for (i = 0; i < m->nslots; i++) {
        multi_slot *s = m->slots[i];
        if (s->in_multi)
            curl_multi_remove_handle(m->multi, s->h.easy);
        http_release(L, &s->h);
        free(s);
    }
    free(m->slots);
    free(m->done);
    m->slots = NULL;
    m->done = NULL;
    m->nslots = m->ndone = 0;
    if (m->multi) {
        curl_multi_cleanup(m->multi);
        m->multi = NULL;
    }
    free(m->ca_file);
    free(m->proxy);
    m->ca_file = m->proxy = NULL;
}

/* core.multi_new([settings]) -> multi */
static int multi_new(lua_State *L)
{
    http_multi *m;
    http_settings s;
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    lua_settop(L, 1);
    http_read_settings(L, 1, &s);
    m = lua_newuserdatauv(L, sizeof *m, 0);
    memset(m, 0, sizeof *m);
    luaL_getmetatable(L, MULTI_MT);
    lua_setmetatable(L, -2);
    m->settings = s;
    m->ca_file = copy_string(s.ca_file);
    m->proxy = copy_string(s.proxy);
    m->settings.ca_file = m->ca_file;
    m->settings.proxy = m->proxy;
    m->multi = curl_multi_init();
    if (m->multi == NULL || (s.ca_file && !m->ca_file) || (s.proxy && !m->proxy))
        return luaL_error(L, "voucherify.core: cannot set up a libcurl multi handle");
    return 1;
}

/* Runs fn (a method of the multi at 1, with the arguments on the stack) while
 * the multi is busy; then the close a finalizer asked for meanwhile. */
static int run_on_multi(lua_State *L, http_multi *m, lua_CFunction fn)
{
    int status = http_run_busy(L, fn, &m->busy);
    if (m->close_pending) {
        m->close_pending = 0;
        release_multi(L, m);
    }
    return status == 0 ? lua_gettop(L) : lua_error(L);
}

static int start_busy(lua_State *L)
{
    http_multi *m = (http_multi *)lua_touserdata(L, 1);
    multi_slot *s;
    int id = idle_slot(L, m);
    s = m->slots[id - 1];
    http_abandon(L, &s->h); /* what a raising http_prepare left last time */
    s->h.rc = http_prepare(L, &s->h, 2);
    lua_pushvalue(L, 2);
    s->h.request_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* anchored until collect: its body is sent */
    s->busy = 1;
    if (s->h.rc == CURLE_OK) {
        CURLMcode mrc = curl_multi_add_handle(m->multi, s->h.easy);
        if (mrc == CURLM_OK) {
            s->h.xfer.transferred = 1;
            s->h.state = HTTP_STARTED;
            s->in_multi = 1;
        } else {
            s->h.rc = mrc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
        }
    }
    if (!s->in_multi) {
        s->h.state = HTTP_DONE;
        queue(m, id);
    }
    lua_pushinteger(L, id);
    return 1;
}

/* multi:start(request) -> id */
static int multi_start(lua_State *L)
{
    http_multi *m = check_multi(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    return run_on_multi(L, m, start_busy);
}

/* multi:wait(seconds) -> { id, ... } */
static int wait_busy(lua_State *L)
{
    http_multi *m = (http_multi *)lua_touserdata(L, 1);
    lua_Number timeout = lua_tonumber(L, 2);
    double deadline = now_seconds() + (timeout > 0 ? timeout : 0);
    int i;
    for (;;) {
        int running = 0;
        double left;
        long ms;
        CURLMcode mrc = curl_multi_perform(m->multi, &running);
        if (mrc != CURLM_OK && mrc != CURLM_CALL_MULTI_PERFORM)
            return luaL_error(L, "voucherify.core: curl_multi_perform: %s", curl_multi_strerror(mrc));
        harvest(m);
        left = deadline - now_seconds();
        if (m->ndone > 0 || left <= 0)
            break;
        ms = (long)ceil(left * 1000);
        /* curl_multi_poll also wakes for libcurl's own timers (connect, retries) */
#if LIBCURL_VERSION_NUM >= 0x074200
        mrc = curl_multi_poll(m->multi, NULL, 0, ms > INT_MAX ? INT_MAX : (int)ms, NULL);
#else
        mrc = curl_multi_wait(m->multi, NULL, 0, ms > INT_MAX ? INT_MAX : (int)ms, NULL);
#endif
        if (mrc != CURLM_OK)
            return luaL_error(L, "voucherify.core: curl_multi_poll: %s", curl_multi_strerror(mrc));
    }
    lua_createtable(L, m->ndone, 0);
    for (i = 0; i < m->ndone; i++) {
        m->slots[m->done[i] - 1]->queued = 0;
        lua_pushinteger(L, m->done[i]);
        lua_rawseti(L, -2, i + 1);
    }
    m->ndone = 0;
    return 1;
}

static int multi_wait(lua_State *L)
{
    http_multi *m = check_multi(L);
    lua_Number timeout = luaL_optnumber(L, 2, 0);
    lua_settop(L, 1);
    lua_pushnumber(L, timeout);
    return run_on_multi(L, m, wait_busy);
}

static int collect_busy(lua_State *L)
{
    http_multi *m = (http_multi *)lua_touserdata(L, 1);
    multi_slot *s = m->slots[lua_tointeger(L, 2) - 1];
    int n;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->h.request_ref); /* index 3 */
    n = http_push_outcome(L, &s->h, s->h.rc, lua_istable(L, 3) ? 3 : 0);
    http_abandon(L, &s->h); /* unanchors the request, after the message named output_path */
    s->busy = 0;
    return n;
}

/* multi:collect(id) -> response | nil, failure */
static int multi_collect(lua_State *L)
{
    http_multi *m = check_multi(L);
    multi_slot *s = check_slot(L, m, 2);
    int id = (int)lua_tointeger(L, 2);
    if (s->h.state != HTTP_DONE)
        return luaL_error(L, "voucherify.core: request %d is not done (wait for it first)", id);
    if (s->queued)
        unqueue(m, id);
    lua_settop(L, 2);
    return run_on_multi(L, m, collect_busy);
}

/* multi:cancel(id) */
static int multi_cancel(lua_State *L)
{
    http_multi *m = check_multi(L);
    check_slot(L, m, 2);
    drop(L, m, (int)lua_tointeger(L, 2));
    return 0;
}

/* multi:pending() -> requests started and not yet collected or cancelled, easy handles made */
static int multi_pending(lua_State *L)
{
    http_multi *m = check_multi(L);
    int i, n = 0;
    for (i = 0; i < m->nslots; i++)
        n += m->slots[i]->busy;
    lua_pushinteger(L, n);
    lua_pushinteger(L, m->nslots);
    return 2;
}

static int multi_close(lua_State *L)
{
    http_multi *m = luaL_checkudata(L, 1, MULTI_MT);
    if (m->busy)
        m->close_pending = 1; /* released once the call in progress is done */
    else
        release_multi(L, m);
    return 0;
}

void multi_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"start", multi_start},
        {"wait", multi_wait},
        {"collect", multi_collect},
        {"cancel", multi_cancel},
        {"pending", multi_pending},
        {"close", multi_close},
        {NULL, NULL},
    };
    static const luaL_Reg fns[] = {
        {"multi_new", multi_new},
        {NULL, NULL},
    };
    http_register_class(L, MULTI_MT, methods, multi_close, NULL);
    luaL_setfuncs(L, fns, 0);
}
