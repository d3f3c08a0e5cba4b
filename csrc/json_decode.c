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
 * names, statuses, currencies, vendors).  Each object member's key is
 * compared, byte for byte, with the two keys last seen at the same (shape
 * slot, member index); on a match the Lua string kept from then is pushed: no
 * scan, no hashing.  A member's string value is looked up by a cheap hash of
 * its bytes among VOCAB_ENTRIES entries (direct-mapped, latest wins): a
 * string Lua already holds costs a cold walk of Lua's string table to find,
 * and this finds ~1,900 of the 100-order page's ~6,600 string values.  Values
 * at a position where VOCAB_MISSES in a row missed (ids, dates: unique) are
 * neither looked up nor kept, until a new key is seen there.  (A value cache
 * by position, like the keys', measured slower beside this one.)  Colliding
 * inputs only miss.
 *
 * The cache outlives a decode (a userdata of entries, and a table holding
 * their strings alive, index = entry + 1: see decoder_state) and is bounded:
 * 2 * CACHE_ENTRIES keys and VOCAB_ENTRIES values of at most 40 bytes (short
 * strings, which Lua interns anyway): 300 KB of entries and table per Lua
 * state, plus at most 6,144 short strings held.
 */
#define CACHE_ENTRIES 2048
#define KEY_MAXLEN 40
#define VOCAB_ENTRIES 2048
#define VOCAB_MAXLEN 40
#define VOCAB_MISSES 32
#define ALL_ENTRIES (2 * CACHE_ENTRIES + VOCAB_ENTRIES)

typedef struct {
    uint64_t head[2];  /* its first 16 bytes, then '"' if shorter, zero-padded (see entry_matches) */
    const char *text; /* the cached string's bytes, alive while the strings table holds them */
    uint32_t len;     /* UINT32_MAX: empty entry */
} key_entry;

struct json_key_cache {
    key_entry entry[ALL_ENTRIES]; /* keys (two ways), then values */
    unsigned char value_misses[CACHE_ENTRIES]; /* per (shape slot, member index), up to VOCAB_MISSES */
    /* Members of the last object / array finished in each shape slot, up to
     * HINT_MAX: kept across decodes, so one order decoded after another is
     * presized too (the budget above still bounds what a wrong hint holds). */
    unsigned short obj_hint[HINT_SLOTS];
    unsigned short arr_hint[HINT_SLOTS];
};

/*
 * Partial decoding.  core.json_select(tree) compiles a tree of member names
 * into a selector: node 0 is the root; each node lists the members it names,
 * each either kept whole (child -1) or given a sub-tree (child: a node
 * index), and whether it keeps, whole, the members it does not name ("*").
 * Names live in one buffer, by offset.  The selector has its own size hints:
 * its objects are smaller than the full decode's at the same paths.
 */
#define SELECTOR_MT "voucherify.core.selector"
#define SELECT_MAX_DEPTH 64

typedef struct {
    size_t name; /* offset in the selector's names */
    size_t len;
    int child; /* node index of its sub-tree, or -1: keep the value whole */
} sel_member;

typedef struct {
    int first, count; /* its members: member[first .. first + count) */
    int star;         /* keeps the members it does not name, whole */
} sel_node;

typedef struct {
    sel_node *node;
    sel_member *member;
    int nodes, node_cap, members, member_cap;
    vbuf names;
    unsigned short obj_hint[HINT_SLOTS];
    unsigned short arr_hint[HINT_SLOTS];
} selector;

typedef struct {
    lua_State *L;
    json_key_cache *keys;
    int mt_idx;      /* stack slot of the array metatable */
    int strings_idx; /* stack slot of the table keeping cached strings alive */
    const char *start;
    const char *p;
    const char *end;
    int depth;
    int scratch_idx; /* stack slot of the scratch box, 0 until needed */
    vbuf *scratch;
    const char *err;     /* static reason */
    const char *err_at;  /* where it was found */
    size_t budget;       /* bytes presizing may still hold (see above) */
    unsigned short *obj_hint; /* the cache's (see json_key_cache), or the selector's */
    unsigned short *arr_hint;
    const selector *sel; /* NULL: a full decode */
    char point;          /* the locale's decimal point, looked up on the first strtod */
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
static int select_value(decoder *d, unsigned slot, const sel_node *node);

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

/*
 * Slow path: the string has escapes.  `s` is just after the opening quote.
 * Pushes the string if `push`, else only checks it (a skipped value) the same way.
 */
static int escaped_string(decoder *d, const char *s, int push)
{
    vbuf *b = NULL;
    const char *p = s;
    if (push) {
        if (d->scratch == NULL) {
            d->scratch = json_box_new(d->L);
            lua_replace(d->L, d->scratch_idx);
        }
        b = d->scratch;
        b->len = 0;
    }
    for (;;) {
        const char *run = p;
        unsigned char c;
        while ((p = json_skip_plain(p, d->end)) < d->end) {
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
        if (b != NULL && !vbuf_append(b, run, (size_t)(p - run)))
            return fail(d, "out of memory", p);
        c = (unsigned char)*p;
        if (c == '"') {
            if (b != NULL)
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
                if (b != NULL && !vbuf_append(b, utf, utf8_put(utf, cp)))
                    return fail(d, "out of memory", p);
                p += 6;
                continue;
            }
            default:
                return fail(d, "invalid escape", p);
            }
            if (b != NULL && !vbuf_putc(b, out))
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
    const char *p = s;
    while ((p = json_skip_plain(p, d->end)) < d->end) {
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

/* Pushes a new, empty cache (userdata) and the table that keeps its strings alive. */
static void key_cache_new(lua_State *L)
{
    json_key_cache *c = lua_newuserdatauv(L, sizeof *c, 0);
    int i;
    for (i = 0; i < ALL_ENTRIES; i++) {
        c->entry[i].head[0] = c->entry[i].head[1] = 0;
        c->entry[i].text = NULL;
        c->entry[i].len = UINT32_MAX;
    }
    memset(c->value_misses, 0, sizeof c->value_misses);
    memset(c->obj_hint, 0, sizeof c->obj_hint);
    memset(c->arr_hint, 0, sizeof c->arr_hint);
    lua_createtable(L, ALL_ENTRIES, 0);
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
    return r == 2 ? escaped_string(d, d->p + 1, 1) : 0;
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

/*
 * s (after an opening quote, avail bytes readable) starts with the entry's
 * string and its closing quote.  The head holds the string's first 16 bytes
 * and, when shorter, its closing quote: one 16-byte compare decides most.
 * (A cached string has no escapes, so that quote closes it.)
 */
#if defined(__SSE2__) && defined(__GNUC__)
static inline int entry_matches(const key_entry *e, const char *s, size_t avail)
{
    size_t len = e->len;
    if (e->text == NULL || avail <= len) /* empty (len UINT32_MAX), or too close to the end */
        return 0;
    if (avail >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)e->head);
        unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, h));
        unsigned need = len >= 15 ? 0xFFFFu : (2u << len) - 1; /* the bytes and the quote */
        if ((eq & need) != need)
            return 0;
        return len < 16 || (s[len] == '"' && same_bytes(s + 16, e->text + 16, len - 16));
    }
    return s[len] == '"' && same_bytes(s, e->text, len);
}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline int entry_matches(const key_entry *e, const char *s, size_t avail)
{
    size_t len = e->len, n = len < 16 ? len + 1 : 16; /* head bytes that count */
    uint64_t a, b, m0, m1;
    if (e->text == NULL || avail <= len)
        return 0;
    if (avail < 16)
        return s[len] == '"' && same_bytes(s, e->text, len);
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    m0 = n >= 8 ? ~(uint64_t)0 : ~(uint64_t)0 >> (64 - 8 * n);
    m1 = n >= 16 ? ~(uint64_t)0 : n > 8 ? ~(uint64_t)0 >> (128 - 8 * n) : 0;
    if ((((a ^ e->head[0]) & m0) | ((b ^ e->head[1]) & m1)) != 0)
        return 0;
    return len < 16 || (s[len] == '"' && same_bytes(s + 16, e->text + 16, len - 16));
}
#else
static inline int entry_matches(const key_entry *e, const char *s, size_t avail)
{
    return e->text != NULL && avail > e->len && s[e->len] == '"' && same_bytes(s, e->text, e->len);
}
#endif

/* Pushes the string at d->p (on its quote) from entry i if that holds the same bytes. */
static inline int cache_hit(decoder *d, unsigned i)
{
    key_entry *e = &d->keys->entry[i];
    const char *s = d->p + 1;
    /* a cached string was valid UTF-8 without escapes, so the same bytes need no scan */
    if (entry_matches(e, s, (size_t)(d->end - s))) {
        lua_rawgeti(d->L, d->strings_idx, (lua_Integer)i + 1);
        d->p = s + e->len + 1;
        return 1;
    }
    return 0;
}

/* Keeps the string on top of the stack (of len bytes) in entry i. */
static void cache_put(decoder *d, unsigned i, size_t len)
{
    key_entry *e = &d->keys->entry[i];
    lua_pushvalue(d->L, -1);
    lua_rawseti(d->L, d->strings_idx, (lua_Integer)i + 1);
    e->text = lua_tostring(d->L, -1);
    e->len = (uint32_t)len;
    memset(e->head, 0, sizeof e->head);
    memcpy(e->head, e->text, len < 16 ? len : 16);
    if (len < 16)
        ((char *)e->head)[len] = '"';
}

/* Decodes the string at d->p; 1 with *len set if it had no escapes (cacheable). */
static int decode_uncached(decoder *d, size_t *len)
{
    const char *s = d->p + 1;
    int r = scan_string(d, len);
    if (r != 1)
        return r == 2 && escaped_string(d, s, 1) ? 2 : 0;
    lua_pushlstring(d->L, s, *len);
    d->p = s + *len + 1;
    return 1;
}

/* Keeps the key just pushed (len bytes, no escapes) in way 0 of `way`, the old one in way 1. */
static void remember_key(decoder *d, unsigned way, size_t len)
{
    if (len <= KEY_MAXLEN) {
        key_entry *e = d->keys->entry;
        lua_rawgeti(d->L, d->strings_idx, (lua_Integer)way + 1);
        lua_rawseti(d->L, d->strings_idx, (lua_Integer)way + 2);
        e[way + 1] = e[way];
        cache_put(d, way, len);
    }
    d->keys->value_misses[way / 2] = 0; /* a new member here: its values get their chance */
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
    if (r == 1)
        remember_key(d, way, len);
    return r != 0;
}

/* Pushes the key at d->p, already scanned: len bytes without escapes. */
static void push_scanned_key(decoder *d, unsigned at, size_t len)
{
    unsigned way = 2 * at;
    if (cache_hit(d, way) || cache_hit(d, way + 1))
        return;
    lua_pushlstring(d->L, d->p + 1, len);
    d->p += len + 2;
    remember_key(d, way, len);
}

/* The vocabulary entry for s[0..len) (len <= VOCAB_MAXLEN, avail bytes readable at s, avail > len). */
static unsigned vocab_slot(const char *s, size_t len, size_t avail)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
    } else if (len > 0 && avail >= 8) {
        memcpy(&a, s, 8);
        a &= ~(uint64_t)0 >> (64 - 8 * len); /* on a big-endian CPU other bytes: only hits lost */
    } else {
        memcpy(&a, s, len);
    }
    a = (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC2B2AE3D27D4EB4FULL) ^ len;
    return 2 * CACHE_ENTRIES + (unsigned)(((a ^ (a >> 29)) * 0x94D049BB133111EBULL) >> 40) % VOCAB_ENTRIES;
}

/* A member's string value, member index `at` of its shape slot: see "String cache". */
static int decode_member_string(decoder *d, unsigned at)
{
    unsigned char *misses = &d->keys->value_misses[at];
    const char *s = d->p + 1;
    size_t len;
    int r = scan_string(d, &len);
    if (r != 1)
        return r == 2 && escaped_string(d, s, 1);
    if (len <= VOCAB_MAXLEN) {
        unsigned m = *misses;
        if (m < VOCAB_MISSES) {
            unsigned v = vocab_slot(s, len, (size_t)(d->end - s));
            if (cache_hit(d, v)) {
                *misses = 0;
                return 1;
            }
            *misses = (unsigned char)(m < VOCAB_MISSES ? m + 1 : VOCAB_MISSES);
            lua_pushlstring(d->L, s, len);
            d->p = s + len + 1;
            cache_put(d, v, len);
            return 1;
        }
    }
    lua_pushlstring(d->L, s, len);
    d->p = s + len + 1;
    return 1;
}

/* Pushes the number at d->p if `push`; else only checks it (range included). */
static int number(decoder *d, int push)
{
    const char *p = d->p;
    const char *start = p;
    int neg = 0, is_float = 0;
    uint64_t mag = 0;
    int overflow = 0;
    int sig = 0, frac = 0, exp10 = 0; /* significant digits in mag; digits after '.'; exponent */

    /* most numbers in API documents are integers of at most 18 digits (no
     * overflow), not the last bytes of the input: no fraction, no exponent */
    if (d->end - p > 18 && *p >= '1' && *p <= '9') {
        const char *q = p;
        uint64_t v = (uint64_t)(*q++ - '0');
        while ((unsigned)(*q - '0') <= 9 && q - p < 18)
            v = v * 10 + (uint64_t)(*q++ - '0');
        if (*q != '.' && *q != 'e' && *q != 'E' && (unsigned)(*q - '0') > 9) {
            d->p = q;
            if (push)
                lua_pushinteger(d->L, (lua_Integer)v);
            return 1;
        }
    }
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
            if (push)
                lua_pushnumber(d->L, (lua_Number)(neg ? -v : v));
            return 1;
        }
    }

    /* "-0" stays a float so that its sign survives. */
    if (!is_float && !overflow && !(neg && mag == 0)) {
        if (!neg && mag <= (uint64_t)INT64_MAX) {
            if (push)
                lua_pushinteger(d->L, (lua_Integer)mag);
            return 1;
        }
        if (neg && mag <= (uint64_t)INT64_MAX + 1) {
            if (push)
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
        char point = d->point ? d->point : (d->point = localeconv()->decimal_point[0]);
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
        if (push)
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

static int deeper(decoder *d)
{
    if (++d->depth > JSON_MAX_DEPTH)
        return fail(d, "nesting deeper than 1000 levels", d->p);
    return 1;
}

static int enter(decoder *d)
{
    if (!deeper(d))
        return 0;
    if (!lua_checkstack(d->L, 4))
        return fail(d, "nesting too deep for the Lua stack", d->p);
    return 1;
}

/* Skips the string at d->p (on its quote), checking it as decode_string would. */
static int skip_string(decoder *d)
{
    size_t len;
    int r = scan_string(d, &len);
    if (r == 1) {
        d->p += len + 2;
        return 1;
    }
    return r == 2 && escaped_string(d, d->p + 1, 0);
}

/*
 * Skips the value at d->p without building anything, checking it as
 * decode_value would (same messages at the same offsets, same depth limit):
 * a selected decode fails exactly when the full decode does.  Iterative: one
 * byte per open container says which one it is.
 */
static int skip_value(decoder *d)
{
    const int base = d->depth;
    char closer[JSON_MAX_DEPTH + 1]; /* ']' or '}' for each open container */
    for (;;) {
        char c;
        skip_ws(d); /* a value */
        if (d->p >= d->end)
            return fail(d, "unexpected end of input", d->p);
        c = *d->p;
        if (c == '[' || c == '{') {
            if (!deeper(d))
                return 0;
            closer[d->depth - base] = c == '[' ? ']' : '}';
            d->p++;
            skip_ws(d);
            if (d->p < d->end && *d->p == closer[d->depth - base]) {
                d->p++;
                d->depth--;
            } else if (c == '[') {
                continue; /* its first element */
            } else {
                goto key;
            }
        } else if (c == '"') {
            if (!skip_string(d))
                return 0;
        } else if (c == 't' || c == 'f' || c == 'n') {
            if (!expect_literal(d, c == 't' ? "true" : c == 'f' ? "false" : "null", c == 'f' ? 5 : 4))
                return 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!number(d, 0))
                return 0;
        } else {
            return fail(d, "unexpected character", d->p);
        }
        /* after a value: close what ends here, then on to the next element or member */
        for (;;) {
            int in_array;
            if (d->depth == base)
                return 1;
            in_array = closer[d->depth - base] == ']';
            skip_ws(d);
            if (d->p >= d->end)
                return fail(d, in_array ? "unterminated array" : "unterminated object", d->p);
            if (*d->p == ',') {
                d->p++;
                break;
            }
            if (*d->p != closer[d->depth - base])
                return fail(d, in_array ? "expected ',' or ']' in array" : "expected ',' or '}' in object", d->p);
            d->p++;
            d->depth--;
        }
        if (closer[d->depth - base] == ']')
            continue;
    key:
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated object", d->p);
        if (*d->p != '"')
            return fail(d, "expected a string key in object", d->p);
        if (!skip_string(d))
            return 0;
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':')
            return fail(d, "expected ':' after object key", d->p);
        d->p++;
    }
}

/* The member of `node` named key[0..len), or NULL. */
static const sel_member *sel_find(const selector *sel, const sel_node *node, const char *key, size_t len)
{
    const sel_member *m, *last;
    if (node->count == 0)
        return NULL; /* sel->member may be NULL */
    m = sel->member + node->first;
    last = m + node->count;
    for (; m < last; m++)
        if (m->len == len && (len == 0 || memcmp(sel->names.data + m->name, key, len) == 0))
            return m;
    return NULL;
}

/*
 * The key at d->p, in an object that `node` selects from: *m is the member
 * naming it (or NULL), *keep whether the member is kept; the key is pushed
 * only if it is.  d->p ends after the key either way.
 */
static int select_key(decoder *d, unsigned at, const sel_node *node, const sel_member **m, int *keep)
{
    size_t len;
    int r = scan_string(d, &len);
    if (r == 1) {
        *m = sel_find(d->sel, node, d->p + 1, len);
        *keep = *m != NULL || node->star;
        if (*keep)
            push_scanned_key(d, at, len);
        else
            d->p += len + 2;
        return 1;
    }
    if (r == 0 || !escaped_string(d, d->p + 1, 1))
        return 0;
    /* escapes: compared as decoded, as the Lua key would be */
    {
        const char *k = lua_tolstring(d->L, -1, &len);
        *m = sel_find(d->sel, node, k, len);
        *keep = *m != NULL || node->star;
        if (!*keep)
            lua_pop(d->L, 1);
    }
    return 1;
}

/* node: NULL for a full decode, else the sub-tree applied to each element */
static int decode_array(decoder *d, unsigned slot, const sel_node *node)
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
        lua_pushvalue(d->L, d->mt_idx);
        lua_setmetatable(d->L, -2);
        d->p++;
        d->depth--;
        return 1;
    }
    lua_createtable(d->L, d->arr_hint[slot] ? take_hint(d, d->arr_hint[slot], 0, &charged) : 0, 0);
    lua_pushvalue(d->L, d->mt_idx);
    lua_setmetatable(d->L, -2);
    for (;;) {
        if (node ? !select_value(d, element, node) : !decode_value(d, element))
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

/* node: NULL for a full decode, else the sub-tree that says which members to keep */
static int decode_object(decoder *d, unsigned slot, const sel_node *node)
{
    int n = 0, i = 0; /* members kept, members seen */
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
    for (;; i++) {
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated object", d->p);
        if (*d->p != '"')
            return fail(d, "expected a string key in object", d->p);
        {
            const char *key = d->p + 1;
            const sel_member *m = NULL;
            int keep = 1;
            unsigned at = (slot * 16u + (unsigned)i) & (CACHE_ENTRIES - 1);
            size_t klen;
            if (node ? !select_key(d, at, node, &m, &keep) : !decode_key(d, at))
                return 0;
            klen = (size_t)(d->p - 1 - key);
            skip_ws(d);
            if (d->p >= d->end || *d->p != ':')
                return fail(d, "expected ':' after object key", d->p);
            d->p++;
            skip_ws(d);
            if (!keep) {
                if (!skip_value(d))
                    return 0;
                goto next;
            }
            /* a member's shape slot comes from its key's raw bytes (escapes and all);
             * only tables use one */
            if (m != NULL && m->child >= 0) {
                if (!select_value(d, member_slot(slot, key, klen), &d->sel->node[m->child]))
                    return 0;
            } else if (d->p >= d->end) {
                return fail(d, "unexpected end of input", d->p);
            } else if (*d->p == '"') {
                if (!decode_member_string(d, at))
                    return 0;
            } else if ((unsigned)(*d->p - '0') <= 9) {
                /* the common scalars without a trip through decode_value */
                if (!number(d, 1))
                    return 0;
            } else if (!decode_value(d, *d->p == '{' || *d->p == '[' ? member_slot(slot, key, klen) : 0)) {
                return 0;
            }
        }
        lua_rawset(d->L, -3);
        n++;
    next:
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
        return decode_object(d, slot, NULL);
    case '[':
        return decode_array(d, slot, NULL);
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
            return number(d, 1);
        return fail(d, "unexpected character", d->p);
    }
}

/* A value under a sub-tree: objects are selected from, arrays have it applied to their elements. */
static int select_value(decoder *d, unsigned slot, const sel_node *node)
{
    skip_ws(d);
    if (d->p < d->end && *d->p == '{')
        return decode_object(d, slot, node);
    if (d->p < d->end && *d->p == '[')
        return decode_array(d, slot, node);
    return decode_value(d, slot);
}

/*
 * What every decode needs, in four consecutive stack slots from `base`: the
 * array metatable, the cache userdata, the cache's strings table, and a nil
 * that becomes the scratch box.  core.json_decode copies the first three from
 * its upvalues; json_decode_bytes from registry[&decoder_state] (a table
 * { array_mt, cache, strings }), so that any C function can decode.
 */
static const char decoder_state = 0;

/*
 * Decodes s[0..len) above the four slots at base, all of it or what `sel`
 * selects: 1 (the value) or 2 (nil, message).
 */
static int decode_run(lua_State *L, const char *s, size_t len, int base, const selector *sel)
{
    decoder d;
    if (s == NULL)
        s = ""; /* no bytes: arithmetic on NULL is undefined even for 0 */
    d.L = L;
    d.mt_idx = base;
    d.keys = lua_touserdata(L, base + 1);
    d.strings_idx = base + 2;
    d.start = s;
    d.p = s;
    d.end = s + len;
    d.depth = 0;
    d.scratch_idx = base + 3;
    d.scratch = NULL;
    d.err = NULL;
    d.err_at = NULL;
    d.budget = len > SIZE_MAX / HINT_BUDGET ? SIZE_MAX : len * HINT_BUDGET;
    d.obj_hint = sel ? (unsigned short *)sel->obj_hint : d.keys->obj_hint;
    d.arr_hint = sel ? (unsigned short *)sel->arr_hint : d.keys->arr_hint;
    d.sel = sel;
    d.point = 0;
    if (sel ? select_value(&d, 0, &sel->node[0]) : decode_value(&d, 0)) {
        skip_ws(&d);
        if (d.p == d.end)
            return 1;
        fail(&d, "unexpected data after the JSON value", d.p);
    }
    lua_settop(L, base + 3); /* drops what was half built */
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

/* decode(text [, selector]) -> value | nil, "message at offset N"; upvalues: array_mt, cache, strings */
static int json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const selector *sel = NULL;
    if (!lua_isnoneornil(L, 2))
        sel = luaL_checkudata(L, 2, SELECTOR_MT);
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_pushnil(L);
    return decode_run(L, s, len, 3, sel);
}

int json_decode_bytes(lua_State *L, const char *p, size_t n, int select_idx)
{
    int base, results, i;
    const selector *sel = NULL;
    if (select_idx != 0)
        sel = luaL_checkudata(L, select_idx, SELECTOR_MT);
    luaL_checkstack(L, 8, "json_decode_bytes");
    base = lua_gettop(L) + 1;
    lua_pushlightuserdata(L, (void *)&decoder_state);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_istable(L, base))
        luaL_error(L, "json_decode_bytes: json_register was not called in this Lua state");
    lua_rawgeti(L, base, 1);
    lua_rawgeti(L, base, 2);
    lua_rawgeti(L, base, 3);
    lua_pushnil(L);
    results = decode_run(L, p, n, base + 1, sel);
    for (i = 0; i < 5; i++)
        lua_remove(L, base); /* the state table and the four slots under the results */
    return results;
}

/* --- selectors: core.json_select(tree) ---------------------------------- */

static int selector_gc(lua_State *L)
{
    selector *sel = luaL_checkudata(L, 1, SELECTOR_MT);
    free(sel->node);
    free(sel->member);
    vbuf_free(&sel->names);
    sel->node = NULL;
    sel->member = NULL;
    sel->nodes = sel->members = sel->node_cap = sel->member_cap = 0;
    return 0;
}

/* Makes room for `need` elements of `size` bytes in *arr (capacity *cap), or raises. */
static void *grow(lua_State *L, void *arr, int *cap, int need, size_t size)
{
    int n = *cap ? *cap : 8;
    void *p;
    if (need <= *cap)
        return arr;
    while (n < need)
        n *= 2;
    p = realloc(arr, (size_t)n * size);
    if (p == NULL)
        luaL_error(L, "json_select: out of memory");
    *cap = n;
    return p;
}

static int is_true(lua_State *L, int i)
{
    return lua_type(L, i) == LUA_TBOOLEAN && lua_toboolean(L, i);
}

/*
 * Compiles the tree at stack index t (reached by `path`) into a node; returns
 * its index.  Two passes over the table: the first checks it and counts the
 * names, so that a node's members are contiguous; the second fills them and
 * compiles the sub-trees (their members come after).
 */
static int compile_node(lua_State *L, selector *sel, int t, int depth, const char *path)
{
    int idx = sel->nodes, named = 0, star = 0, k;
    if (depth > SELECT_MAX_DEPTH)
        luaL_error(L, "json_select: %s: tree deeper than %d levels", path, SELECT_MAX_DEPTH);
    luaL_checkstack(L, 8, "json_select");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *name;
        size_t len;
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "json_select: %s: keys must be member names (strings), got a %s key", path,
                       luaL_typename(L, -2));
        name = lua_tolstring(L, -2, &len);
        if (len == 1 && name[0] == '*') {
            if (!is_true(L, -1))
                luaL_error(L, "json_select: %s: \"*\" must be true, got %s", path, luaL_typename(L, -1));
            star = 1;
        } else if (is_true(L, -1) || lua_type(L, -1) == LUA_TTABLE) {
            named++;
        } else {
            luaL_error(L, "json_select: %s.%s: value must be true or a table, got %s", path, name,
                       luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    sel->node = grow(L, sel->node, &sel->node_cap, idx + 1, sizeof *sel->node);
    sel->member = grow(L, sel->member, &sel->member_cap, sel->members + named, sizeof *sel->member);
    sel->nodes++;
    sel->node[idx].first = k = sel->members;
    sel->node[idx].count = named;
    sel->node[idx].star = star;
    sel->members += named;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t len;
        const char *name = lua_tolstring(L, -2, &len);
        if (!(len == 1 && name[0] == '*')) {
            int child = -1;
            if (lua_type(L, -1) == LUA_TTABLE) {
                const char *sub = lua_pushfstring(L, "%s.%s", path, name);
                child = compile_node(L, sel, lua_gettop(L) - 1, depth + 1, sub);
                lua_pop(L, 1);
            }
            /* sel->member may have moved: index it afresh */
            sel->member[k].name = sel->names.len;
            sel->member[k].len = len;
            sel->member[k].child = child;
            if (!vbuf_append(&sel->names, name, len))
                luaL_error(L, "json_select: out of memory");
            k++;
        }
        lua_pop(L, 1);
    }
    return idx;
}

/*
 * select(tree) -> selector.  Raises (at the caller's line) when the tree is
 * not a table of member name = true | sub-tree, with "*" = true allowed.
 */
static int json_select(lua_State *L)
{
    selector *sel;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    sel = lua_newuserdatauv(L, sizeof *sel, 0);
    memset(sel, 0, sizeof *sel);
    vbuf_init(&sel->names);
    if (luaL_newmetatable(L, SELECTOR_MT)) {
        lua_pushcfunction(L, selector_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "json selector");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
    /* owned by the userdata from here: an error below leaves nothing behind */
    compile_node(L, sel, 1, 1, "tree");
    return 1;
}

void json_decode_push(lua_State *L, int mt)
{
    if (mt < 0)
        mt = lua_gettop(L) + mt + 1;
    lua_createtable(L, 3, 0); /* registry[&decoder_state] */
    lua_pushvalue(L, mt);
    lua_rawseti(L, -2, 1);
    key_cache_new(L); /* state, cache, strings */
    lua_pushvalue(L, -2);
    lua_rawseti(L, -4, 2);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, 3);
    lua_pushlightuserdata(L, (void *)&decoder_state);
    lua_pushvalue(L, -4);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, mt);
    lua_insert(L, -3); /* state, mt, cache, strings */
    lua_pushcclosure(L, json_decode, 3);
    lua_remove(L, -2); /* the state table */
}

void json_select_push(lua_State *L)
{
    lua_pushcfunction(L, json_select);
}
