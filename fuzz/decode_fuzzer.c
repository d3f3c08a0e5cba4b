/*
 * libFuzzer target: json_decode on arbitrary bytes.  It must return a value
 * or nil and a message, never crash, leak or trip a sanitizer; a message must
 * carry the byte offset.  A value must not keep more than MAX_RETAINED Lua
 * heap bytes per input byte alive (size hints must not amplify memory).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_host.h"

#define MAX_RETAINED 40

static size_t heap_bytes(lua_State *L)
{
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    size_t before, after;
    lua_getglobal(L, "core");
    lua_getfield(L, -1, "json_decode");
    lua_pushlstring(L, (const char *)data, size); /* stays referenced until the end */
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        abort(); /* decode never raises for a string argument */
    if (lua_isnil(L, -2)) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL || strstr(msg, " at offset ") == NULL)
            abort();
        lua_settop(L, top);
        lua_gc(L, LUA_GCSTEP, 0);
        return 0;
    }
    /*
     * It decoded, and that first decode grew the Lua stack and string table
     * as far as this document needs: decode it again and weigh the value.
     */
    lua_pop(L, 2);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    before = heap_bytes(L);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        abort();
    after = heap_bytes(L);
    if (after > before && after - before > MAX_RETAINED * size) {
        fprintf(stderr, "decode of %zu bytes retained %zu bytes of Lua memory\n", size, after - before);
        abort();
    }
    lua_settop(L, top);
    return 0;
}
