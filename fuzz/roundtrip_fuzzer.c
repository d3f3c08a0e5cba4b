/*
 * libFuzzer target: whatever decodes must encode, and the encoding must
 * decode again to an equal value and encode to the same length (object key
 * order may differ between two tables, the bytes they hold may not).
 */
#include <stdint.h>

#include "fuzz_host.h"

static const char *CHECK =
    "local core, text = ...\n"
    "local v, err = core.json_decode(text)\n"
    "if err then return end\n"
    "local e1, eerr = core.json_encode(v)\n"
    "assert(e1, eerr)\n"
    "local v2, derr = core.json_decode(e1)\n"
    "assert(derr == nil, derr)\n"
    "local e2 = assert(core.json_encode(v2))\n"
    "assert(#e1 == #e2, 'round trip changed the length')\n"
    FUZZ_LUA_SAME
    "assert(same(v, v2), 'round trip changed the value')\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int check_ref = LUA_NOREF;
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    if (check_ref == LUA_NOREF) {
        if (luaL_loadstring(L, CHECK) != LUA_OK)
            abort();
        check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
    lua_getglobal(L, "core");
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        (void)msg; /* visible in a debugger; the abort is what libFuzzer reports */
        abort();
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
