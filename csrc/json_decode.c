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

typedef struct {
    lua_State *L;
    const char *start;
    const char *p;
    const char *end;
    int depth;
    int scratch_idx; /* stack slot of the scratch box, 0 until needed */
    vbuf *scratch;
    const char *err;     /* static reason */
    const char *err_at;  /* where it was found */
    size_t budget;       /* bytes presizing may still hold (see above) */
    /* Members of the last object / array finished in each shape slot, up to HINT_MAX. */
    unsigned short obj_hint[HINT_SLOTS];
    unsigned short arr_hint[HINT_SLOTS];
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

/* d->p is on the opening quote. */
static int decode_string(decoder *d)
{
    const char *s = d->p + 1;
    const char *p = json_skip_plain(s, d->end);
    while (p < d->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            lua_pushlstring(d->L, s, (size_t)(p - s));
            d->p = p + 1;
            return 1;
        }
        if (c == '\\')
            return decode_escaped_string(d, s);
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

static int decode_number(decoder *d)
{
    const char *p = d->p;
    const char *start = p;
    int neg = 0, is_float = 0;
    uint64_t mag = 0;
    int overflow = 0;

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
    }
    if (p < d->end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return fail(d, "invalid number: digit expected after '.'", start);
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < d->end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < d->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return fail(d, "invalid number: digit expected in exponent", start);
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    }
    d->p = p;

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
            unsigned child;
            if (!decode_string(d))
                return 0;
            /* the key's raw bytes are a fine fingerprint, escapes and all */
            child = member_slot(slot, key, (size_t)(d->p - 1 - key));
            skip_ws(d);
            if (d->p >= d->end || *d->p != ':')
                return fail(d, "expected ':' after object key", d->p);
            d->p++;
            if (!decode_value(d, child))
                return 0;
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
    d.start = s;
    d.p = s;
    d.end = s + len;
    d.depth = 0;
    d.scratch_idx = 2;
    d.scratch = NULL;
    d.err = NULL;
    d.err_at = NULL;
    d.budget = len > SIZE_MAX / HINT_BUDGET ? SIZE_MAX : len * HINT_BUDGET;
    memset(d.obj_hint, 0, sizeof d.obj_hint);
    memset(d.arr_hint, 0, sizeof d.arr_hint);
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
