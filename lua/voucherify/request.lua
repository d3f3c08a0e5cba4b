--- Building a request: from a call description and the client's
-- configuration to the plain table a transport sends.  Nothing here does I/O.
-- The request carries only what is its own; the client's settings (TLS,
-- proxy, body limit, default timeouts) went to its transports when they were
-- made (voucherify.transport), and the client sets `timeout` per attempt.
--
-- A call description:
--   method       "GET", "POST", ...
--   path         list of raw path segments: { "v1", "orders", id }; a
--                segment request.ID stands for request.build's `id` (an
--                endpoint's declared path, shared by its calls)
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
--   idempotent   true when repeating the call cannot do harm.  The one property
--                that decides both whether the retry policy repeats the call and
--                whether a transport may resend it by itself: a call that is not
--                idempotent is never sent twice by anything (see csrc/http.c).
-- (A former `once` field is ignored: `idempotent` alone decides.)
-- @module voucherify.request

local url = require "voucherify.url"

local unpack = require("voucherify.compat").unpack

local request = {}

--- Marks where the call's `id` goes in a path template (endpoint.ID): the
-- call then shares its endpoint's path list instead of copying it.
request.ID = setmetatable({}, { __tostring = function() return "endpoint.ID" end })
local ID = request.ID

-- The URL and the path of each distinct leading run of path segments under a
-- base URL (base_url .. "/v1/orders/", "/v1/orders/"), in a tree keyed by the
-- raw segments: a call then escapes and joins only its last segment (an id).
-- url.build's table, gsubs and concat were a third of the Lua layer's time
-- on orders:get.  A node keeps its URL at [true] and its path at [false]
-- (keys no segment can be), so that a segment found needs no type test.
-- Ids inside a path (and many base URLs) would grow the tree without end: it
-- starts again past PREFIX_LIMIT nodes.
local PREFIX_LIMIT = 512
local prefixes, prefix_count = {}, 0

-- What url.build(base, segments, query) returns, and the raw path, from the
-- tree; the segment ID stands for `id`.
local function url_and_path(base, segments, id, query)
  local n = #segments
  local node = prefixes[base]
  if not node then
    if prefix_count >= PREFIX_LIMIT then prefixes, prefix_count = {}, 0 end
    node = { [true] = base .. "/", [false] = "/" }
    prefixes[base] = node
    prefix_count = prefix_count + 1
  end
  for i = 1, n - 1 do
    local seg = segments[i]
    if seg == ID then seg = id end
    local child = node[seg]
    if not child then
      if type(seg) ~= "string" then
        local copy = { unpack(segments) }
        for j = 1, n do if copy[j] == ID then copy[j] = id end end
        return url.build(base, copy, query), "/" .. table.concat(copy, "/")
      end
      if prefix_count >= PREFIX_LIMIT then prefixes, prefix_count = {}, 0 end
      child = { [true] = node[true] .. url.segment(seg) .. "/", [false] = node[false] .. seg .. "/" }
      node[seg] = child
      prefix_count = prefix_count + 1
    end
    node = child
  end
  local u, path = base, "/"
  if n > 0 then
    local last = segments[n]
    if last == ID then last = id end
    u, path = node[true] .. url.segment(last), node[false] .. last
  end
  if query and #query > 0 then u = u .. "?" .. url.query(query) end
  return u, path
end

--- Builds the transport request from `config` (voucherify.options), the
-- client's credentials (`auth`, voucherify.auth: its header lines) and a call
-- description (left unchanged, so one may serve many calls); `id` is the
-- segment request.ID stands for, `auth_line` an "Authorization: Bearer ..."
-- line (OAuth) or nil.
function request.build(config, auth, call, id, auth_line)
  local headers = call.public and auth.public_header_lines or auth.header_lines
  if call.body or call.app_keys or auth_line then
    local h = {}
    for i, line in ipairs(headers) do h[i] = line end
    if call.app_keys then
      for _, line in ipairs(auth.app_key_lines) do h[#h + 1] = line end
    end
    if auth_line then
      -- the OAuth token is the one Authorization: a caller's header of that name gives way
      for i = #h, 1, -1 do
        if h[i]:sub(1, 14):lower() == "authorization:" then table.remove(h, i) end
      end
      h[#h + 1] = auth_line
    end
    if call.body then h[#h + 1] = "Content-Type: " .. (call.content_type or "application/json") end
    headers = h
  end
  local full_url, path
  if call.url then
    full_url = call.url
    path = call.url:match("^https?://[^/]*(/[^?#]*)") or "/"
  else
    full_url, path = url_and_path(config.base_url, call.path, id, call.query)
  end
  -- only the fields this call has: nil entries in a constructor still size the table
  local req = { method = call.method, url = full_url, path = path, headers = headers,
    -- a 2xx body is decoded (by the libcurl transport straight from its
    -- receive buffer), keeping only what the `select` selector names
    json = not call.raw, idempotent = call.idempotent == true, timeout = 0 }
  if call.body then req.body = call.body end
  if call.multipart then req.multipart = call.multipart end
  if call.output_path then req.output_path = call.output_path end
  if call.raw then req.raw = call.raw end
  if call.select then req.select = call.select end
  if call.secrets then req.secrets = call.secrets end
  return req
end

return request
