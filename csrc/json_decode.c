/*
 * JSON text -> Lua values, in one pass, straight onto the Lua stack.
 *
 * Parse errors never raise: every function returns 0 and the reason travels
 * up to json_decode, which returns nil, message.  The only thing that can
 * unwind through here is a Lua memory error, and the single allocation we
 * make (the scratch buffer for strings with escapes) belongs to a userdata.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "utf8.h"

/*
 * Table size hints.  Each object or array gets a "shape slot" from its path
 * (the parent's slot mixed with the member's key, or "an element of" the
 * parent); the next table decoded in the same slot is created at the size
 * the last one reached, so it never rehashes while it fills.  API lists are
 * homogeneous, so after the first element the guesses are right.
 *
 * A hint can be wrong, and a hostile body can make it wrong on purpose
 * (`[{1100 keys}, {}, {}, ...]`, or a long array then `[0]`s): every slot a
 * table is presized with beyond what it fills is Lua memory the input did not
 * pay for.  So presizing draws on a budget of HINT_BUDGET bytes per input
 * byte: a table is charged what its presized part costs when it is created,
 * and refunded, when it closes, what Lua would have allocated for its members
 * anyway.  Only wrong guesses consume the budget; once it is spent, tables
 * start empty and grow as they fill, as without hints.  Memory wasted on
 * hints is thus at most HINT_BUDGET times the input's size, on any input.
 * (Members are counted, not distinct keys: slots a repeated key leaves empty
 * are refunded too: at most 10 bytes per byte of those members, which
 * themselves keep nothing alive.  spec/json_memory_spec.lua measures both.)
 */
#define HINT_SLOTS 256
#define HINT_MAX 1024
#define HINT_BUDGET 2
/* What one presized slot costs on 64-bit Lua 5.4 (Node, TValue); LuaJIT's are no larger. */
#define HASH_SLOT_BYTES 24
#define ARRAY_SLOT_BYTES 16

/*
 * String cache.  Interning a string (hash, then compare in the string table)
 * is a quarter of the cost of building a table, and API documents repeat the
 * same keys in the same places, and often the same short values (object
 * names, statuses, currencies).  Each object member's key is compared, byte
 * for byte, with the two keys last seen at the same (shape slot, member
 * index), and its string value with the value last seen there; on a match the
 * Lua string kept from then is pushed: no scan, no hashing.  The cache
 * outlives a decode (upvalue 2: the entries; upvalue 3: a table holding the
 * strings alive, index = entry + 1) and is bounded: 2 * CACHE_ENTRIES keys and
 * CACHE_ENTRIES values, of at most KEY_MAXLEN / VALUE_MAXLEN bytes (short
 * strings, which Lua interns anyway): under 200 KB per Lua state.  A value
 * entry that keeps missing (an id) stops being replaced.
 */
#define CACHE_ENTRIES 2048
#define KEY_MAXLEN 40
#define VALUE_MAXLEN 24
#define VALUE_MISSES 8
#define JSON_KEY_CACHE lua_upvalueindex(2)
#define JSON_KEY_STRINGS lua_upvalueindex(3)

typedef struct {
    const char *text; /* the cached string's bytes, alive while JSON_KEY_STRINGS holds it */
    uint32_t len;     /* UINT32_MAX: empty entry */
    uint32_t misses;  /* values: misses in a row */
} key_entry;

struct json_key_cache {
    key_entry entry[3 * CACHE_ENTRIES]; /* keys (two ways), then values */
    /* Members of the last object / array finished in each shape slot, up to
     * HINT_MAX: kept across decodes, so one order decoded after another is
     * presized too (the budget above still bounds what a wrong hint holds). */
    unsigned short obj_hint[HINT_SLOTS];
    unsigned short arr_hint[HINT_SLOTS];
};

typedef struct {
    lua_State *L;
    json_key_cache *keys;
    const char *start;
    const char *p;
    const char *end;
    int depth;
    int scratch_idx; /* stack slot of the scratch box, 0 until needed */
    vbuf *scratch;
    const char *err;     /* static reason */
    const char *err_at;  /* where it was found */
    size_t budget;       /* bytes presizing may still hold (see above) */
    unsigned short *obj_hint; /* the cache's, see json_key_cache */
    unsigned short *arr_hint;
} decoder;

#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static int fail(decoder *d, const char *why, const char *at)
{
    if (d->err == NULL) {
        d->err = why;
        d->err_at = at;
    }
    return 0;
}

static void skip_ws(decoder *d)
{
    while (d->p < d->end && WS(*d->p))
        d->p++;
}

static int decode_value(decoder *d, unsigned slot);

/* Lua rounds a hash part up to a power of two; its array part it sizes as asked. */
static size_t hash_cost(size_t n)
{
    size_t slots = 1;
    if (n == 0)
        return 0;
    while (slots < n)
        slots <<= 1;
    return slots * HASH_SLOT_BYTES;
}

/* Growing one element at a time, Lua ends with the power of two above n. */
static size_t array_cost(size_t n)
{
    return hash_cost(n) / HASH_SLOT_BYTES * ARRAY_SLOT_BYTES;
}

/* The part of `hint` the budget still pays for; *charged is set to what it costs. */
static int take_hint(decoder *d, unsigned hint, int hash, size_t *charged)
{
    size_t cost = hash ? hash_cost(hint) : (size_t)hint * ARRAY_SLOT_BYTES;
    if (cost > d->budget) {
        if (hash) {
            while (hint > 0 && hash_cost(hint) > d->budget)
                hint >>= 1;
            cost = hash_cost(hint);
        } else {
            hint = (unsigned)(d->budget / ARRAY_SLOT_BYTES);
            cost = (size_t)hint * ARRAY_SLOT_BYTES;
        }
    }
    d->budget -= cost;
    *charged = cost;
    return (int)hint;
}

/* A table closed with n members: what it would have cost unhinted comes back. */
static void settle_hint(decoder *d, size_t charged, size_t used)
{
    d->budget += used < charged ? used : charged;
}

static unsigned member_slot(unsigned parent, const char *key, size_t len)
{
    unsigned h = parent * 31u + (unsigned)len * 7u;
    if (len)
        h += (unsigned char)key[0] + (unsigned char)key[len - 1] * 3u + (unsigned char)key[len / 2] * 5u;
    return h & (HINT_SLOTS - 1);
}

#define ELEMENT_SLOT(parent) (((parent) * 17u + 101u) & (HINT_SLOTS - 1))

static int hex4(const char *s, unsigned long *out)
{
    unsigned long v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Slow path: the string has escapes.  `s` is just after the opening quote. */
static int decode_escaped_string(decoder *d, const char *s)
{
    vbuf *b;
    const char *p = s;
    if (d->scratch == NULL) {
        d->scratch = json_box_new(d->L);
        lua_replace(d->L, d->scratch_idx);
    }
    b = d->scratch;
    b->len = 0;
    for (;;) {
        const char *run = p;
        unsigned char c;
        while (p < d->end) {
            c = (unsigned char)*p;
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            if (c >= 0x80) {
                size_t n = utf8_sequence((const unsigned char *)p, (size_t)(d->end - p));
                if (n == 0)
                    return fail(d, "invalid UTF-8 in string", p);
                p += n;
            } else {
                p++;
            }
        }
        if (p >= d->end)
            return fail(d, "unterminated string", s - 1);
        if (!vbuf_append(b, run, (size_t)(p - run)))
            return fail(d, "out of memory", p);
        c = (unsigned char)*p;
        if (c == '"') {
            lua_pushlstring(d->L, b->data, b->len);
            d->p = p + 1;
            return 1;
        }
        if (c < 0x20)
            return fail(d, "control character in string", p);
        /* backslash */
        if (p + 1 >= d->end)
            return fail(d, "unterminated string", s - 1);
        {
            char out;
            switch (p[1]) {
            case '"': out = '"'; break;
            case '\\': out = '\\'; break;
            case '/': out = '/'; break;
            case 'b': out = '\b'; break;
            case 'f': out = '\f'; break;
            case 'n': out = '\n'; break;
            case 'r': out = '\r'; break;
            case 't': out = '\t'; break;
            case 'u': {
                unsigned long cp, lo;
                char utf[4];
                if (d->end - p < 6 || !hex4(p + 2, &cp))
                    return fail(d, "invalid \\u escape", p);
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(d, "lone low surrogate in \\u escape", p);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (d->end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail(d, "lone high surrogate in \\u escape", p);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (!vbuf_append(b, utf, utf8_put(utf, cp)))
                    return fail(d, "out of memory", p);
                p += 6;
                continue;
            }
            default:
                return fail(d, "invalid escape", p);
            }
            if (!vbuf_putc(b, out))
                return fail(d, "out of memory", p);
            p += 2;
        }
    }
}

/*
 * d->p is on the opening quote.  Returns 1 with *len set (d->p still on the
 * quote) if the string has no escapes, 2 if it has (d->p unchanged), 0 on error.
 */
static int scan_string(decoder *d, size_t *len)
{
    const char *s = d->p + 1;
    const char *p = json_skip_plain(s, d->end);
    while (p < d->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *len = (size_t)(p - s);
            return 1;
        }
        if (c == '\\')
            return 2;
        if (c < 0x20)
            return fail(d, "control character in string", p);
        if (c >= 0x80) {
            size_t n = utf8_sequence((const unsigned char *)p, (size_t)(d->end - p));
            if (n == 0)
                return fail(d, "invalid UTF-8 in string", p);
            p += n;
        } else {
            p++;
        }
    }
    return fail(d, "unterminated string", d->p);
}

void json_key_cache_new(lua_State *L)
{
    json_key_cache *c = lua_newuserdatauv(L, sizeof *c, 0);
    int i;
    for (i = 0; i < 3 * CACHE_ENTRIES; i++) {
        c->entry[i].text = NULL;
        c->entry[i].len = UINT32_MAX;
        c->entry[i].misses = 0;
    }
    memset(c->obj_hint, 0, sizeof c->obj_hint);
    memset(c->arr_hint, 0, sizeof c->arr_hint);
    lua_createtable(L, 3 * CACHE_ENTRIES, 0);
}

/* d->p is on the opening quote. */
static int decode_string(decoder *d)
{
    size_t len;
    int r = scan_string(d, &len);
    if (r == 1) {
        lua_pushlstring(d->L, d->p + 1, len);
        d->p += len + 2;
        return 1;
    }
    return r == 2 ? decode_escaped_string(d, d->p + 1) : 0;
}

/* a[0..n) == b[0..n), for short n, without a call */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    while (n >= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n > 0) {
        if (*a++ != *b++)
            return 0;
        n--;
    }
    return 1;
}

/* Pushes the string at d->p (on its quote) from entry i if that holds the same bytes. */
static int cache_hit(decoder *d, unsigned i)
{
    key_entry *e = &d->keys->entry[i];
    const char *s = d->p + 1;
    /* a cached string was valid UTF-8 without escapes, so the same bytes need no scan */
    if ((size_t)(d->end - s) > e->len && s[e->len] == '"' && same_bytes(s, e->text, e->len)) {
        lua_rawgeti(d->L, JSON_KEY_STRINGS, (lua_Integer)i + 1);
        d->p = s + e->len + 1;
        e->misses = 0;
        return 1;
    }
    return 0;
}

/* Keeps the string on top of the stack (of len bytes) in entry i. */
static void cache_put(decoder *d, unsigned i, size_t len)
{
    key_entry *e = &d->keys->entry[i];
    lua_pushvalue(d->L, -1);
    lua_rawseti(d->L, JSON_KEY_STRINGS, (lua_Integer)i + 1);
    e->text = lua_tostring(d->L, -1);
    e->len = (uint32_t)len;
}

/* Decodes the string at d->p; 1 with *len set if it had no escapes (cacheable). */
static int decode_uncached(decoder *d, size_t *len)
{
    const char *s = d->p + 1;
    int r = scan_string(d, len);
    if (r != 1)
        return r == 2 && decode_escaped_string(d, s) ? 2 : 0;
    lua_pushlstring(d->L, s, *len);
    d->p = s + *len + 1;
    return 1;
}

/*
 * An object key: member index `at` of its shape slot has two ways, the
 * latest key there and the one before, so that the objects of a list which
 * alternate between two shapes (an optional member, present or not) hit both.
 */
static int decode_key(decoder *d, unsigned at)
{
    unsigned way = 2 * at;
    size_t len;
    int r;
    if (cache_hit(d, way) || cache_hit(d, way + 1))
        return 1;
    r = decode_uncached(d, &len);
    if (r == 1 && len <= KEY_MAXLEN) {
        key_entry *e = d->keys->entry;
        lua_rawgeti(d->L, JSON_KEY_STRINGS, (lua_Integer)way + 1);
        lua_rawseti(d->L, JSON_KEY_STRINGS, (lua_Integer)way + 2);
        e[way + 1] = e[way];
        cache_put(d, way, len);
    }
    return r != 0;
}

/* A member's string value: one way, given up on (not replaced) when it keeps missing. */
static int decode_member_string(decoder *d, unsigned at)
{
    unsigned i = 2 * CACHE_ENTRIES + at;
    size_t len;
    int r;
    if (cache_hit(d, i))
        return 1;
    r = decode_uncached(d, &len);
    if (r == 1 && len <= VALUE_MAXLEN && d->keys->entry[i].misses < VALUE_MISSES) {
        cache_put(d, i, len);
        d->keys->entry[i].misses++;
    }
    return r != 0;
}

static int decode_number(decoder *d)
{
    const char *p = d->p;
    const char *start = p;
    int neg = 0, is_float = 0;
    uint64_t mag = 0;
    int overflow = 0;
    int sig = 0, frac = 0, exp10 = 0; /* significant digits in mag; digits after '.'; exponent */

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= d->end || *p < '0' || *p > '9')
        return fail(d, "invalid number", start);
    if (*p == '0') {
        p++;
        if (p < d->end && *p >= '0' && *p <= '9')
            return fail(d, "leading zero in number", start);
    } else {
        /* 19 digits always fit in 64 bits; more never fit in a Lua integer */
        const char *digits = p;
        while (p < d->end && *p >= '0' && *p <= '9') {
            mag = mag * 10 + (uint64_t)(*p - '0');
            p++;
        }
        overflow = p - digits > 19;
        sig = (int)(p - digits > 100 ? 100 : p - digits);
    }
    if (p < d->end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return fail(d, "invalid number: digit expected after '.'", start);
        while (p < d->end && *p >= '0' && *p <= '9') {
            /* mag stays exact while sig <= 19; past 15 the fast path below is not taken */
            if (sig < 100 && frac < 1000) {
                if (mag != 0 || *p != '0') {
                    mag = mag * 10 + (uint64_t)(*p - '0');
                    sig++;
                }
                frac++;
            } else {
                sig = 100;
            }
            p++;
        }
    }
    if (p < d->end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        is_float = 1;
        p++;
        if (p < d->end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= d->end || *p < '0' || *p > '9')
            return fail(d, "invalid number: digit expected in exponent", start);
        while (p < d->end && *p >= '0' && *p <= '9') {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            exp10 = -exp10;
    }
    d->p = p;

    /*
     * Floats of at most 15 significant digits times a power of ten up to 22:
     * both are exact doubles, so one multiply or divide rounds correctly
     * (Clinger's fast path), without strtod and its locale.
     */
    if (is_float && sig <= 15) {
        static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        int e = exp10 - frac;
        if (mag == 0 || (e >= -22 && e <= 22)) {
            double v = (double)mag;
            if (mag != 0)
                v = e < 0 ? v / pow10[-e] : v * pow10[e];
            lua_pushnumber(d->L, (lua_Number)(neg ? -v : v));
            return 1;
        }
    }

    /* "-0" stays a float so that its sign survives. */
    if (!is_float && !overflow && !(neg && mag == 0)) {
        if (!neg && mag <= (uint64_t)INT64_MAX) {
            lua_pushinteger(d->L, (lua_Integer)mag);
            return 1;
        }
        if (neg && mag <= (uint64_t)INT64_MAX + 1) {
            lua_pushinteger(d->L, (lua_Integer)(0 - mag));
            return 1;
        }
    }
    {
        /* Grammar already checked; strtod needs a terminated copy in the C locale's form. */
        char tmp[64];
        char *dyn = NULL, *text = tmp, *endp;
        size_t n = (size_t)(p - start);
        double v;
        char point = localeconv()->decimal_point[0];
        if (n >= sizeof tmp) {
            dyn = malloc(n + 1);
            if (dyn == NULL)
                return fail(d, "out of memory", start);
            text = dyn;
        }
        memcpy(text, start, n);
        text[n] = '\0';
        if (point != '.') {
            char *dot = memchr(text, '.', n);
            if (dot)
                *dot = point;
        }
        errno = 0;
        v = strtod(text, &endp);
        free(dyn);
        if (isinf(v))
            return fail(d, "number out of range", start);
        lua_pushnumber(d->L, (lua_Number)v);
        return 1;
    }
}

static int expect_literal(decoder *d, const char *word, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return fail(d, "invalid literal", d->p);
    d->p += n;
    return 1;
}

static int enter(decoder *d)
{
    if (++d->depth > JSON_MAX_DEPTH)
        return fail(d, "nesting deeper than 1000 levels", d->p);
    if (!lua_checkstack(d->L, 4))
        return fail(d, "nesting too deep for the Lua stack", d->p);
    return 1;
}

static int decode_array(decoder *d, unsigned slot)
{
    lua_Integer i = 0;
    unsigned element = ELEMENT_SLOT(slot);
    size_t charged = 0;
    if (!enter(d))
        return 0;
    d->p++; /* [ */
    skip_ws(d);
    if (d->p < d->end && *d->p == ']') {
        /* empty: nothing to presize, and nothing learnt for the next one */
        lua_createtable(d->L, 0, 0);
        lua_pushvalue(d->L, JSON_ARRAY_MT);
        lua_setmetatable(d->L, -2);
        d->p++;
        d->depth--;
        return 1;
    }
    lua_createtable(d->L, d->arr_hint[slot] ? take_hint(d, d->arr_hint[slot], 0, &charged) : 0, 0);
    lua_pushvalue(d->L, JSON_ARRAY_MT);
    lua_setmetatable(d->L, -2);
    for (;;) {
        if (!decode_value(d, element))
            return 0;
        lua_rawseti(d->L, -2, ++i);
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated array", d->p);
        if (*d->p == ',') {
            d->p++;
            continue;
        }
        if (*d->p == ']') {
            d->p++;
            if (charged)
                settle_hint(d, charged, array_cost((size_t)i));
            d->arr_hint[slot] = (unsigned short)(i > HINT_MAX ? HINT_MAX : i);
            d->depth--;
            return 1;
        }
        return fail(d, "expected ',' or ']' in array", d->p);
    }
}

static int decode_object(decoder *d, unsigned slot)
{
    int n = 0;
    size_t charged = 0;
    if (!enter(d))
        return 0;
    d->p++; /* { */
    skip_ws(d);
    if (d->p < d->end && *d->p == '}') {
        /* empty: nothing to presize, and nothing learnt for the next one */
        lua_createtable(d->L, 0, 0);
        d->p++;
        d->depth--;
        return 1;
    }
    lua_createtable(d->L, 0, d->obj_hint[slot] ? take_hint(d, d->obj_hint[slot], 1, &charged) : 0);
    for (;;) {
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated object", d->p);
        if (*d->p != '"')
            return fail(d, "expected a string key in object", d->p);
        {
            const char *key = d->p + 1;
            unsigned child, at = (slot * 16u + (unsigned)n) & (CACHE_ENTRIES - 1);
            if (!decode_key(d, at))
                return 0;
            /* the key's raw bytes are a fine fingerprint, escapes and all */
            child = member_slot(slot, key, (size_t)(d->p - 1 - key));
            skip_ws(d);
            if (d->p >= d->end || *d->p != ':')
                return fail(d, "expected ':' after object key", d->p);
            d->p++;
            skip_ws(d);
            if (d->p < d->end && *d->p == '"') {
                if (!decode_member_string(d, at))
                    return 0;
            } else if (!decode_value(d, child)) {
                return 0;
            }
        }
        lua_rawset(d->L, -3);
        n++;
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated object", d->p);
        if (*d->p == ',') {
            d->p++;
            continue;
        }
        if (*d->p == '}') {
            d->p++;
            if (charged)
                settle_hint(d, charged, hash_cost((size_t)n));
            d->obj_hint[slot] = (unsigned short)(n > HINT_MAX ? HINT_MAX : n);
            d->depth--;
            return 1;
        }
        return fail(d, "expected ',' or '}' in object", d->p);
    }
}

static int decode_value(decoder *d, unsigned slot)
{
    skip_ws(d);
    if (d->p >= d->end)
        return fail(d, "unexpected end of input", d->p);
    switch (*d->p) {
    case '{':
        return decode_object(d, slot);
    case '[':
        return decode_array(d, slot);
    case '"':
        return decode_string(d);
    case 't':
        if (!expect_literal(d, "true", 4))
            return 0;
        lua_pushboolean(d->L, 1);
        return 1;
    case 'f':
        if (!expect_literal(d, "false", 5))
            return 0;
        lua_pushboolean(d->L, 0);
        return 1;
    case 'n':
        if (!expect_literal(d, "null", 4))
            return 0;
        lua_pushlightuserdata(d->L, NULL);
        return 1;
    default:
        if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9'))
            return decode_number(d);
        return fail(d, "unexpected character", d->p);
    }
}

/* decode(text) -> value | nil, "message at offset N" */
int json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    decoder d;
    lua_settop(L, 1);
    lua_pushnil(L); /* slot 2: scratch box, created on the first escaped string */
    d.L = L;
    d.keys = lua_touserdata(L, JSON_KEY_CACHE);
    d.start = s;
    d.p = s;
    d.end = s + len;
    d.depth = 0;
    d.scratch_idx = 2;
    d.scratch = NULL;
    d.err = NULL;
    d.err_at = NULL;
    d.budget = len > SIZE_MAX / HINT_BUDGET ? SIZE_MAX : len * HINT_BUDGET;
    d.obj_hint = d.keys->obj_hint;
    d.arr_hint = d.keys->arr_hint;
    if (decode_value(&d, 0)) {
        skip_ws(&d);
        if (d.p == d.end)
            return 1;
        fail(&d, "unexpected data after the JSON value", d.p);
    }
    lua_pushnil(L);
    {
        char msg[160];
        size_t off = (size_t)(d.err_at - d.start);
        if (d.err_at >= d.end)
            snprintf(msg, sizeof msg, "%s at offset %zu (end of input)", d.err, off);
        else if ((unsigned char)*d.err_at >= 0x20 && (unsigned char)*d.err_at < 0x7F)
            snprintf(msg, sizeof msg, "%s at offset %zu (near '%c')", d.err, off, *d.err_at);
        else
            snprintf(msg, sizeof msg, "%s at offset %zu (byte 0x%02x)", d.err, off,
                     (unsigned)(unsigned char)*d.err_at);
        lua_pushstring(L, msg);
    }
    return 2;
}
