-- What a decode retains is bounded by the size of its input (issue 9,
-- defect 1): the decoder presizes tables from the size an earlier sibling at
-- the same path reached, and a hostile body must not turn that guess into
-- memory.  Each case measures the Lua heap a decoded value keeps alive (full
-- collections before and after, the value still referenced) and asserts at
-- most LIMIT bytes per input byte, whatever documents were decoded before.
-- lua-cjson, which presizes nothing, retains up to 36x on these shapes (arrays
-- nested 1000 deep; 24x on a long array of empty objects); its figure is in
-- each failure message for comparison.
local json = require("voucherify").json
local cjson = require "cjson"

local LIMIT = 40
local WASTE = 3 -- the decoder budgets 2 bytes per input byte; 1 more is measuring slack

-- Lua heap bytes that `decode(text)` leaves referenced by its result.  A
-- first decode, dropped, grows the Lua stack and string table to what the
-- document needs: they are the state's, reused, not the value's.
local function retained(decode, text)
  assert(decode(text) ~= nil, "decode failed")
  collectgarbage("collect")
  collectgarbage("collect")
  local before = collectgarbage("count")
  local value = decode(text)
  collectgarbage("collect")
  collectgarbage("collect")
  local after = collectgarbage("count")
  assert(value ~= nil, "decode failed")
  return (after - before) * 1024, value
end

-- {"k1":0,"k2":0,...}: n distinct keys
local function wide(n)
  local parts = {}
  for i = 1, n do parts[i] = ('"k%d":0'):format(i) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- [0,0,...]: n elements
local function long(n)
  return "[" .. ("0,"):rep(n - 1) .. "0]"
end

-- `head`, then `filler` repeated until the array text reaches `bytes`
local function list(head, filler, bytes)
  local parts = { head }
  local size = #head + 2
  while size < bytes do
    parts[#parts + 1] = filler
    size = size + #filler + 1
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- `inner` wrapped in `depth` arrays, or objects keyed "a"
local function chain(depth, inner, object)
  if object then return ('{"a":'):rep(depth) .. inner .. ("}"):rep(depth) end
  return ("["):rep(depth) .. inner .. ("]"):rep(depth)
end

local WIDE, LONG = wide(1100), long(1100)
-- 1100 members of one key: costs the decoder one slot, tells the next sibling 1100
local SAME_KEY = "{" .. ('"a":0,'):rep(1099) .. '"a":0}'
local BYTES = 24 * 1024

-- Every shape a size hint can be wrong on: objects (hash part) and arrays
-- (array part), at the top of a list, nested in members, deep in chains.
local shapes = {
  { "a long array of empty objects", list("{}", "{}", BYTES) },
  { "a long array of empty arrays", list("[]", "[]", BYTES) },
  { "a wide object, then empty objects", list(WIDE, "{}", BYTES) },
  { "a wide object, then one-member objects", list(WIDE, '{"a":0}', BYTES) },
  { "one key 1100 times, then one-member objects", list(SAME_KEY, '{"a":0}', BYTES) },
  { "a long array, then empty arrays", list(LONG, "[]", BYTES) },
  { "a long array, then one-element arrays", list(LONG, "[0]", BYTES) },
  { "a wide member object, then empty ones", list('{"x":' .. WIDE .. "}", '{"x":{}}', BYTES) },
  { "a long member array, then empty ones", list('{"x":' .. LONG .. "}", '{"x":[]}', BYTES) },
  { "a wide object deep in arrays, then empty ones", list(chain(30, WIDE), chain(30, "{}"), BYTES) },
  { "a long array deep in objects, then empty ones", list(chain(30, LONG, true), chain(30, "[]", true), BYTES) },
  { "a wide member object, then one-member ones", list('{"x":' .. WIDE .. "}", '{"x":{"a":0}}', BYTES) },
  { "a long member array, then one-element ones", list('{"x":' .. LONG .. "}", '{"x":[0]}', BYTES) },
  { "a wide object deep in arrays, then small ones", list(chain(30, WIDE), chain(30, '{"a":0}'), BYTES) },
  { "a long array deep in objects, then short ones", list(chain(30, LONG, true), chain(30, "[0]", true), BYTES) },
  { "arrays nested 1000 deep", chain(999, "[0]") },
  { "one key 1100 times, again and again", list(SAME_KEY, SAME_KEY, BYTES), repeated_keys = true },
  { "wide and one-member objects in turn", list(WIDE, WIDE .. ',{"a":0}', BYTES) },
  { "long and one-element arrays in turn", list(LONG, LONG .. ",[0]", BYTES) },
  { "long and one-element arrays in turn, 990 deep",
    list(chain(990, LONG), chain(990, LONG) .. "," .. chain(990, "[0]"), BYTES) },
  { "a wide object, then empty and one-member objects in turn",
    list(WIDE, '{},{"a":0},[],[0],{"x":{}},{"x":[0]}', BYTES) },
}

-- Documents an attacker sends first, so that every path has seen a big table.
local primers = { WIDE, LONG, SAME_KEY, list(WIDE, WIDE, 3 * #WIDE), list(LONG, LONG, 3 * #LONG),
  '{"x":' .. WIDE .. "}", '{"x":' .. LONG .. "}", chain(30, WIDE), chain(30, LONG, true) }

-- A selected decode (issue 12) presizes from hints of its selector's own:
-- the same bound holds for it.  This tree keeps everything, through selection.
local core = require "voucherify.core"
local ALL = core.json_select { ["*"] = true, x = { ["*"] = true }, a = { ["*"] = true, a = { ["*"] = true } } }
local function selected(text) return core.json_decode(text, ALL) end

local function prime(decode)
  decode = decode or json.decode
  for _, text in ipairs(primers) do assert(decode(text)) end
end

local function check(name, text, decode)
  local ours = retained(decode or json.decode, text)
  local theirs = retained(cjson.decode, text)
  assert(ours <= LIMIT * #text, ("%s: %d bytes of JSON retained %d bytes of Lua memory (%.1fx; cjson %.1fx)")
    :format(name, #text, ours, ours / #text, theirs / #text))
end

describe("json.decode memory", function()
  for _, shape in ipairs(shapes) do
    it(("retains at most %dx the input: %s"):format(LIMIT, shape[1]), function()
      check(shape[1], shape[2])
    end)

    it(("retains at most %dx the input after hostile documents: %s"):format(LIMIT, shape[1]), function()
      prime()
      check(shape[1], shape[2])
    end)

    it(("retains at most %dx the input when selecting, after hostile documents: %s"):format(LIMIT, shape[1]), function()
      prime(selected)
      check(shape[1], shape[2], selected)
    end)

    -- cjson creates every table empty: what we retain beyond it is what size
    -- hints wasted, which the decoder budgets at 2 bytes per input byte.  (A
    -- repeated key hides presized slots it leaves empty: bounded, by the
    -- repeated members' own size, but not by that budget.)
    if not shape.repeated_keys then
      it(("wastes at most %d bytes per input byte on size hints: %s"):format(WASTE, shape[1]), function()
        prime()
        local ours, theirs = retained(json.decode, shape[2]), retained(cjson.decode, shape[2])
        assert(ours <= theirs + WASTE * #shape[2], ("%s: %d bytes of JSON retained %d bytes, cjson %d (+%.1f per byte)")
          :format(shape[1], #shape[2], ours, theirs, (ours - theirs) / #shape[2]))
      end)
    end
  end

  it("retains at most 40x the input over many small documents sent after big ones", function()
    local docs = { '{"a":0}', "[0]", '{"x":{"a":0}}', '{"x":[0]}', chain(30, '{"a":0}'), chain(30, "[0]", true),
      "{}", "[]" }
    local keep, bytes = {}, 0
    for i = 1, 400 do keep[i] = false end -- the list itself is not the decoder's
    prime()
    collectgarbage("collect")
    collectgarbage("collect")
    local before = collectgarbage("count")
    for i = 1, 400 do
      local text = docs[(i - 1) % #docs + 1]
      if i % #docs == 1 then prime() end
      keep[i] = assert(json.decode(text))
      bytes = bytes + #text
    end
    collectgarbage("collect")
    collectgarbage("collect")
    local used = (collectgarbage("count") - before) * 1024
    assert(#keep == 400)
    assert(used <= LIMIT * bytes, ("%d bytes of JSON retained %d bytes (%.1fx)"):format(bytes, used, used / bytes))
  end)

  it("decodes every shape to the value cjson gives", function()
    for _, shape in ipairs(shapes) do
      prime()
      assert.are.same(cjson.decode(shape[2]), json.decode(shape[2]), shape[1])
    end
  end)
end)
