--- `client.exports`: CSV exports (started with `orders:export`), as methods
-- of `Exports` called on `client.exports`.
--
-- An export runs in the background; when it is DONE its `result.url` is a
-- link to the CSV on the regional download host.  That link carries its own
-- token, so `download` sends no credentials with it, and the token is masked
-- in every error and in the `on_response` info (which marks the transfer with
-- `download = true`).
-- @module voucherify.resources.exports
-- @usage
-- local export = assert(client.orders:export { fields = { "id", "source_id", "status" } })
-- local done = assert(client.exports:wait(export))                -- DONE, with result.url
-- local csv = assert(client.exports:download(done))               -- the CSV text
-- assert(client.exports:download(export, { path = "orders.csv" })) -- or into a file

local argcheck = require "voucherify.argcheck"
local clock = require "voucherify.clock"
local endpoint = require "voucherify.endpoint"
local errors = require "voucherify.errors"
local files = require "voucherify.files"
local pipeline = require "voucherify.pipeline"
local poller = require "voucherify.poller"

local exports = {}

local Exports = {}
Exports.__index = Exports

--- The exports resource of `client` (`client.exports`).
-- @local
function exports.new(client)
  return setmetatable({ client = client }, Exports)
end

local function id_of(v)
  if type(v) == "table" then return v.id end
  return v
end

endpoint.define(Exports, "exports", {
  --- Gets an export: one look, no waiting.  GET /v1/exports/{id}.
  -- @function Exports:get
  -- @tparam string|table id `"exp_..."` or an export object
  -- @return the export (`status`: `"SCHEDULED"`, `"IN_PROGRESS"`, `"DONE"`, `"ERROR"`), err, response
  -- @usage local exp = assert(client.exports:get(export.id)); print(exp.status)
  get = { "GET", { "v1", "exports", endpoint.ID }, id_of = id_of },
})

local function wait(self, id, opts)
  return poller.wait_resource(self.client, { "v1", "exports", id }, poller.EXPORT, opts)
end

local wait_check = argcheck.site("exports:wait")

--- Polls an export until DONE (returns it, with `result.url`) or ERROR
-- (nil and an error of kind `"async"` with the export as `err.export`); a
-- `timeout` running out first gives an error of kind `"timeout"`.  As
-- `async_actions:wait`.
-- @tparam string|table export_or_id `"exp_..."` or the export
-- @tparam[opt] table opts `timeout` (default 600 s), `interval` (default 1 s,
--   growing 1.5x up to 10 s), `on_progress(export)`, as for `async_actions:wait`
-- @return the export, err, response
-- @usage
-- local done, err = client.exports:wait(export, { timeout = 300 })
-- if done then print(done.result.url) end
function Exports:wait(export_or_id, opts)
  local id = id_of(export_or_id)
  wait_check:id(id, "id")
  opts = wait_check:optional_table(opts, "opts")
  wait_check:poll_options(opts)
  return wait(self, id, opts)
end

-- A failed save is a runtime failure like a failed write in the transport
-- (libcurl's CURLE_WRITE_ERROR): a "network" error naming the file, with the
-- transport's reason for it ("write").
local function save_error(client, path, why, res)
  return nil, errors.new({ kind = "network", reason = "write",
    message = ("cannot save the export to %s: %s"):format(path, why) }, client.auth.secrets), res
end

-- Sends the download into a temporary file made just now, exclusively, next
-- to `path`, and renames it onto `path` once complete: `path` is either
-- untouched or replaced whole, and only the file made here is ever removed.
local function download_to(client, call, path)
  local part, why = files.create_temp(path)
  if not part then return save_error(client, path, why) end
  call.output_path = part
  -- a Lua error (on_response, the transport) must not leave the file behind either
  local ok, result, err, res = pcall(pipeline.run, client, call)
  if not ok then
    os.remove(part)
    error(result, 0) -- the same value, unchanged
  end
  if not result then
    os.remove(part)
    return nil, err, res
  end
  local renamed, rename_err = os.rename(part, path)
  if not renamed then
    os.remove(part)
    return save_error(client, path, rename_err, res)
  end
  return path, nil, res
end

-- The link's token as it stands in the URL and percent-decoded (a server
-- that echoes it back decoded must not reveal it either).
local function url_secrets(url)
  local token = url:match("[?&]token=([^&#]*)")
  if not token or token == "" then return nil end
  local decoded = token:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  if decoded == token then return { token } end
  return { token, decoded }
end

local download_check = argcheck.site("exports:download")
local DOWNLOAD_OPTIONS = { path = true }

--- Downloads an export's CSV from its `result.url`, waiting for it first when
-- it is not DONE yet.  The link carries its own token, so no credentials are
-- sent with it, and the token never appears in an error.  The transfer is a
-- GET, retried as one; `on_response` gets `info.download = true` for it.
-- With `opts.path`, the CSV is streamed into a new file
-- `<path>.part-<16 random hex digits>` created exclusively next to `path`
-- once the wait is over, and renamed onto `path` when complete: `path` is
-- either left as it was or replaced whole, and the temporary file is removed
-- on every failure.  A file that cannot be made or put at `path` is a
-- `"network"` error with `reason = "write"`.
-- @tparam string|table export_or_id `"exp_..."` or the export
-- @tparam[opt] table opts `path` (write the CSV there and return the path
--   instead of the text), `timeout` (seconds for the whole download: the wait
--   and the transfer), and `interval`, `on_progress` for the wait
-- @return the CSV text (or `opts.path`), err, response
-- @usage
-- local csv = assert(client.exports:download(done))
-- local path, err = client.exports:download(export, { path = "/var/tmp/orders.csv", timeout = 900 })
function Exports:download(export_or_id, opts)
  local id = id_of(export_or_id)
  download_check:id(id, "id")
  opts = download_check:optional_table(opts, "opts")
  download_check:poll_options(opts, DOWNLOAD_OPTIONS)
  if opts.path ~= nil then download_check:file(opts.path, "opts.path", "wb") end
  -- opts.timeout bounds the whole download: the wait and the transfer
  local deadline = opts.timeout and clock.now() + opts.timeout
  local exp = type(export_or_id) == "table" and export_or_id or nil
  local url = exp and exp.status == "DONE" and type(exp.result) == "table" and exp.result.url
  if type(url) ~= "string" then
    local err, res
    exp, err, res = wait(self, id, opts)
    if not exp then return nil, err, res end
    url = type(exp.result) == "table" and exp.result.url
    if type(url) ~= "string" then
      return nil, errors.new({ kind = "decode",
        message = ("export %s is DONE but has no result.url"):format(id) }, self.client.auth.secrets), res
    end
  end
  local call = { method = "GET", url = url, public = true, raw = true, secrets = url_secrets(url),
    idempotent = true, deadline = deadline, download = true }
  if opts.path then return download_to(self.client, call, opts.path) end
  return pipeline.run(self.client, call)
end

argcheck.methods(Exports, "exports")

return exports
