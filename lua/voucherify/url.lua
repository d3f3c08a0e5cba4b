--- Percent-encoding of path segments and query strings (RFC 3986).
-- @module voucherify.url

local url = {}

local function escape_byte(c)
  return ("%%%02X"):format(c:byte())
end

--- Encodes `s` so that it stays one path segment (or one query name/value):
-- everything but unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX.
function url.escape(s)
  -- (most values need nothing: one anchored match costs less than a gsub)
  if s:find("^[a-zA-Z0-9_.~-]*$") then return s end
  return (s:gsub("[^%w%-%._~]", escape_byte))
end

--- Encodes one raw path segment: like `url.escape`, and a segment made only
-- of dots (`.`, `..`, `...`) is written as `%2E`s, so that no client, proxy
-- or server takes it for a dot segment (RFC 3986 5.2.4) and moves the
-- request to another path: an id is always exactly one segment.
function url.segment(s)
  -- most ids need nothing: letters, digits, "-", "_", "~" and no dot.  One
  -- anchored match (not a search from every position), with ASCII ranges
  -- (%w is isalnum, which a locale may widen): a third of the cost.
  if s:find("^[a-zA-Z0-9_~-]+$") then return s end
  if s:find("^%.+$") then return (s:gsub(".", "%%2E")) end
  return url.escape(s)
end

-- The text of the small non-negative integers (limits, page numbers), made
-- once each: string.format was most of a list call's query.  A float key
-- such as 100.0 finds the entry of 100.
local SMALL_MAX = 1024
local small = {}

--- Formats a query value: integers without a fraction, booleans as true/false.
function url.format_value(v)
  local text = small[v]
  if text then return text end
  if type(v) == "number" and v == math.floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then
    text = ("%d"):format(v)
    if v >= 0 and v <= SMALL_MAX then small[v] = text end
    return text
  end
  return tostring(v)
end

-- Query names keep the brackets of `created_at[before]` and deepObject keys
-- (`filters[id][conditions][$in][0]`) readable, as the API documents them.
local function escape_name(s)
  if s:find("^[a-zA-Z0-9_.~%[%]$-]*$") then return s end
  return (s:gsub("[^%w%-%._~%[%]%$]", escape_byte))
end

--- Builds "name=value&..." from a list of { name, value } pairs (in order).
function url.query(pairs_)
  local out = {}
  for i, p in ipairs(pairs_) do
    local v = p[2]
    -- (a small integer's digits need no escaping)
    out[i] = escape_name(p[1]) .. "=" .. (small[v] or url.escape(url.format_value(v)))
  end
  return table.concat(out, "&")
end

--- Builds the full URL from a base, a list of raw path segments and query pairs.
function url.build(base, segments, query_pairs)
  local parts = { base }
  for i, seg in ipairs(segments) do
    parts[i + 1] = url.segment(seg)
  end
  local u = table.concat(parts, "/")
  if query_pairs and #query_pairs > 0 then
    u = u .. "?" .. url.query(query_pairs)
  end
  return u
end

return url
