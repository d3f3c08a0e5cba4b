/*
 * The one place where Lua version differences live.  The core is written
 * against the Lua 5.4 API; this header maps it onto 5.1 (LuaJIT) and 5.2/5.3.
 */
#ifndef VOUCHERIFY_COMPAT_H
#define VOUCHERIFY_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
/* Lua 5.1 and LuaJIT */
#define lua_rawlen(L, i) lua_objlen((L), (i))
#endif

/* LuaJIT 2.1 already has these 5.2 functions (its lauxlib.h defines luaL_newlib) */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlib)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
static inline void *luaL_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);
    if (p == NULL || !lua_getmetatable(L, i))
        return NULL;
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2))
        p = NULL;
    lua_pop(L, 2);
    return p;
}
#endif

#if LUA_VERSION_NUM < 503
/*
 * No integer subtype (LuaJIT, 5.1, 5.2): numbers are doubles.  A number
 * counts as an integer when it has no fraction and fits in 64 bits, so 2.0
 * encodes as 2 and JSON integers beyond 2^53 decode to the nearest double.
 */
static inline int compat_isinteger(lua_State *L, int i)
{
    lua_Number n;
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    n = lua_tonumber(L, i);
    if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0))
        return 0; /* NaN, infinities, out of range: the cast below would be undefined */
    return n == (lua_Number)(lua_Integer)n;
}
#define lua_isinteger(L, i) compat_isinteger((L), (i))
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))
#endif

#endif
