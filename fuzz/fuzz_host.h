/*
 * A Lua 5.4 state for the fuzz targets, with the C core's codec loaded the
 * way luaopen_voucherify_core loads it.  One state per process, reused.
 */
#ifndef VOUCHERIFY_FUZZ_HOST_H
#define VOUCHERIFY_FUZZ_HOST_H

#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_voucherify_core(lua_State *L);

static lua_State *fuzz_state(void)
{
    static lua_State *L;
    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL)
            abort();
        luaL_openlibs(L);
        luaL_requiref(L, "voucherify.core", luaopen_voucherify_core, 0);
        lua_setglobal(L, "core");
    }
    return L;
}

#endif
