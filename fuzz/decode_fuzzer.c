/*
 * libFuzzer target: json_decode on arbitrary bytes.  It must return a value
 * or nil and a message, never crash, leak or trip a sanitizer; a message must
 * carry the byte offset.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    lua_getglobal(L, "core");
    lua_getfield(L, -1, "json_decode");
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        abort(); /* decode never raises for a string argument */
    if (lua_isnil(L, -2)) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL || strstr(msg, " at offset ") == NULL)
            abort();
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
