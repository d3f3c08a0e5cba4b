/*
 * The construction floor for `make bench`: the least work any decode-to-Lua-
 * tables design must do.  floor.prepare(text, array_mt) parses the JSON into a
 * tape (untimed); floor.build(tape[, cached_keys]) only builds the Lua tables
 * from it: exact lua_createtable sizes, lua_pushlstring (or, with cached_keys,
 * object keys pushed from a table of strings made at prepare time), lua_rawset,
 * the array metatable.  Numbers are converted at prepare time.
 *
 * A bench tool for trusted fixtures: strings with escapes are refused.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

enum { T_OBJ, T_ARR, T_STR, T_KEY, T_INT, T_NUM, T_TRUE, T_FALSE, T_NULL };

typedef struct {
    int type;
    int n;          /* members (T_OBJ, T_ARR), length (T_STR, T_KEY), key id (T_KEY) */
    int key;
    const char *s;  /* into the text, kept alive as the tape's user value */
    lua_Integer i;
    double d;
} op;

typedef struct {
    op *ops;
    size_t len, cap;
} tape;

typedef struct {
    const char *p, *end;
    tape *t;
    lua_State *L;
    int keys;       /* stack index of the key cache being filled (text -> id, id -> string) */
    int nkeys;
} parser;

static size_t push_op(parser *ps, int type)
{
    tape *t = ps->t;
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        op *ops = realloc(t->ops, cap * sizeof *ops);
        if (ops == NULL)
            luaL_error(ps->L, "floor: out of memory");
        t->ops = ops;
        t->cap = cap;
    }
    memset(&t->ops[t->len], 0, sizeof(op));
    t->ops[t->len].type = type;
    return t->len++;
}

static void ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static void parse_string(parser *ps, int type)
{
    const char *s = ++ps->p;
    size_t k;
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\')
            luaL_error(ps->L, "floor: escapes are not supported");
        ps->p++;
    }
    k = push_op(ps, type);
    ps->t->ops[k].s = s;
    ps->t->ops[k].n = (int)(ps->p - s);
    if (type == T_KEY) {
        lua_pushlstring(ps->L, s, (size_t)(ps->p - s));
        lua_pushvalue(ps->L, -1);
        lua_rawget(ps->L, ps->keys);
        if (lua_isnil(ps->L, -1)) {
            lua_pop(ps->L, 1);
            lua_pushvalue(ps->L, -1);
            lua_rawseti(ps->L, ps->keys, ++ps->nkeys);
            lua_pushinteger(ps->L, ps->nkeys);
            lua_rawset(ps->L, ps->keys);
            ps->t->ops[k].key = ps->nkeys;
        } else {
            ps->t->ops[k].key = (int)lua_tointeger(ps->L, -1);
            lua_pop(ps->L, 2);
        }
    }
    ps->p++;
}

static void parse_value(parser *ps)
{
    ws(ps);
    if (ps->p >= ps->end)
        luaL_error(ps->L, "floor: unexpected end");
    switch (*ps->p) {
    case '{':
    case '[': {
        int obj = *ps->p == '{';
        size_t k = push_op(ps, obj ? T_OBJ : T_ARR);
        int n = 0;
        ps->p++;
        ws(ps);
        if (*ps->p == (obj ? '}' : ']')) {
            ps->p++;
            return;
        }
        for (;;) {
            if (obj) {
                ws(ps);
                parse_string(ps, T_KEY);
                ws(ps);
                ps->p++; /* : */
            }
            parse_value(ps);
            n++;
            ws(ps);
            if (*ps->p++ != ',')
                break;
        }
        ps->t->ops[k].n = n;
        return;
    }
    case '"':
        parse_string(ps, T_STR);
        return;
    case 't':
        push_op(ps, T_TRUE);
        ps->p += 4;
        return;
    case 'f':
        push_op(ps, T_FALSE);
        ps->p += 5;
        return;
    case 'n':
        push_op(ps, T_NULL);
        ps->p += 4;
        return;
    default: {
        char *e;
        const char *s = ps->p;
        size_t k;
        int is_float = 0;
        while (ps->p < ps->end && strchr("+-0123456789.eE", *ps->p)) {
            if (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')
                is_float = 1;
            ps->p++;
        }
        k = push_op(ps, is_float ? T_NUM : T_INT);
        if (is_float)
            ps->t->ops[k].d = strtod(s, &e);
        else
            ps->t->ops[k].i = (lua_Integer)strtoll(s, &e, 10);
        return;
    }
    }
}

static int tape_gc(lua_State *L)
{
    tape *t = lua_touserdata(L, 1);
    free(t->ops);
    t->ops = NULL;
    return 0;
}

/* prepare(text, array_mt) -> tape; user values: text, array_mt, key cache */
static int prepare(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    parser ps;
    tape *t;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_newtable(L); /* 3: key cache */
    t = lua_newuserdatauv(L, sizeof *t, 3);
    t->ops = NULL;
    t->len = t->cap = 0;
    lua_newtable(L);
    lua_pushcfunction(L, tape_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    ps.p = s;
    ps.end = s + len;
    ps.t = t;
    ps.L = L;
    ps.keys = 3;
    ps.nkeys = 0;
    parse_value(&ps);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 4, 1);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 4, 2);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, 4, 3);
    return 1;
}

typedef struct {
    lua_State *L;
    const op *o;
    int cached;
} builder;

static void build_value(builder *b)
{
    lua_State *L = b->L;
    const op *o = b->o++;
    int i;
    switch (o->type) {
    case T_OBJ:
        lua_createtable(L, 0, o->n);
        for (i = 0; i < o->n; i++) {
            const op *k = b->o++;
            if (b->cached)
                lua_rawgeti(L, 3, k->key);
            else
                lua_pushlstring(L, k->s, (size_t)k->n);
            build_value(b);
            lua_rawset(L, -3);
        }
        return;
    case T_ARR:
        lua_createtable(L, o->n, 0);
        lua_pushvalue(L, 2);
        lua_setmetatable(L, -2);
        for (i = 1; i <= o->n; i++) {
            build_value(b);
            lua_rawseti(L, -2, i);
        }
        return;
    case T_STR:
        lua_pushlstring(L, o->s, (size_t)o->n);
        return;
    case T_INT:
        lua_pushinteger(L, o->i);
        return;
    case T_NUM:
        lua_pushnumber(L, o->d);
        return;
    case T_TRUE:
        lua_pushboolean(L, 1);
        return;
    case T_FALSE:
        lua_pushboolean(L, 0);
        return;
    default:
        lua_pushlightuserdata(L, NULL);
        return;
    }
}

/* build(tape[, cached_keys]) -> value */
static int build_from(lua_State *L)
{
    tape *t = lua_touserdata(L, 1);
    builder b;
    luaL_argcheck(L, t != NULL && t->ops != NULL, 1, "tape expected");
    b.cached = lua_toboolean(L, 2);
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, 2); /* 2: array_mt */
    lua_getiuservalue(L, 1, 3); /* 3: key cache */
    luaL_checkstack(L, 64, "floor");
    b.L = L;
    b.o = t->ops;
    build_value(&b);
    return 1;
}

int luaopen_floor(lua_State *L);
int luaopen_floor(lua_State *L)
{
    static const luaL_Reg fns[] = {{"prepare", prepare}, {"build", build_from}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
