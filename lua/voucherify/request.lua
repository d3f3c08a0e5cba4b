--- Building a request: from a call description and the client's
-- configuration to the plain table a transport sends.  Nothing here does I/O.
-- The request carries only what is its own; the client's settings (TLS,
-- proxy, body limit, default timeouts) went to its transports when they were
-- made (voucherify.transport), and the client sets `timeout` per attempt.
--
-- A call description:
--   method       "GET", "POST", ...
--   path         list of raw path segments: { "v1", "orders", id }
--   query        list of { name, value } pairs (see voucherify.query)
--   body         JSON text
--   multipart    list of parts { name, filename, type, path | data }
--   url          an absolute URL instead of base_url + path (e.g. a download link)
--   public       true: send no credentials (the URL carries its own token)
--   raw          true: a 2xx body is returned as text, not decoded
--   select       a selector (json.selector): decode only the members it names
--   output_path  stream a 2xx body into this file
--   secrets      extra strings to keep out of errors (e.g. a download token)
--   app_keys     true: send the app keys even though the client uses OAuth (token request)
--   auth_line    an "Authorization: Bearer ..." line (OAuth)
--   idempotent   true when repeating the call cannot do harm.  The one property
--                that decides both whether the retry policy repeats the call and
--                whether a transport may resend it by itself: a call that is not
--                idempotent is never sent twice by anything (see csrc/http.c).
-- (A former `once` field is ignored: `idempotent` alone decides.)
-- @module voucherify.request

local url = require "voucherify.url"

local request = {}

-- The URL and the path of each distinct leading run of path segments under a
-- base URL (base_url .. "/v1/orders", "/v1/orders"), in a tree keyed by the
-- raw segments: a call then escapes and joins only its last segment (an id).
-- url.build's table, gsubs and concat were a third of the Lua layer's time
-- on orders:get.  Ids inside a path (and many base URLs) would grow the tree
-- without end: it starts again past PREFIX_LIMIT nodes.
local PREFIX_LIMIT = 512
local prefixes, prefix_count = {}, 0

-- What url.build(base, segments, query) returns, and the raw path, from the tree.
local function url_and_path(base, segments, query)
  local n = #segments
  local node = prefixes[base]
  if not node then
    if prefix_count >= PREFIX_LIMIT then prefixes, prefix_count = {}, 0 end
    node = { base, "" }
    prefixes[base] = node
    prefix_count = prefix_count + 1
  end
  for i = 1, n - 1 do
    local seg = segments[i]
    local child = node[seg]
    if type(child) ~= "table" then -- (a segment 1 or 2 finds the node's own strings)
      if type(seg) ~= "string" then
        return url.build(base, segments, query), "/" .. table.concat(segments, "/")
      end
      if prefix_count >= PREFIX_LIMIT then prefixes, prefix_count = {}, 0 end
      child = { node[1] .. "/" .. url.segment(seg), node[2] .. "/" .. seg }
      node[seg] = child
      prefix_count = prefix_count + 1
    end
    node = child
  end
  local u, path = base, "/"
  if n > 0 then
    local last = segments[n]
    u, path = node[1] .. "/" .. url.segment(last), node[2] .. "/" .. last
  end
  if query and #query > 0 then u = u .. "?" .. url.query(query) end
  return u, path
end

--- Builds the transport request from `config` (voucherify.options), the
-- client's credentials (`auth`, voucherify.auth: its header lines) and a call description.
function request.build(config, auth, call)
  local headers = call.public and auth.public_header_lines or auth.header_lines
  if call.body or call.app_keys or call.auth_line then
    local h = {}
    for i, line in ipairs(headers) do h[i] = line end
    if call.app_keys then
      for _, line in ipairs(auth.app_key_lines) do h[#h + 1] = line end
    end
    if call.auth_line then
      -- the OAuth token is the one Authorization: a caller's header of that name gives way
      for i = #h, 1, -1 do
        if h[i]:sub(1, 14):lower() == "authorization:" then table.remove(h, i) end
      end
      h[#h + 1] = call.auth_line
    end
    if call.body then h[#h + 1] = "Content-Type: " .. (call.content_type or "application/json") end
    headers = h
  end
  local full_url, path
  if call.url then
    full_url = call.url
    path = call.url:match("^https?://[^/]*(/[^?#]*)") or "/"
  else
    full_url, path = url_and_path(config.base_url, call.path, call.query)
  end
  return {
    method = call.method,
    url = full_url,
    path = path,
    headers = headers,
    body = call.body,
    multipart = call.multipart,
    output_path = call.output_path,
    raw = call.raw,
    -- a 2xx body is decoded (by the libcurl transport straight from its
    -- receive buffer), keeping only what the `select` selector names
    json = not call.raw,
    select = call.select,
    secrets = call.secrets,
    idempotent = call.idempotent == true,
  }
end

return request
