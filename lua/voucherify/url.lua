--- Percent-encoding of path segments and query strings (RFC 3986).
-- @module voucherify.url

local url = {}

local function escape_byte(c)
  return ("%%%02X"):format(c:byte())
end

--- Encodes `s` so that it stays one path segment (or one query name/value):
-- everything but unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX.
function url.escape(s)
  return (s:gsub("[^%w%-%._~]", escape_byte))
end

--- Encodes one raw path segment: like `url.escape`, and a segment made only
-- of dots (`.`, `..`, `...`) is written as `%2E`s, so that no client, proxy
-- or server takes it for a dot segment (RFC 3986 5.2.4) and moves the
-- request to another path: an id is always exactly one segment.
function url.segment(s)
  -- most ids need nothing: letters, digits, "-", "_", "~" and no dot (one pass, no copy)
  if not s:find("[^%w%-_~]") then return s end
  if s:find("^%.+$") then return (s:gsub(".", "%%2E")) end
  return url.escape(s)
end

--- Formats a query value: integers without a fraction, booleans as true/false.
function url.format_value(v)
  if type(v) == "number" and v == math.floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then
    return ("%d"):format(v)
  end
  return tostring(v)
end

-- Query names keep the brackets of `created_at[before]` and deepObject keys
-- (`filters[id][conditions][$in][0]`) readable, as the API documents them.
local function escape_name(s)
  return (s:gsub("[^%w%-%._~%[%]%$]", escape_byte))
end

--- Builds "name=value&..." from a list of { name, value } pairs (in order).
function url.query(pairs_)
  local out = {}
  for i, p in ipairs(pairs_) do
    out[i] = escape_name(p[1]) .. "=" .. url.escape(url.format_value(p[2]))
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
