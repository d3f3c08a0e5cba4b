/*
 * Lua values -> JSON text, written into one C buffer owned by a scratch box.
 *
 * Only raw table access is used, so no metamethod (and no user code) runs
 * while encoding.  Errors do not raise: they unwind with return 0, and each
 * level prepends its key so the message names the field, e.g.
 * "items[2].product.name: string is not valid UTF-8".
 */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "utf8.h"

#define PATH_MAX_LEN 200

typedef struct {
    lua_State *L;
    vbuf *out;
    const char *err;
    char path[PATH_MAX_LEN + 1]; /* filled right to left while unwinding */
    size_t path_start;
    int path_cut; /* outer parts of the path did not fit */
} encoder;

static int fail(encoder *e, const char *why)
{
    e->err = why;
    return 0;
}

static int oom(encoder *e)
{
    return fail(e, "out of memory");
}

/* Prepends text to the error path (dropping what no longer fits). */
static void path_prepend(encoder *e, const char *text, size_t n)
{
    if (n > e->path_start) {
        e->path_cut = 1;
        return;
    }
    e->path_start -= n;
    memcpy(e->path + e->path_start, text, n);
}

static void path_prepend_index(encoder *e, lua_Integer i)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "[%lld]", (long long)i);
    path_prepend(e, tmp, (size_t)n);
}

static void path_prepend_key(encoder *e, const char *k, size_t n)
{
    if (n > 40)
        n = 40;
    path_prepend(e, k, n);
    path_prepend(e, ".", 1);
}

static int put(encoder *e, const char *s, size_t n)
{
    return vbuf_append(e->out, s, n) ? 1 : oom(e);
}

static int put_char(encoder *e, char c)
{
    return vbuf_putc(e->out, c) ? 1 : oom(e);
}

static int put_integer(encoder *e, lua_Integer v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    if (v < 0)
        *--p = '-';
    return put(e, p, (size_t)(tmp + sizeof tmp - p));
}

/*
 * The common float, a price or a weight: v is the double nearest to n / 10^k
 * for some n < 10^15 and k <= 15, in [1e-4, 1e15).  Both n and 10^k are exact
 * doubles, so the division rounds once, as strtod of "n e-k" would: when it
 * gives back v, the digits of n with a point k from the right read back as v,
 * and the smallest such k writes what %.15g writes, without printf or strtod.
 * Returns the length written into buf (>= 40 bytes), or 0 for other floats.
 */
static int format_short_float(char *buf, double v)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = v < 0 ? -v : v;
    int k;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (k = 0; k <= 15; k++) {
        double t = a * pow10[k];
        uint64_t n;
        if (t >= 1e15)
            return 0;
        n = (uint64_t)(t + 0.5);
        if ((double)n / pow10[k] == a) {
            char digits[24], *p = digits + sizeof digits;
            int len = 0, i = 0, nd;
            do {
                *--p = (char)('0' + n % 10);
                n /= 10;
            } while (n);
            nd = (int)(digits + sizeof digits - p);
            if (v < 0)
                buf[len++] = '-';
            if (nd <= k) { /* 0.0ddd */
                buf[len++] = '0';
                buf[len++] = '.';
                for (; i < k - nd; i++)
                    buf[len++] = '0';
                memcpy(buf + len, p, (size_t)nd);
                return len + nd;
            }
            memcpy(buf + len, p, (size_t)(nd - k));
            len += nd - k;
            buf[len++] = '.';
            if (k == 0) { /* keep floats floats: 2.0, not 2 */
                buf[len++] = '0';
                return len;
            }
            memcpy(buf + len, p + nd - k, (size_t)k);
            return len + k;
        }
    }
    return 0;
}

/* Shortest of %.15g..%.17g that reads back as the same double. */
static int format_float(char *buf, size_t size, double v)
{
    int prec, n = format_short_float(buf, v);
    char point;
    if (n > 0)
        return n;
    point = localeconv()->decimal_point[0];
    /* subnormals carry fewer than 15 significant digits: their shortest form may be shorter */
    for (prec = fabs(v) < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, v);
        if (point != '.') {
            char *q = memchr(buf, point, (size_t)n);
            if (q)
                *q = '.';
            if (prec < 17) {
                /* strtod expects the locale's point; compare via a copy */
                char tmp[40];
                memcpy(tmp, buf, (size_t)n + 1);
                q = memchr(tmp, '.', (size_t)n);
                if (q)
                    *q = point;
                if (strtod(tmp, NULL) == v)
                    break;
                continue;
            }
        } else if (prec < 17 && strtod(buf, NULL) == v) {
            break;
        }
    }
    /* keep floats floats across a round trip: 2.0 -> "2.0", not "2" */
    if (strpbrk(buf, ".eE") == NULL && (size_t)n + 2 < size) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    return n;
}

static int put_number(encoder *e, int idx)
{
    if (lua_isinteger(e->L, idx))
        return put_integer(e, lua_tointeger(e->L, idx));
    {
        double v = (double)lua_tonumber(e->L, idx);
        char buf[40];
        int n;
        if (isnan(v))
            return fail(e, "cannot encode NaN");
        if (isinf(v))
            return fail(e, "cannot encode an infinite number");
        n = format_float(buf, sizeof buf, v);
        return put(e, buf, (size_t)n);
    }
}

static int put_string(encoder *e, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    const unsigned char *run;
    if (!vbuf_reserve(e->out, len + 2))
        return oom(e);
    /* the common case: plain ASCII all through, one copy */
    {
        const unsigned char *q = (const unsigned char *)json_skip_plain(s, (const char *)end);
        while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
        if (q == end) {
            char *out = e->out->data + e->out->len;
            out[0] = '"';
            memcpy(out + 1, s, len);
            out[len + 1] = '"';
            e->out->len += len + 2;
            return 1;
        }
        p = q; /* everything before q is plain: the loop below starts there */
    }
    e->out->data[e->out->len++] = '"';
    run = (const unsigned char *)s;
    while (p < end) {
        unsigned char c;
        p = (const unsigned char *)json_skip_plain((const char *)p, (const char *)end);
        if (p >= end)
            break;
        c = *p;
        if (c >= 0x80) {
            size_t n = utf8_sequence(p, (size_t)(end - p));
            if (n == 0)
                return fail(e, "string is not valid UTF-8");
            p += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (!put(e, (const char *)run, (size_t)(p - run)))
            return 0;
        {
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t n = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
            if (!put(e, esc, n))
                return 0;
        }
        p++;
        run = p;
    }
    if (!put(e, (const char *)run, (size_t)(p - run)))
        return 0;
    return put_char(e, '"');
}

static int encode_value(encoder *e, int idx, int depth);

/*
 * A table is encoded as an array when it carries array_mt, or when its keys
 * are exactly 1..n (n > 0).  Everything else is an object; an empty plain
 * table is {}.  Returns the array length, or -1 for an object.
 */
static lua_Integer array_length(encoder *e, int idx)
{
    lua_State *L = e->L;
    lua_Integer n, count = 0;
    if (lua_getmetatable(L, idx)) {
        int is_array = lua_rawequal(L, -1, JSON_ARRAY_MT);
        lua_pop(L, 1);
        if (is_array)
            return (lua_Integer)lua_rawlen(L, idx);
    }
    n = (lua_Integer)lua_rawlen(L, idx);
    if (n == 0)
        return -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        {
            lua_Integer k = lua_tointeger(L, -1);
            if (k < 1 || k > n) {
                lua_pop(L, 1);
                return -1;
            }
        }
        count++;
    }
    return count == n ? n : -1;
}

static int encode_array(encoder *e, int idx, lua_Integer n, int depth)
{
    lua_Integer i;
    if (!put_char(e, '['))
        return 0;
    for (i = 1; i <= n; i++) {
        if (i > 1 && !put_char(e, ','))
            return 0;
        lua_rawgeti(e->L, idx, i);
        if (!encode_value(e, lua_gettop(e->L), depth + 1)) {
            lua_pop(e->L, 1);
            path_prepend_index(e, i);
            return 0;
        }
        lua_pop(e->L, 1);
    }
    return put_char(e, ']');
}

static int encode_key(encoder *e, int kidx)
{
    lua_State *L = e->L;
    switch (lua_type(L, kidx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *k = lua_tolstring(L, kidx, &n);
        return put_string(e, k, n);
    }
    case LUA_TNUMBER:
        /* never lua_tolstring a key: it would convert it in place and break lua_next */
        if (!put_char(e, '"') || !put_number(e, kidx))
            return 0;
        return put_char(e, '"');
    default:
        return fail(e, "object keys must be strings or numbers");
    }
}

static int encode_object(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    int first = 1;
    if (!put_char(e, '{'))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int vidx = lua_gettop(L), kidx = vidx - 1;
        if (!first && !put_char(e, ','))
            goto failed;
        first = 0;
        if (!encode_key(e, kidx) || !put_char(e, ':'))
            goto failed;
        if (!encode_value(e, vidx, depth + 1))
            goto failed;
        lua_pop(L, 1);
        continue;
    failed:
        if (lua_type(L, kidx) == LUA_TSTRING) {
            size_t n;
            const char *k = lua_tolstring(L, kidx, &n);
            path_prepend_key(e, k, n);
        } else if (lua_isinteger(L, kidx)) {
            path_prepend_index(e, lua_tointeger(L, kidx));
        }
        lua_pop(L, 2);
        return 0;
    }
    return put_char(e, '}');
}

static int encode_value(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return put(e, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5);
    case LUA_TNUMBER:
        return put_number(e, idx);
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return put_string(e, s, n);
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return put(e, "null", 4);
        return fail(e, "cannot encode a lightuserdata other than null");
    case LUA_TTABLE: {
        lua_Integer n;
        if (depth >= JSON_MAX_DEPTH)
            return fail(e, "nesting deeper than 1000 levels (a table that contains itself?)");
        if (!lua_checkstack(L, 4))
            return fail(e, "nesting too deep for the Lua stack");
        n = array_length(e, idx);
        return n >= 0 ? encode_array(e, idx, n, depth) : encode_object(e, idx, depth);
    }
    default:
        return fail(e, lua_typename(L, lua_type(L, idx)));
    }
}

/* encode(value) -> text | nil, "path: reason" */
int json_encode(lua_State *L)
{
    encoder e;
    int ok;
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    e.L = L;
    e.out = json_box_new(L); /* slot 2 */
    e.err = NULL;
    e.path_start = PATH_MAX_LEN;
    e.path_cut = 0;
    e.path[PATH_MAX_LEN] = '\0';
    ok = encode_value(&e, 1, 0);
    if (ok) {
        lua_pushlstring(L, e.out->data, e.out->len);
        vbuf_free(e.out);
        return 1;
    }
    vbuf_free(e.out);
    lua_pushnil(L);
    {
        const char *path = e.path + e.path_start;
        const char *why = e.err;
        int is_type = strchr(why, ' ') == NULL; /* bare type name from the default case */
        if (*path == '.' && !e.path_cut)
            path++;
        if (*path)
            lua_pushfstring(L, is_type ? "%s%s: cannot encode a %s value" : "%s%s: %s",
                            e.path_cut ? "..." : "", path, why);
        else
            lua_pushfstring(L, is_type ? "cannot encode a %s value" : "%s", why);
    }
    return 2;
}
