--- Maps "METHOD /path/{param}" to handlers.  Adding an endpoint is one
-- `router:add` line in a handlers module.
-- @module voucherify.fake.router

local http = require "voucherify.fake.http"

local router = {}
local Router = {}
Router.__index = Router

--- A new empty router.
function router.new()
  return setmetatable({ routes = {} }, Router)
end

local function split(path)
  local segments = {}
  for seg in path:gmatch("[^/]+") do segments[#segments + 1] = seg end
  return segments
end

--- Registers `handler(req, ctx)` for a method and a path pattern; `{name}`
-- segments match one percent-decoded path segment into `ctx.params.name`.
-- `opts.max_body`: larger request bodies get the gateway's 413; `opts.bulk`:
-- the call draws on the bulk rate limit (voucherify.fake.limits); `opts.public`:
-- no credentials needed.
function Router:add(method, pattern, handler, opts)
  self.routes[#self.routes + 1] = { method = method, segments = split(pattern), handler = handler,
    opts = opts or {} }
end

local function match_segments(route_segments, segments)
  if #route_segments ~= #segments then return nil end
  local params = {}
  for i, want in ipairs(route_segments) do
    local name = want:match("^{(.+)}$")
    if name then
      params[name] = http.unescape(segments[i])
    elseif want ~= segments[i] then
      return nil
    end
  end
  return params
end

--- Finds the handler for a request.
-- @return handler, params, opts; or nil, "not_found" | "method_not_allowed"
function Router:match(method, path)
  local segments = split(path)
  local path_matched = false
  for _, route in ipairs(self.routes) do
    local params = match_segments(route.segments, segments)
    if params then
      if route.method == method then return route.handler, params, route.opts end
      path_matched = true
    end
  end
  return nil, path_matched and "method_not_allowed" or "not_found"
end

return router
