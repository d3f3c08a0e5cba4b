/*
 * voucherify.core: the C half of voucherify-lua.
 *
 *   core.null          JSON null (lightuserdata NULL, the same value as cjson.null)
 *   core.array_mt      metatable of decoded arrays; marks tables to encode as arrays
 *   core.json_decode   text [, selector] -> value | nil, err
 *   core.json_select   tree -> selector (a compiled partial-decoding tree, see json_decode.c)
 *   core.json_encode   value -> text | nil, err
 *   core.http_new()    -> HTTP handle (perform, close; __gc, __close)
 *   core.curl_version  libcurl's version string
 *   core.monotime()    seconds on a monotonic clock
 *   core.sleep(secs)   blocks the thread (the OpenResty transport will use ngx.sleep)
 *   core.file_kind, core.create_exclusive, core.write_existing, core.random_hex
 *                      file system primitives (csrc/files.c, used by voucherify.files)
 */
#include <curl/curl.h>

#include "clock.h"
#include "compat.h"
#include "files.h"
#include "http.h"
#include "json.h"

#if defined(_WIN32)
#define VOUCHERIFY_EXPORT __declspec(dllexport)
#else
#define VOUCHERIFY_EXPORT __attribute__((visibility("default")))
#endif

VOUCHERIFY_EXPORT int luaopen_voucherify_core(lua_State *L)
{
    /* thread-safe since libcurl 7.84; a no-op after the first call */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "voucherify.core: curl_global_init failed");

    lua_newtable(L); /* module */

    lua_newtable(L); /* array_mt */
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "array_mt");

    lua_pushvalue(L, -2);
    json_register(L, -2);
    lua_pop(L, 2); /* module copy, array_mt */

    http_register(L);
    clock_register(L);
    files_register(L);

    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
