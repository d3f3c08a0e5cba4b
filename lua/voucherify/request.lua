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
    full_url = url.build(config.base_url, call.path, call.query)
    path = "/" .. table.concat(call.path, "/")
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
    secrets = call.secrets,
    idempotent = call.idempotent == true,
  }
end

return request
