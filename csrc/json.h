/* JSON <-> Lua, both directions, written straight between Lua values and bytes. */
#ifndef VOUCHERIFY_JSON_H
#define VOUCHERIFY_JSON_H

#include "compat.h"
#include "buffer.h"

/* Deepest nesting of arrays/objects accepted by decode and encode. */
#define JSON_MAX_DEPTH 1000

/*
 * Upvalue 1 of every codec function is the array metatable shared with the
 * Lua layer (voucherify.array_mt).
 */
#define JSON_ARRAY_MT lua_upvalueindex(1)

/* Pushes a new scratch-buffer userdata (freed by __gc) and returns its buffer. */
vbuf *json_box_new(lua_State *L);

int json_decode(lua_State *L);
int json_encode(lua_State *L);

/* Adds decode/encode to the table on top of the stack; array_mt is at index mt. */
void json_register(lua_State *L, int mt);

#endif
