--- `client.exports`: CSV exports (started with e.g. `orders:export`).
-- @module voucherify.resources.exports

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

--- The exports resource of `client`.
function exports.new(client)
  return setmetatable({ client = client }, Exports)
end

local function id_of(v)
  if type(v) == "table" then return v.id end
  return v
end

endpoint.define(Exports, "exports", {
  --- Gets an export.
  -- @function Exports:get
  -- @tparam string id "exp_..." (or an export object)
  -- @return the export, err, response
  get = { "GET", { "v1", "exports", endpoint.ID }, id_of = id_of },
})

local function wait(self, id, opts)
  return poller.wait_resource(self.client, { "v1", "exports", id }, poller.EXPORT, opts)
end

local wait_check = argcheck.site("exports:wait")

--- Polls an export until DONE (returns it, with `result.url`) or ERROR
-- (nil and an error of kind "async" with the export as `err.export`).
-- @tparam string|table export_or_id
-- @tparam[opt] table opts `timeout`, `interval`, `on_progress(export)` as for async_actions:wait
-- @return the export, err, response
function Exports:wait(export_or_id, opts)
  local id = id_of(export_or_id)
  wait_check:id(id, "id")
  opts = wait_check:optional_table(opts, "opts")
  wait_check:poll_options(opts)
  return wait(self, id, opts)
end

-- A failed save is a runtime failure like a failed write in the transport
-- (libcurl's CURLE_WRITE_ERROR): a "network" error naming the file.
local function save_error(client, path, why, res)
  return nil, errors.new({ kind = "network", message = ("cannot save the export to %s: %s"):format(path, why) },
    client.auth.secrets), res
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

--- Downloads an export's CSV from its `result.url` (waiting for it first when
-- it is not DONE yet).  The link carries its own token, so no credentials are
-- sent with it, and the token never appears in an error.
-- @tparam string|table export_or_id
-- @tparam[opt] table opts `path` (write the CSV there and return the path
--   instead of the text: into a new file `<path>.part-<random hex>` created
--   once the wait is over, renamed onto `path` when complete, removed on any
--   failure), `timeout` (seconds for the whole download: the wait and the
--   transfer), and `interval`, `on_progress` for the wait
-- @return the CSV text (or `opts.path`), err, response
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
    idempotent = true, deadline = deadline }
  if opts.path then return download_to(self.client, call, opts.path) end
  return pipeline.run(self.client, call)
end

argcheck.methods(Exports, "exports")

return exports
