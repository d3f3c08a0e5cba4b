--- Resource methods declared as data.  A resource lists its endpoints as
-- tables, and `endpoint.define` turns each into a method that checks its
-- arguments (at the caller's line), builds the call description (path, query,
-- JSON body) and sends it, or, for a list endpoint, makes its iterator.
--
-- A declaration: `{ "GET", { "v1", "orders", endpoint.ID }, ... }`, the HTTP
-- method and the path, where `endpoint.ID` marks the id argument (sent as
-- one path segment).  The method takes the id (when the path has one), then
-- one argument more when the declaration has `params` or `body`:
--
-- * `params`: the voucherify.query set the optional params table is checked
--   against and encoded with.
-- * `body`: the name of a table argument sent as the JSON body; `optional`
--   (nil is `{}`), `fields` (names of fields that must be tables), `max` (at
--   most that many items), `shape(v)` (the value to send instead of `v`, e.g.
--   a copy marked as an array), `upsert` (safe to repeat when the body names
--   its record by `id` or `source_id`).
-- * `bulk`: the call counts against the API's bulk budget (imports, bulk
--   updates), not the plain one (voucherify.rate_limit).
-- * `id_of(v)`: what to take as the id (e.g. the id field of an object).
-- * `each = list` or `pages = list`: the method returns the iterator over the
--   items (or the pages) of the list declaration `list` (see
--   voucherify.pagination: `path`, `query`, `items`, `cursors`, `cap`,
--   `limit`, ...); `params` then checks the caller's iterator parameters.
--
-- Iterators, and the GET calls with `params` on the path of an iterator of
-- the same resource (one page of that list), also take `select`: a list of
-- field paths, the only fields each item of the list is decoded with (see
-- `pagination.selector`; it is never sent).
--
-- GET, PUT and DELETE are safe to repeat; a POST only when it is an upsert
-- naming its record.
-- @module voucherify.endpoint

local argcheck = require "voucherify.argcheck"
local json = require "voucherify.json"
local pagination = require "voucherify.pagination"
local pipeline = require "voucherify.pipeline"
local query = require "voucherify.query"
local request = require "voucherify.request"

local type = type

local endpoint = {}

--- Marks where the id argument goes in a declared path.  A call shares
-- its declaration's path (no copy per call) and carries the id beside it
-- (voucherify.request puts it in).
endpoint.ID = request.ID
local ID = endpoint.ID

--- A copy of the list `v` marked as a JSON array (a `shape`): even `{}` goes
-- out as `[]`, and the caller's table is left untouched.
function endpoint.array(v)
  local copy = json.array()
  for i = 1, #v do copy[i] = v[i] end
  return copy
end

-- where the id goes in `path` (nil: nowhere)
local function id_index(path)
  for i, segment in ipairs(path) do
    if segment == ID then return i end
  end
  return nil
end

-- a shallow copy of `t`
local function pairs_copy(t)
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  return copy
end

-- a copy of the caller's params without `select`
local function without_select(params)
  local copy = pairs_copy(params)
  copy.select = nil
  return copy
end

-- The iterator of a list endpoint for the (checked) `params` and `select` (nil: every field).
local function iterate(resource, d, id, params, fields)
  local list, client = d.list, resource.client
  local base = pairs_copy(params)
  local function fetch(overrides, selector)
    local q = pairs_copy(base)
    -- false: leave the caller's parameter out (e.g. their cursor inside a window)
    for k, v in pairs(overrides) do
      if v == false then q[k] = nil else q[k] = v end
    end
    return pipeline.run(client, { method = "GET", path = list.path,
      query = query.encode(list.query, q), idempotent = true, select = selector }, id)
  end
  local pages = pagination.walk(list, params, fetch, d.check.where, fields)
  -- the fourth value is the generic for's to-be-closed variable (Lua 5.4): `break` drops what is prefetched
  if d.pages then return pages, nil, nil, pages end
  return pagination.items(pages, list.items)
end

-- One call of the method declared by `d`, with its arguments `a`, `b`.  It
-- runs at the method's depth (the method and the wrapper tail-call it), so
-- the checks, called here as statements, blame the method's caller.
local function run(resource, d, a, b)
  local check, id, arg = d.check, nil, a
  if d.id_at then id, arg = a, b end
  -- `select` is not a query parameter: checked here, then left out of them
  local fields = nil
  if d.selects and type(arg) == "table" and arg.select ~= nil then
    fields = arg.select
    check:select(fields, "select")
    arg = without_select(arg)
  end
  if d.id_at then
    if d.id_of then id = d.id_of(id) end
    if d.params then arg = check:id_and_params(id, arg, d.params) else check:id(id, "id") end
  elseif d.params then
    arg = check:params(arg, d.params)
  end
  if d.list then return iterate(resource, d, id, arg, fields) end
  local client = resource.client
  -- nothing but the id varies: the declaration's own description serves
  if d.call then return pipeline.run(client, d.call, id) end
  local call = { method = d.method, path = d.path, idempotent = d.idempotent }
  if d.bulk then call.bulk = true end
  if d.params then call.query = query.encode(d.params, arg) end
  -- one page of a list: its items hold only the fields `select` names
  if fields then call.select = pagination.selector(fields, d.items) end
  local name = d.body
  if name then
    if d.optional then arg = check:optional_table(arg, name) else check:table(arg, name) end
    for _, field in ipairs(d.fields) do check:table(arg[field], name .. "." .. field) end
    if d.max then check:max_length(arg, name, d.max) end
    if d.upsert then call.idempotent = arg.id ~= nil or arg.source_id ~= nil end
    local text, why = json.encode(d.shape and d.shape(arg) or arg)
    check:encoded(text, name, why)
    call.body = text
  end
  return pipeline.run(client, call, id)
end

local KEYS = { [1] = true, [2] = true, params = true, body = true, optional = true, fields = true, max = true,
  shape = true, upsert = true, id_of = true, each = true, pages = true, bulk = true }

-- The method for `d`, taking exactly the arguments it declares (argcheck.method counts them).
local function method_of(d)
  local call, check = d.call, d.check
  if call and d.arity == 1 and d.id_at and not d.id_of then
    -- the commonest call, a GET (or DELETE) by id and nothing else: run's work without its tests
    return function(self, id)
      if type(id) ~= "string" or id == "" then check:id(id, "id") end
      return pipeline.run(self.client, call, id)
    end
  end
  if d.arity == 2 then return function(self, a, b) return run(self, d, a, b) end end
  if d.arity == 1 then return function(self, a) return run(self, d, a, nil) end end
  return function(self) return run(self, d, nil, nil) end
end

local function same_path(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- The list field of the one-page call `decl`: that of an iterator of the
-- same resource over the same path (nil: not a list call).
local function items_of(decl, declarations)
  if decl[1] ~= "GET" or not decl.params then return nil end
  for _, other in pairs(declarations) do
    local list = other.each or other.pages
    if list and same_path(list.path, decl[2]) then return list.items end
  end
  return nil
end

--- Defines a method of `class` for each declaration.
-- @tparam table class the resource's methods table (`Orders`)
-- @tparam string resource its field on the client ("orders"), for messages
-- @tparam table declarations method name -> declaration
-- @return class
function endpoint.define(class, resource, declarations)
  for name, decl in pairs(declarations) do
    for k in pairs(decl) do
      if not KEYS[k] then error(("endpoint %s:%s: unknown key '%s'"):format(resource, name, tostring(k)), 2) end
    end
    local list = decl.each or decl.pages
    local d = { check = argcheck.site(resource .. ":" .. name), method = decl[1], path = list and list.path or decl[2],
      list = list, pages = decl.pages ~= nil, params = decl.params, body = decl.body, optional = decl.optional,
      fields = decl.fields or {}, max = decl.max, shape = decl.shape, upsert = decl.upsert, id_of = decl.id_of,
      bulk = decl.bulk, idempotent = decl[1] ~= "POST" }
    d.items = not list and items_of(decl, declarations) or nil
    d.selects = decl.params ~= nil and (list ~= nil or d.items ~= nil)
    d.id_at = id_index(d.path)
    d.arity = (d.id_at and 1 or 0) + ((d.params or d.body) and 1 or 0)
    if not list and not d.params and not d.body then
      -- a constant call description (pipeline.run and request.build leave it unchanged)
      d.call = { method = d.method, path = d.path, idempotent = d.idempotent, bulk = d.bulk and true or nil }
    end
    class[name] = method_of(d)
  end
  return class
end

return endpoint
