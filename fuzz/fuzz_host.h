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

/* Lua source of same(a, b): equal values, number subtypes, NaNs and metatables included */
#define FUZZ_LUA_SAME \
    "local function same(a, b)\n" \
    "  if type(a) ~= type(b) then return false end\n" \
    "  if type(a) == 'number' then\n" \
    "    return math.type(a) == math.type(b) and (a == b or (a ~= a and b ~= b))\n" \
    "  end\n" \
    "  if type(a) ~= 'table' then return a == b end\n" \
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n" \
    "  for k, x in pairs(a) do if not same(x, b[k]) then return false end end\n" \
    "  for k in pairs(b) do if a[k] == nil then return false end end\n" \
    "  return true\n" \
    "end\n"

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
