--- voucherify-lua: a client for the Voucherify API (orders, customers,
-- async actions, exports), with a C core for HTTP and JSON.
--
-- This module is what you `require`: it makes clients (`new`) and holds the
-- JSON helpers, the error test and the rate-limit stores.  Every API call
-- returns `result, err, response` (see `voucherify.client`); programmer
-- mistakes raise at your line, runtime failures return an error object
-- (`voucherify.errors`).
-- @module voucherify
-- @usage
-- local voucherify = require "voucherify"
-- local client = voucherify.new { app_id = os.getenv("VOUCHERIFY_APP_ID"),
--   app_token = os.getenv("VOUCHERIFY_APP_TOKEN") }
-- local order, err, res = client.orders:get("ord_123")
-- if not order then print(err.kind, err.status, err) end
-- client:close()

local client = require "voucherify.client"
local errors = require "voucherify.errors"
local json = require "voucherify.json"
local options = require "voucherify.options"
local rate_limit = require "voucherify.rate_limit"

local voucherify = {
  --- The library's version, e.g. `"0.1.0"` (also in the default `User-Agent`).
  -- @usage print(voucherify.VERSION)
  VERSION = options.VERSION,
  --- JSON `null`: what a decoded `null` is, and what to put in a table to send
  -- one.  The same lightuserdata as `cjson.null`.
  -- @usage client.customers:update(id, { phone = voucherify.null })  -- clears the phone
  null = json.null,
  --- The metatable of every decoded JSON array: a table carrying it encodes as
  -- an array even when empty.
  -- @usage getmetatable(page.orders) == voucherify.array_mt  --> true
  array_mt = json.array_mt,
  --- The JSON codec of every request and response (the C core's; inside
  -- OpenResty without the core, lua-cjson): `json.encode(v)` and
  -- `json.decode(s)`, each returning the value, or nil and a message.  See
  -- `voucherify.json`.
  -- @usage local t, err = voucherify.json.decode('{"a":[1,2.5,null]}')
  -- local text = assert(voucherify.json.encode { ids = voucherify.array() })  --> {"ids":[]}
  json = json,
}

--- Creates a client.  Raises at your line on bad options: an unknown key, a
-- wrong type, a bad value, missing credentials.  Every option is in
-- `voucherify.options`.
-- @function new
-- @tparam table opts the client options (`voucherify.options`): credentials
--   (`app_id` and `app_token`, or `access_token`, or `oauth`), and e.g.
--   `base_url` or `cluster`, `timeout`, `max_retries`, `rate_limit`, `on_response`
-- @treturn voucherify.client the client
-- @usage
-- local client = voucherify.new { app_id = "...", app_token = "...", cluster = "us1",
--   timeout = 10, max_retries = 2 }
-- -- or, closed at the end of the block (Lua 5.4):
-- local c <close> = voucherify.new { access_token = "...", base_url = "http://127.0.0.1:8080" }
voucherify.new = client.new

--- Marks `t` (default: a new `{}`) to encode as a JSON array, even when
-- empty (a plain empty table encodes as `{}`).  Raises when `t` is not a table.
-- @function array
-- @tparam[opt] table t
-- @treturn table `t`, with `voucherify.array_mt`
-- @usage client.orders:update(id, { items = voucherify.array() })  -- sends "items":[]
voucherify.array = json.array

--- True for error objects made by this library (`voucherify.errors`), false
-- for anything else (a string raised by your own code, nil).
-- @function is_error
-- @param v any value
-- @treturn boolean
-- @usage
-- local ok, e = pcall(function() for o in client.orders:each() do use(o) end end)
-- if not ok and voucherify.is_error(e) then print(e.kind, e.status) else error(e, 0) end
voucherify.is_error = errors.is_error

--- Where a client's rate-limit budget lives: the `store` of the `rate_limit`
-- option.  See `voucherify.rate_limit` and the rate limits topic.
-- @table rate_limit
-- @field local_store `local_store()`: the client's memory (the default)
-- @field shared_dict `shared_dict(dict[, opts])`: an `ngx.shared` dictionary,
--   shared by every worker of one nginx
-- @field redis `redis(connect[, opts])`: Redis, shared by every process on every host
-- @usage
-- local client = voucherify.new { app_id = "...", app_token = "...",
--   rate_limit = { requests = 100, per = 60,
--     store = voucherify.rate_limit.shared_dict(ngx.shared.voucherify) } }
voucherify.rate_limit = { local_store = rate_limit.local_store, shared_dict = rate_limit.shared_dict,
  redis = rate_limit.redis }

return voucherify
