/* JSON <-> Lua, both directions, written straight between Lua values and bytes. */
#ifndef VOUCHERIFY_JSON_H
#define VOUCHERIFY_JSON_H

#include "compat.h"
#include "buffer.h"

/* Deepest nesting of arrays/objects accepted by decode and encode. */
#define JSON_MAX_DEPTH 1000

/*
 * Upvalue 1 of json_encode is the array metatable shared with the Lua layer
 * (voucherify.array_mt).
 */
#define JSON_ARRAY_MT lua_upvalueindex(1)

/* The decoder's string cache and size hints (json_decode.c). */
typedef struct json_key_cache json_key_cache;

/*
 * READY (issue 12): decodes n bytes at p that need not be a Lua string, from
 * any C function of the core, once json_register has run in this Lua state.
 * Pushes the value and returns 1, or pushes nil and the same message as
 * core.json_decode ("... at offset N ...") and returns 2; never raises on bad
 * JSON (only on a Lua memory error, or a select_idx that is not a selector).
 * select_idx: 0 for a full decode, else the stack index of a selector made by
 * core.json_select (partial decode, see json_decode.c).  The bytes must not
 * change during the call; nothing refers to them afterwards.
 */
int json_decode_bytes(lua_State *L, const char *p, size_t n, int select_idx);

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/*
 * Skips plain ASCII: no '"', no '\\', no control byte, no byte >= 0x80.
 * Returns a point at or before the first byte that is not plain (or less
 * than 8 bytes from `end`), from where the caller goes on byte by byte.  SSE2
 * (every x86-64) takes 16 bytes a step and stops on that byte; SWAR takes 8:
 * (x - ones) & ~x & highs is nonzero iff some byte of x is zero, so a byte
 * equal to c shows as a zero byte of v ^ (ones * c).
 */
static inline const char *json_skip_plain(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
#if defined(__SSE2__) && defined(__GNUC__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* a byte <= 0x1F is its own unsigned max with 0x1F; a byte >= 0x80 has its top bit set */
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                    _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl), v));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop);
        if (mask != 0)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
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

int json_encode(lua_State *L);
/* Pushes the core.json_decode closure and sets up json_decode_bytes; array_mt is at index mt. */
void json_decode_push(lua_State *L, int mt);
/* Pushes core.json_select: tree -> selector (see json_decode.c). */
void json_select_push(lua_State *L);

/* Adds decode/encode to the table on top of the stack; array_mt is at index mt. */
void json_register(lua_State *L, int mt);

#endif
