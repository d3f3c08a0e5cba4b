--- voucherify-lua: a client for the Voucherify API (orders, customers,
-- async actions, exports), with a C core for HTTP and JSON.
--
--   local voucherify = require "voucherify"
--   local client = voucherify.new{ app_id = "...", app_token = "..." }
--   local order, err, res = client.orders:get("ord_123")
-- @module voucherify

local client = require "voucherify.client"
local errors = require "voucherify.errors"
local json = require "voucherify.json"
local options = require "voucherify.options"
local rate_limit = require "voucherify.rate_limit"

local voucherify = {
  VERSION = options.VERSION,
  --- JSON null (equal to `cjson.null`).
  null = json.null,
  --- Metatable of every decoded JSON array.
  array_mt = json.array_mt,
  --- The C core's JSON codec: `encode(v)`, `decode(s)`, each `value | nil, err`.
  json = json,
}

--- Creates a client.  Raises on bad options (unknown key, wrong type, no credentials).
-- @tparam table opts see the README: `app_id`, `app_token` or `access_token`,
--   `base_url` or `cluster`, `timeout`, `connect_timeout`, `max_retries`,
--   `max_retry_delay`, `max_body_size`, `headers`, `channel`, `api_version`, `user_agent`,
--   `ca_file`, `verify_tls`, `proxy`, `oauth`, `on_response`, `rate_limit`,
--   `on_rate_limit_store_error`, `transport`
-- @return client
voucherify.new = client.new

--- Marks `t` (default `{}`) to encode as a JSON array, even when empty.
voucherify.array = json.array

--- True for error objects made by this library.
voucherify.is_error = errors.is_error

--- Where a `rate_limit` budget lives (`rate_limit = { ..., store = ... }`):
-- `local_store()` (the client's memory, the default), `shared_dict(dict[, { prefix = }])`
-- (every worker of one nginx), `redis(connect[, { prefix = }])` (every process on every host).
voucherify.rate_limit = { local_store = rate_limit.local_store, shared_dict = rate_limit.shared_dict,
  redis = rate_limit.redis }

return voucherify
