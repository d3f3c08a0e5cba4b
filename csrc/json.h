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

/* json_decode's key cache (upvalues 2 and 3, see json_decode.c). */
typedef struct json_key_cache json_key_cache;
/* Pushes a new, empty key cache and the table that keeps its strings alive. */
void json_key_cache_new(lua_State *L);

#include <stdint.h>
#include <string.h>

/*
 * Skips 8-byte blocks of plain ASCII: no '"', no '\\', no control byte, no byte >= 0x80.
 * SWAR: (x - ones) & ~x & highs is nonzero iff some byte of x is zero, so a byte
 * equal to c shows as a zero byte of v ^ (ones * c).
 */
static inline const char *json_skip_plain(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t v, quote, backslash, control;
        memcpy(&v, p, 8);
        quote = v ^ (ones * '"');
        backslash = v ^ (ones * '\\');
        control = v - ones * 0x20;
        if (((quote - ones) & ~quote & highs) | ((backslash - ones) & ~backslash & highs) |
            (control & ~v & highs) | (v & highs))
            break;
        p += 8;
    }
    return p;
}

/* Pushes a new scratch-buffer userdata (freed by __gc) and returns its buffer. */
vbuf *json_box_new(lua_State *L);

int json_decode(lua_State *L);
int json_encode(lua_State *L);

/* Adds decode/encode to the table on top of the stack; array_mt is at index mt. */
void json_register(lua_State *L, int mt);

#endif
