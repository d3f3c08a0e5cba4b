/*
 * The anchor for `make bench`: a plain C loop that reuses one libcurl easy
 * handle and does not parse (or, with --cjson, hands each body to
 * cjson.decode in an embedded Lua 5.4; with --decode CPATH, to the library's
 * own decoder, voucherify.core.json_decode, loaded from the Lua C path CPATH).
 *
 *   curl_loop URL COUNT [--cjson | --decode CPATH]
 *
 * Prints "seconds_per_request <s>" (wall clock) and "cpu_seconds_per_request
 * <s>" (this process's CPU time, user and system: what a shared machine's
 * other jobs change least) after COUNT requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

typedef struct {
    char *data;
    size_t len, cap;
} body;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    body *b = ud;
    size_t len = size * n;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        char *grown;
        while (cap < b->len + len)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return len;
}

static double now_on(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return now_on(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
    CURL *easy;
    struct curl_slist *headers = NULL;
    body b = {NULL, 0, 0};
    lua_State *L = NULL;
    long count, i;
    double start, cpu_start;

    if (argc < 3) {
        fprintf(stderr, "usage: curl_loop URL COUNT [--cjson]\n");
        return 2;
    }
    count = strtol(argv[2], NULL, 10);
    if (argc > 3 && (strcmp(argv[3], "--cjson") == 0 || strcmp(argv[3], "--decode") == 0)) {
        int lib = strcmp(argv[3], "--decode") == 0;
        if (lib && argc < 5) {
            fprintf(stderr, "usage: curl_loop URL COUNT --decode CPATH\n");
            return 2;
        }
        L = luaL_newstate();
        luaL_openlibs(L);
#if LUA_VERSION_NUM >= 504
        /* the collector the lua5.4 interpreter runs the library under (lua.c
         * switches to generational; a bare state starts incremental), so that
         * both sides of a ratio pay the same GC */
        lua_gc(L, LUA_GCGEN, 0, 0);
#endif
        if (lib) {
            lua_getglobal(L, "package");
            lua_pushstring(L, argv[4]);
            lua_setfield(L, -2, "cpath");
            lua_pop(L, 1);
        }
        if (luaL_dostring(L, lib ? "return require('voucherify.core').json_decode"
                                 : "return require('cjson').decode") != LUA_OK) {
            fprintf(stderr, "cannot load the decoder: %s\n", lua_tostring(L, -1));
            return 1;
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (easy = curl_easy_init()) == NULL)
        return 1;
    /* the same request headers the library sends */
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "X-App-Id: bench");
    headers = curl_slist_append(headers, "X-App-Token: bench");
    if (headers == NULL)
        return 1;
    curl_easy_setopt(easy, CURLOPT_URL, argv[1]);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);

    start = now();
    cpu_start = now_on(CLOCK_PROCESS_CPUTIME_ID);
    for (i = 0; i < count; i++) {
        long status = 0;
        b.len = 0;
        if (curl_easy_perform(easy) != CURLE_OK)
            return 1;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            return 1;
        if (L) {
            lua_pushvalue(L, -1);
            lua_pushlstring(L, b.data, b.len);
            if (lua_pcall(L, 1, 1, 0) != LUA_OK)
                return 1;
            lua_pop(L, 1);
        }
    }
    printf("seconds_per_request %.9f\ncpu_seconds_per_request %.9f\n", (now() - start) / (double)count,
           (now_on(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / (double)count);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    free(b.data);
    if (L)
        lua_close(L);
    return 0;
}
