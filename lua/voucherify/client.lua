--- The client: its configuration, credentials (voucherify.auth), transports
-- (voucherify.transport), OAuth tokens, and the resource objects
-- (`client.orders`, `client.customers`, `client.async_actions`,
-- `client.exports`).  Its public methods are `request` (any endpoint),
-- `with` (a view with per-call options) and `close`; every call goes through
-- voucherify.pipeline.
-- @module voucherify.client

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
-- made through it: `timeout`, `max_retries`, `max_retry_delay`, `headers`
-- (added to the client's, replacing those of the same name), `channel`,
-- `api_version`, `user_agent`, `on_response`.  It shares the client's
-- connections and OAuth tokens; the client keeps its own options.  Unknown
-- keys, and options that belong to the connections or credentials, raise.
--
--     client:with{ timeout = 0.5, max_retries = 0 }.orders:get(id)
-- @tparam table overrides
-- @return the view (a client: `view.orders`, `view:request`, `view:with`)
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

--- Sends any Voucherify call through the same pipeline as the resources
-- (credentials, OAuth, retries, deadline, error objects, `on_response`,
-- transports).
-- @tparam table req `method` ("GET", "POST", ...), `path` (a list of raw
--   segments, each sent as one percent-encoded segment, or a string "/v1/x"
--   split at "/"), `query` (name -> string, number or boolean; a list
--   repeats the name), `body` (a table, sent as JSON), `idempotent` (whether
--   repeating the call cannot do harm; default: true for GET, HEAD, PUT,
--   DELETE, OPTIONS, false otherwise; only idempotent calls are ever repeated)
-- @return result, err, response
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
client.MAP_CONCURRENCY = 8

local map_check = argcheck.site("client:map")

--- Runs `fn(c, item, i)` for every item of the list `items`, at most
-- `concurrency` at once, and yields `i, result, err, response` as each one
-- finishes (not in input order): `fn`'s three return values.
--
--     for i, order, err in client:map(orders, function(c, order) return c.orders:create(order) end,
--       { concurrency = 16 }) do ... end
--
-- `fn` runs as an ordinary call sequence (any calls, iterators, retries and
-- their waits, OAuth); `c` is this client (or view).  An error object
-- returned for one item does not stop the others.  A Lua error raised in
-- `fn` cancels what is in flight, then propagates out of the loop.  Leaving
-- the loop early cancels what is in flight (at once on Lua 5.4; on LuaJIT
-- when the iterator is collected, or at once with `it:close()` on the
-- iterator kept in a local).  Plain Lua runs the items as coroutines over
-- libcurl's multi interface; inside nginx, with cosockets, as light threads.
-- @tparam table items a list
-- @tparam function fn `fn(c, item, i)` -> result, err, response
-- @tparam[opt] table opts `concurrency` (a positive integer, default 8)
-- @return the iterator, for a generic `for`
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

--- Closes the client's connections.  Also runs for `local c <close> = voucherify.new{...}`.
-- A view owns no connection: closing it does nothing.
function Client:close()
  check_self(self, "close")
  if not self.parent then self.transports:close() end
end
Client.__close = Client.close

function Client:__tostring()
  return ("voucherify.client (%s)"):format(self.config.base_url)
end

return client
