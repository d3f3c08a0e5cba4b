/*
 * libFuzzer target: json_decode on arbitrary bytes.  It must return a value
 * or nil and a message, never crash, leak or trip a sanitizer; a message must
 * carry the byte offset.  A value must not keep more than MAX_RETAINED Lua
 * heap bytes per input byte alive (size hints must not amplify memory).
 *
 * The same bytes also go through json_decode_bytes, straight from libFuzzer's
 * buffer (no Lua string, so no terminating NUL to hide a read past the end):
 * a full decode must give what core.json_decode gives, and a selected decode
 * (fixed trees, and trees drawn from the document's own keys) must fail
 * exactly when the full decode fails, with the same message, and otherwise
 * equal the full value with the tree applied to it.  A selected value is
 * weighed like a full one.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_host.h"
#include "json.h"

#define MAX_RETAINED 40

static const uint8_t *input;
static size_t input_size;

/* raw_decode([selector]): json_decode_bytes on the current input */
static int raw_decode(lua_State *L)
{
    return json_decode_bytes(L, (const char *)input, input_size, lua_isnoneornil(L, 1) ? 0 : 1);
}

static const char *CHECK =
    "local core, text, raw_decode = ...\n"
    "local mt = core.array_mt\n"
    FUZZ_LUA_SAME
    /* the tree applied to a full value, as the README says select works */
    "local function project(v, node)\n"
    "  if type(v) ~= 'table' then return v end\n"
    "  if getmetatable(v) == mt then\n"
    "    local out = setmetatable({}, mt)\n"
    "    for i = 1, #v do out[i] = project(v[i], node) end\n"
    "    return out\n"
    "  end\n"
    "  local out = {}\n"
    "  for k, x in pairs(v) do\n"
    "    local s = k ~= '*' and node[k] or nil\n"
    "    if s == true then out[k] = x\n"
    "    elseif type(s) == 'table' then out[k] = project(x, s)\n"
    "    elseif node['*'] then out[k] = x end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    /* a tree drawn from the document's keys: kept, sub-tree, or left out */
    "local seed = #text\n"
    "local function draw(v, depth)\n"
    "  local tree = { absent = true }\n"
    "  if type(v) == 'table' and getmetatable(v) == mt then\n"
    "    for i = 1, #v do if type(v[i]) == 'table' then return draw(v[i], depth) end end\n"
    "    return tree\n"
    "  end\n"
    "  if type(v) ~= 'table' or depth > 6 then return tree end\n"
    "  for k, x in pairs(v) do\n"
    "    seed = (seed * 1103515245 + 12345) % 2147483648\n"
    "    local r = seed // 65536 % 4\n"
    "    if k == '*' then\n"
    "    elseif r == 0 then tree[k] = true\n"
    "    elseif r == 1 then tree[k] = draw(x, depth + 1) end\n"
    "  end\n"
    "  if seed // 65536 % 3 == 0 then tree['*'] = true end\n"
    "  return tree\n"
    "end\n"
    "local full, err = core.json_decode(text)\n"
    "local raw, rerr = raw_decode()\n"
    "assert(rerr == err, 'json_decode_bytes: other error')\n"
    "assert(same(full, raw), 'json_decode_bytes: other value')\n"
    "local trees = { {}, { ['*'] = true }, { a = true, b = { c = true } }, { ['*'] = true, a = { ['*'] = true } } }\n"
    "if err == nil then trees[#trees + 1] = draw(full, 1); trees[#trees + 1] = draw(full, 1) end\n"
    "for _, tree in ipairs(trees) do\n"
    "  local part, perr = raw_decode(core.json_select(tree))\n"
    "  assert(perr == err, 'select: ' .. tostring(perr) .. ' where the full decode says ' .. tostring(err))\n"
    "  if err == nil then assert(same(part, project(full, tree)), 'select: not the full value projected') end\n"
    "end\n"
    "if err == nil then return core.json_select(trees[#trees]) end\n";

static size_t heap_bytes(lua_State *L)
{
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

/* Decodes the input (string at index text, json_decode under it, selector at sel or 0) again, and weighs the value. */
static void weigh(lua_State *L, int text, int sel, size_t size)
{
    size_t before, after;
    lua_pushvalue(L, text - 1);
    lua_pushvalue(L, text);
    if (sel)
        lua_pushvalue(L, sel);
    before = heap_bytes(L);
    if (lua_pcall(L, sel ? 2 : 1, 1, 0) != LUA_OK)
        abort();
    after = heap_bytes(L);
    if (after > before && after - before > MAX_RETAINED * size) {
        fprintf(stderr, "decode of %zu bytes retained %zu bytes of Lua memory\n", size, after - before);
        abort();
    }
    lua_pop(L, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int check_ref = LUA_NOREF;
    lua_State *L = fuzz_state();
    int top = lua_gettop(L), text;
    input = data;
    input_size = size;
    if (check_ref == LUA_NOREF) {
        if (luaL_loadstring(L, CHECK) != LUA_OK)
            abort();
        check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_getglobal(L, "core");
    lua_getfield(L, -1, "json_decode");
    lua_pushlstring(L, (const char *)data, size); /* stays referenced until the end */
    text = lua_gettop(L);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        abort(); /* decode never raises for a string argument */
    if (lua_isnil(L, -2)) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL || strstr(msg, " at offset ") == NULL)
            abort();
    }
    lua_pop(L, 2);
    /* the selected and byte-buffer decodes agree with the full one (returns a selector if it decoded) */
    lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
    lua_pushvalue(L, text - 2);
    lua_pushvalue(L, text);
    lua_pushcfunction(L, raw_decode);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        fprintf(stderr, "select check: %s\n", lua_tostring(L, -1));
        abort();
    }
    /*
     * It decoded, and that first decode grew the Lua stack and string table
     * as far as this document needs: decode it again and weigh the value,
     * then the value a selection keeps.
     */
    if (!lua_isnil(L, -1)) {
        weigh(L, text, 0, size);
        weigh(L, text, lua_gettop(L), size);
    } else {
        lua_gc(L, LUA_GCSTEP, 0);
    }
    lua_settop(L, top);
    return 0;
}
