--- Maps "METHOD /path/{param}" to handlers.  Adding an endpoint is one
-- `router:add` line in a handlers module.
--
-- A route that is an operation of the OpenAPI spec (../shared/openapi/, as
-- the generated voucherify.fake.openapi_schemas holds it) checks its request
-- first, as the real API does: query parameters and the JSON body against the
-- operation's schemas (voucherify.fake.schema); the first problem comes back
-- as Voucherify's 400 (`invalid_query_params` or `invalid_payload`, `details`
-- naming the field, e.g. "Property .items[0].price should be integer").  A
-- `strict` router also checks each response against the operation's response
-- schema for its status, and answers 500 naming the problems on a drift.
-- @module voucherify.fake.router

local api_error = require "voucherify.fake.api_error"
local http = require "voucherify.fake.http"
local schema = require "voucherify.fake.schema"

local router = {}
local Router = {}
Router.__index = Router

--- A new empty router.
-- @tparam[opt] table opts `strict`: check every response of a spec operation
--   against its schema, and answer 500 with the problems when it drifts
function router.new(opts)
  return setmetatable({ routes = {}, strict = opts and opts.strict or false }, Router)
end

local function drift(op, status, problems)
  local lines = {}
  for i, p in ipairs(problems) do lines[i] = schema.describe(p, "Response body") end
  return 500, { code = 500, key = "response_schema", message = "Fake server response drifts from the OpenAPI spec",
    details = ("%s answered %d: %s"):format(op.id, status, table.concat(lines, "; ")),
    request_id = api_error.request_id() }
end

-- Wraps a spec operation's handler: its request is checked first, and in a
-- strict router its response after.
local function validating(router_, op, handler)
  return function(req, ctx)
    local problems = schema.check_query(op, req)
    if #problems > 0 then return api_error.invalid_query(schema.describe(problems[1], "Query")) end
    problems = schema.check_body(op, ctx.json_body)
    if #problems > 0 then return api_error.invalid_payload(schema.describe(problems[1], "Request body")) end
    ctx.json_body = schema.normalize(op, ctx.json_body)
    local status, body, headers = handler(req, ctx)
    if router_.strict then
      local content_type = type(body) == "string" and (headers and headers["Content-Type"] or "text/plain") or nil
      local wrong = schema.check_response(op, status, body, content_type)
      if #wrong > 0 then return drift(op, status, wrong) end
    end
    return status, body, headers
  end
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
  local op = schema.operation(method, pattern)
  if op then handler = validating(self, op, handler) end
  self.routes[#self.routes + 1] = { method = method, segments = split(pattern), handler = handler,
    opts = opts or {}, operation = op }
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
-- @return handler, params, opts, and the route's spec operation (or nil);
--   or nil, "not_found" | "method_not_allowed"
function Router:match(method, path)
  local segments = split(path)
  local path_matched = false
  for _, route in ipairs(self.routes) do
    local params = match_segments(route.segments, segments)
    if params then
      if route.method == method then return route.handler, params, route.opts, route.operation end
      path_matched = true
    end
  end
  return nil, path_matched and "method_not_allowed" or "not_found"
end

return router
