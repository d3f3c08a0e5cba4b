/* Registration of the codec and the scratch-buffer box both directions share. */
#include "json.h"

#define BOX_MT "voucherify.core.buffer"

static int box_gc(lua_State *L)
{
    vbuf *b = luaL_checkudata(L, 1, BOX_MT);
    vbuf_free(b);
    return 0;
}

vbuf *json_box_new(lua_State *L)
{
    vbuf *b = lua_newuserdatauv(L, sizeof(vbuf), 0);
    vbuf_init(b);
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

void json_register(lua_State *L, int mt)
{
    if (mt < 0)
        mt = lua_gettop(L) + mt + 1;
    lua_pushvalue(L, mt);
    lua_pushcclosure(L, json_encode, 1);
    lua_setfield(L, -2, "json_encode");
    json_decode_push(L, mt);
    lua_setfield(L, -2, "json_decode");
    json_select_push(L);
    lua_setfield(L, -2, "json_select");
}
