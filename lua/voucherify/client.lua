--- The client (made by `voucherify.new`): the resources, any endpoint, views
-- with per-call options, many calls at once.
--
-- A client holds its configuration, credentials, connections, OAuth tokens
-- and rate limiter, and the resource objects `client.orders`
-- (`voucherify.resources.orders`), `client.customers`
-- (`voucherify.resources.customers`), `client.async_actions`
-- (`voucherify.resources.async_actions`) and `client.exports`
-- (`voucherify.resources.exports`).  Its methods are `Client:request` (any
-- endpoint), `Client:with` (a view with per-call options), `Client:map` (many
-- calls at once) and `Client:close`.
--
-- Every API call, whatever makes it, returns `result, err, response`:
--
-- * success: `result` is the decoded JSON body (`true` for 204 No Content),
--   `err` is nil, `response` is a `Response`;
-- * failure: `result` is nil, `err` is an error object (`voucherify.errors`),
--   and `response` is the `Response` when an HTTP answer arrived, else nil.
--
-- Programmer mistakes (an id that is not a non-empty string, a body that is
-- not a table, an unknown parameter or option, a method called with `.`, too
-- many arguments) raise a Lua error at your line before any request.
-- Iterators (`each`, `pages`) raise the error object instead of returning it,
-- as `io.lines` does.  Internally every call goes through voucherify.pipeline.
-- @module voucherify.client
-- @usage
-- local order, err, res = client.orders:get("ord_1")
-- if order then
--   print(order.status, res.status, res.headers["x-request-id"], res.attempts)
-- elseif err.kind == "api" and err.status == 404 then
--   print("no such order")
-- else
--   error(err)           -- tostring(err) is one readable line
-- end

local argcheck = require "voucherify.argcheck"
local auth = require "voucherify.auth"
local json = require "voucherify.json"
local oauth = require "voucherify.oauth"
local options = require "voucherify.options"
local pipeline = require "voucherify.pipeline"
local url = require "voucherify.url"
local tasks = require "voucherify.tasks"
local async_actions = require "voucherify.resources.async_actions"
local customers = require "voucherify.resources.customers"
local exports = require "voucherify.resources.exports"
local orders = require "voucherify.resources.orders"

local client = {}

local Client = {}
Client.__index = Client
Client.__name = "voucherify.client"

local function add_resources(self)
  self.orders = orders.new(self)
  self.customers = customers.new(self)
  self.async_actions = async_actions.new(self)
  self.exports = exports.new(self)
  return self
end

--- Creates a client; see `voucherify.new`.
-- @local
function client.new(opts)
  local config = options.normalize(opts, 2)
  local self = setmetatable({ config = config, auth = auth.new(config) }, Client)
  -- made once, with the client's settings (TLS, proxy, body limit, timeouts)
  self.transports = require("voucherify.transport").for_client(config)
  if config.rate_limit then
    -- projects sharing a store keep apart by app id
    self.limiter = require("voucherify.rate_limit").new(config.rate_limit,
      { namespace = config.app_id, on_store_error = config.on_rate_limit_store_error })
  end
  if config.oauth then
    self.tokens = oauth.new(config.oauth, self.auth, function(call) return pipeline.send(self, call) end)
  end
  return add_resources(self)
end

-- Raises at the line that called method `name` when it was called with '.'
-- (`client.close()`: `self` is then not a client), as resource methods do.
local function check_self(self, name)
  if getmetatable(self) ~= Client then
    error(("voucherify: client:%s: called with '.' instead of ':' (use client:%s(...))"):format(name, name), 3)
  end
end

--- A light view of the client with some options overridden for the calls
-- made through it.  The options a view may change are those each call
-- decides: `timeout`, `max_retries`, `max_retry_delay`, `headers` (added to
-- the client's, replacing those of the same name, whatever their case),
-- `channel`, `api_version`, `user_agent`, `on_response` (see
-- `voucherify.options`).  The view shares the client's connections, OAuth
-- tokens and rate limiter; the client keeps its own options.  Unknown keys,
-- and options that belong to the connections or credentials (`base_url`,
-- `app_token`, `transport`, `rate_limit`, ...), raise at your line.  Views
-- are cheap: make one per call if you like.  Closing a view does nothing.
-- @tparam table overrides option name -> value
-- @treturn voucherify.client the view: a client (`view.orders`,
--   `view:request`, `view:with`, `view:map`)
-- @usage
-- local order, err = client:with { timeout = 0.5, max_retries = 0 }.orders:get(id)
-- local traced = client:with { headers = { ["X-Trace-Id"] = trace_id } }
-- traced.customers:update(cid, { name = "Ann" })
function Client:with(overrides)
  check_self(self, "with")
  local config = options.override(self.config, overrides, 2)
  local view = setmetatable({ config = config, auth = auth.new(config, self.auth.secrets),
    transports = self.transports, tokens = self.tokens, limiter = self.limiter, parent = self.parent or self },
    Client)
  return add_resources(view)
end

local REQUEST_KEYS = { method = true, path = true, query = true, body = true, idempotent = true }
local SAFE_METHODS = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true }
-- methods whose requests carry no body (libcurl would drop it, nginx send it)
local NO_BODY = { GET = true, HEAD = true }
local request_check = argcheck.site("client:request")

-- True when `t` holds exactly the keys 1..#t (a Lua list).
local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- A number as one path segment or query value: a finite integer (at most
-- 2^53, where doubles stop counting exactly) as digits, or nil.
local function integer_text(v)
  if v ~= v or v ~= math.floor(v) or math.abs(v) > 2 ^ 53 then return nil end
  return url.format_value(v)
end

-- The path as raw segments: a list as given, or a string "/a/b" split at
-- "/".  Returns nil and what is wrong (the caller raises: checks must run in
-- the public method itself to blame its caller's line).
local function segments_of(path)
  local list = {}
  if type(path) == "string" then
    if path:sub(1, 1) ~= "/" then return nil, "'path' must start with '/' when it is a string" end
    -- (one capture per "/"-ended piece: "[^/]*" alone also matches empty strings on Lua 5.1)
    for segment in (path:sub(2) .. "/"):gmatch("([^/]*)/") do list[#list + 1] = segment end
  elseif type(path) == "table" then
    if not is_list(path) then return nil, "'path' must be a list of segments (keys 1..n only)" end
    for i = 1, #path do
      local segment = path[i]
      if type(segment) == "number" then segment = integer_text(segment) or false end
      list[i] = segment
    end
  else
    return nil, ("'path' must be a list of segments or a string (got %s)"):format(type(path))
  end
  if #list == 0 then return nil, "'path' must have at least one segment" end
  for i, segment in ipairs(list) do
    -- "a//b" and a trailing "/" make empty segments: the API has none
    if type(segment) ~= "string" or segment == "" then
      return nil, ("'path' segment %d must be a non-empty string or an integer"):format(i)
    end
  end
  return list
end

-- The query as ordered { name, value } pairs: names sorted, a list value
-- repeating its name.  Returns nil and what is wrong.
local function query_of(query)
  if type(query) ~= "table" then return nil, ("'query' must be a table (got %s)"):format(type(query)) end
  local names = {}
  for name in pairs(query) do
    if type(name) ~= "string" or name == "" then return nil, "'query' keys must be non-empty strings" end
    names[#names + 1] = name
  end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    local v = query[name]
    if type(v) == "table" and not is_list(v) then
      return nil, ("'query.%s' must be a value or a list of values (keys 1..n only)"):format(name)
    end
    local list = type(v) == "table" and v or { v }
    for i = 1, #list do
      local x, t = list[i], type(list[i])
      if t == "number" then
        x = x == x and x > -math.huge and x < math.huge and url.format_value(x) or nil
      elseif t ~= "string" and t ~= "boolean" then
        x = nil
      end
      if x == nil then
        return nil, ("'query.%s' values must be strings, finite numbers or booleans (got %s)"):format(name,
          t == "number" and tostring(list[i]) or t)
      end
      out[#out + 1] = { name, x }
    end
  end
  return out
end

--- Sends any Voucherify call through the same pipeline as the resources:
-- credentials, OAuth, rate limits, retries, the deadline, error objects,
-- `on_response`, both transports.  For the endpoints this library has no
-- method for.  A malformed `req` (unknown field, a method not in capitals, an
-- empty path segment, a body with GET) raises at your line.
-- @tparam table req the call:
--
-- * `method`: `"GET"`, `"POST"`, ... (capitals);
-- * `path`: a list of raw segments, each sent as one percent-encoded
--   segment (`{ "v1", "vouchers", code }`; integers allowed), or a string
--   starting with `/` split at `/` (`"/v1/vouchers"`);
-- * `query` (optional): name -> string, finite number or boolean; a list
--   value repeats the name (`{ ids = { "a", "b" } }` sends `ids=a&ids=b`);
--   names are sent sorted;
-- * `body` (optional): a table, sent as JSON (not with GET or HEAD);
-- * `idempotent` (optional): whether repeating the call cannot do harm;
--   default true for GET, HEAD, PUT, DELETE, OPTIONS, false otherwise.  A
--   call that is not idempotent is never sent again once the API may have
--   processed it (see the retries topic).
-- @return the decoded body (`true` for 204), or nil
-- @return nil, or the error object (`voucherify.errors`)
-- @treturn Response|nil the response, when one arrived
-- @usage
-- local voucher, err, res = client:request { method = "GET", path = { "v1", "vouchers", code } }
-- local page = assert(client:request { method = "GET", path = "/v1/vouchers",
--   query = { limit = 10, campaign_id = "camp_1" } })
-- assert(client:request { method = "POST", path = { "v1", "vouchers", code, "enable" } })
function Client:request(req)
  check_self(self, "request")
  request_check:table(req, "request")
  for k in pairs(req) do
    request_check:that(REQUEST_KEYS[k], ("unknown field '%s' (known: body, idempotent, method, path, query)")
      :format(tostring(k)))
  end
  local method = req.method
  request_check:that(type(method) == "string" and method:match("^%u+$") ~= nil,
    "'method' must be an HTTP method in capitals, e.g. \"GET\"")
  local path, why = segments_of(req.path)
  request_check:that(path, why)
  local call = { method = method, path = path }
  if req.query ~= nil then
    call.query, why = query_of(req.query)
    request_check:that(call.query, why)
  end
  if req.body ~= nil then
    -- (the type only: a string given by mistake may be a credential)
    request_check:that(type(req.body) == "table", ("'body' must be a table (got %s)"):format(type(req.body)))
    request_check:that(not NO_BODY[method], ("'body' cannot be sent with %s"):format(method))
    local text, problem = json.encode(req.body)
    request_check:encoded(text, "body", problem)
    call.body = text
  end
  if req.idempotent ~= nil then
    request_check:that(type(req.idempotent) == "boolean", "'idempotent' must be a boolean")
    call.idempotent = req.idempotent
  else
    call.idempotent = SAFE_METHODS[method] == true
  end
  return pipeline.run(self, call)
end

--- Calls at most this many items at once in `map` when `concurrency` is not given.
-- @local
client.MAP_CONCURRENCY = 8

local map_check = argcheck.site("client:map")

--- Runs `fn(c, item, i)` for every item of the list `items`, at most
-- `concurrency` at once, and yields `i, result, err, response` as each one
-- finishes (not in input order): `fn`'s three return values.  See the
-- concurrency topic.
--
-- `fn` runs as an ordinary call sequence (any calls, iterators, retries and
-- their waits, OAuth); `c` is this client (or view).  An error object
-- returned for one item does not stop the others.  A Lua error raised in
-- `fn` cancels what is in flight, then propagates out of the loop.  Leaving
-- the loop early cancels what is in flight (at once on Lua 5.4; on LuaJIT
-- when the iterator is collected, or at once with `it:close()` on the
-- iterator kept in a local).  Plain Lua runs the items as coroutines over
-- libcurl's multi interface; inside nginx, with cosockets, as light threads.
-- @tparam table items a list (keys 1..n)
-- @tparam function fn `fn(c, item, i)` -> result, err, response
-- @tparam[opt] table opts `concurrency` (a positive integer, default 8)
-- @return the iterator, for a generic `for` (with `close()`, see `Iterator`)
-- @usage
-- for i, order, err in client:map(orders, function(c, o) return c.orders:create(o) end,
--     { concurrency = 16 }) do
--   if not order then print(("order %d failed: %s"):format(i, tostring(err))) end
-- end
-- -- LuaJIT: keep the iterator to cancel at once after a break
-- local it = client:map(ids, function(c, id) return c.orders:get(id) end)
-- for _, order in it do if order.status == "CANCELED" then break end end
-- it:close()
function Client:map(items, fn, opts)
  check_self(self, "map")
  map_check:table(items, "items")
  map_check:that(type(fn) == "function", ("'fn' must be a function (got %s)"):format(type(fn)))
  map_check:optional_table(opts, "opts")
  local concurrency = client.MAP_CONCURRENCY
  for k, v in pairs(opts or {}) do
    map_check:that(k == "concurrency", ("unknown option '%s' (known: concurrency)"):format(tostring(k)))
    map_check:that(type(v) == "number" and v >= 1 and v == math.floor(v) and v < math.huge,
      ("'concurrency' must be a positive integer (got %s)"):format(tostring(v)))
    concurrency = v
  end
  local iterator = tasks.map(self, items, fn, concurrency)
  -- the fourth value is the generic for's to-be-closed variable (Lua 5.4): `break` cancels at once
  return iterator, nil, nil, iterator
end

--- Closes the client's connections.  Also runs for `local c <close> =
-- voucherify.new{...}` (Lua 5.4).  A view owns no connection: closing it does
-- nothing.  Make no call on a closed client.
-- @usage
-- client:close()
-- -- or, Lua 5.4:
-- do
--   local c <close> = voucherify.new(opts)
--   c.orders:get(id)
-- end  -- closed here, even on error
function Client:close()
  check_self(self, "close")
  if not self.parent then self.transports:close() end
end
Client.__close = Client.close

function Client:__tostring()
  return ("voucherify.client (%s)"):format(self.config.base_url)
end

-- The shapes the calls return and the hooks receive (no code: documentation).

--- The third value of every call: the HTTP answer, when one arrived (also
-- for an `api` error).  Header names are lower-case; a header sent more than
-- once has its values joined with ", ".
-- @table Response
-- @field status the HTTP status, e.g. `200`
-- @field headers name -> value, e.g. `headers["x-request-id"]`
-- @field attempts how many attempts the call made (1 without a retry)
-- @field rate_limit `{ limit, remaining, retry }` from the answer's
--   `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and `X-Rate-Limit-Retry`
--   (epoch seconds), each when the API sent it; nil when it sent none.  See
--   `voucherify.rate_limit`.
-- @usage
-- local order, err, res = client.orders:get(id)
-- if res then print(res.status, res.attempts, res.headers["content-type"]) end
-- if res and res.rate_limit then print(res.rate_limit.remaining) end

--- What the `on_response(info)` option gets after every request (once per
-- call, after its retries, for resource methods, `Client:request`, polls,
-- downloads and OAuth token requests alike).  It is scrubbed of the client's
-- secrets like an error object.  An error raised in the hook propagates to
-- the call that made the request; the client stays usable.
-- @table ResponseInfo
-- @field method `"GET"`, `"POST"`, ...
-- @field path the URL's path, e.g. `"/v1/orders/ord_1"` (no query)
-- @field status the HTTP status, or nil when no answer arrived
-- @field attempts how many attempts were made
-- @field elapsed seconds the call took, retries and waits included
-- @field request_id the API's request id (`X-Request-Id`, or the error's), when known
-- @field error the error's `kind` (`"api"`, `"timeout"`, ...), nil on success
-- @field rate_limit as `Response.rate_limit`
-- @field download `true` for the CSV transfer of `exports:download`, nil for
--   every API call (so an export's download is told from `exports:get`)
-- @usage
-- local client = voucherify.new { app_id = "...", app_token = "...",
--   on_response = function(info)
--     log(("%s %s -> %s in %.3f s (%d attempts)%s"):format(info.method, info.path,
--       info.status or info.error, info.elapsed, info.attempts, info.download and " [download]" or ""))
--   end }

--- The second value an iterator step gives with `pages`, and what
-- `params.on_page(page, info)` gets with `each` and `pages` (after each page
-- arrives: a progress display).  `on_page` raising ends the walk and
-- propagates.
-- @table PageInfo
-- @field page the page number (for cursor walks: the number of requests made)
-- @field count the items of this page that no earlier page held
-- @field fetched the items yielded so far, this page's included
-- @field total the total the API reports for the list, when it reports one
-- @field more true when more pages follow
-- @field response the `Response` of this page's request
-- @usage
-- for order in client.orders:each { limit = 100, on_page = function(page, info)
--   io.write(("\rpage %d: %d of %s"):format(info.page, info.fetched, tostring(info.total)))
-- end } do
--   handle(order)
-- end

--- What `each`, `pages` and `Client:map` return: an iterator for a generic
-- `for`.  It fetches lazily (one page in memory, plus `prefetch` pages ahead
-- when asked), and a failure raises the error object (`voucherify.errors`),
-- as `io.lines` raises: wrap the loop in `pcall` to get it.  On Lua 5.4,
-- leaving the loop early (`break`, an error) closes it at once; on LuaJIT
-- keep it in a local and call `close()` after the loop, or what is in flight
-- waits for the garbage collector.
-- @table Iterator
-- @field close `it:close()` stops the walk (or the map) and drops what is
--   fetched ahead or in flight; closing twice is harmless
-- @usage
-- local ok, err = pcall(function()
--   for customer in client.customers:each { city = "Oslo", prefetch = 2 } do handle(customer) end
-- end)
-- if not ok then
--   if voucherify.is_error(err) then print(err.kind, err.status, err) else error(err, 0) end
-- end

return client
