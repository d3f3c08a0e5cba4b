--- Transports: the one place that decides how a request goes out, and the
-- contract every transport keeps.
--
-- Choosing: `transport.check(opts)` validates the `transport` option when a
-- client is made; `transport.for_client(config)` makes the client's
-- transports once, with the client's settings; `:pick()` chooses one per
-- call: with "auto" the cosocket transport inside nginx where the phase lets
-- cosockets work, libcurl elsewhere; "curl", "ngx" or a user's transport
-- always.
--
-- The contract.  A transport is made once per client and applies the
-- client's settings to every request it sends:
--   timeout, connect_timeout   seconds, for a request that names none
--   verify_tls, ca_file, proxy TLS verification and the proxy (the cosocket
--                              transport refuses ca_file and a proxy URL)
--   max_body_size              bytes: a larger response fails as "too_large"
-- A request (voucherify.request) carries only what is its own: `method`,
-- `url`, `headers` (a list of "Name: value" lines), `body` (a string),
-- `multipart`, `output_path`, `idempotent`, and this attempt's `timeout`
-- (and, to shorten it, `connect_timeout`) in seconds; `json` (a 2xx body is
-- to be decoded) and `select` (a json.selector: decode only what it names).
--   t:start(req) -> job        begins the request; a malformed one raises,
--                              every other failure waits for collect
--   t:wait(job)                returns when the job is done: blocks (libcurl)
--                              or yields (cosockets)
--   t:collect(job)             after wait: raw, or nil and a failure; the
--                              job is forgotten
--   t:send(req)                start, wait and collect in a row
--   t:close()                  releases the transport's connections
--   t.name                     "curl", "ngx" or "custom"
-- A transport may hold one job at a time (libcurl's one easy handle: a new
-- start drops a job not collected).
-- Many at once (`client:map`, iterators' prefetch): inside a task of
-- voucherify.tasks, `send` must not block the other tasks.  The libcurl
-- transport starts the request on the client's multi handle, a source of
-- many jobs:
--   source:start(req) -> id    begins a request (no I/O yet)
--   source:wait(seconds) -> {id, ...}   runs them all until one at least is
--                              done or the time is over (curl_multi_poll)
--   source:collect(id)         as collect above; source:cancel(id) drops one
-- and hands it to tasks.transfer(source, id), which yields the task until the
-- scheduler, waiting on the source for ANY job, sees it done.  The cosocket
-- transport needs nothing: there the tasks are light threads, which its
-- socket calls already yield.  A user's transport blocks: its tasks run in
-- turn (their sleeps still overlap).
-- raw = { status, headers (lower-case names, repeated ones joined with
-- ", "), body, reused (true when a kept-alive connection answered) }.  A
-- transport may answer a request with `json` with `value` (the 2xx body
-- decoded, with `select`) instead of `body`: the libcurl one does, from its
-- receive buffer; others give `body` and voucherify.response decodes it.
-- `rate_limit = false` (optional) says the answer has no X-Rate-Limit-*
-- header, so the pipeline does not look for them.
-- failure = { reason, message, sent, curl_code }: `reason` is a key of
-- transport.REASONS, which the rest of the library reads (voucherify.retry,
-- voucherify.response); `sent` is true once any byte of the request went
-- out; `curl_code` is libcurl's number, from the libcurl transport only.
-- A transport sends a request twice by itself only when `req.idempotent`.
-- A user's transport (a function(req), or a table with send(self, req) and
-- optionally close(self)) needs only send: the rest is derived here.
-- @module voucherify.transport

local runtime = require "voucherify.runtime"

local transport = {}

--- Why a request failed: the reasons every transport reports, by name.
transport.REASONS = {
  url = "the URL was not understood (nothing was sent)",
  resolve = "the API's or the proxy's host name could not be resolved (nothing was sent)",
  connect = "no connection to the API could be made: refused, unreachable, or the proxy refused",
  tls = "the TLS handshake failed or the certificate was not trusted",
  timeout = "the attempt's time ran out (connecting, sending or receiving)",
  -- (libcurl also reports bad chunk framing so: its code says only "receive error")
  reset = "the connection closed or broke before the whole answer arrived",
  protocol = "the answer broke HTTP's rules or is not HTTP/1.x (status line, a header, framing, content coding)",
  too_large = "the answer is larger than max_body_size, or its headers than the header limits",
  resend_refused = "a kept-alive connection closed after the request went out: not sent again,"
    .. " the request is not idempotent",
  write = "the answer could not be written to output_path (unsent when the file cannot be opened)",
  upload = "a file to upload could not be read",
  memory = "out of memory",
  other = "anything else (the message says what)",
}

--- Adds start, wait and collect to a transport class whose `send` blocks
-- (or yields inside nginx) until the request is done: the work happens in wait.
-- @tparam table class a metatable's __index table with send(self, req)
-- @treturn table class
function transport.blocking(class)
  function class.start(_, req)
    return { req = req }
  end
  function class:wait(job)
    if not job.done then
      job.raw, job.failure = self:send(job.req)
      job.done = true
    end
  end
  function class.collect(_, job)
    if not job.done then error("voucherify: collect before wait", 2) end
    return job.raw, job.failure
  end
  return class
end

-- A user's transport: `transport = function(req)` or a table with send(self, req).
local Custom = { name = "custom" }
Custom.__index = Custom

function Custom:send(req)
  local user = self.user
  if type(user) == "function" then return user(req) end
  return user:send(req)
end

function Custom:close()
  local user = self.user
  if type(user) == "table" and user.close then user:close() end
end

transport.blocking(Custom)

-- the valid values of the `transport` option, for the usage error
local CHOICES = "'transport' must be \"auto\", \"curl\", \"ngx\", a function(request) or a table with send()"

--- Checks the `transport` option against the others when a client is made.
-- @tparam table opts the options given to voucherify.new
-- @treturn ?string what is wrong (a usage error's text), or nil
function transport.check(opts)
  local choice = opts.transport
  if choice == nil or choice == "auto" or type(choice) == "function"
      or (type(choice) == "table" and type(choice.send) == "function") then
    return nil
  elseif choice == "curl" then
    if not runtime.core then
      return "transport \"curl\" needs the C core (voucherify.core), which is not installed for this Lua"
    end
  elseif choice == "ngx" then
    -- "auto" takes them: there they apply to the calls libcurl sends
    local name, why = require("voucherify.transport.ngx").unsupported(opts)
    if name then return ("'%s' cannot be used with transport \"ngx\": %s"):format(name, why) end
  else
    return CHOICES
  end
  return nil
end

-- The transports of one client.
local Transports = {}
Transports.__index = Transports

--- Makes a client's transports, once, with its settings.
-- @tparam table config the client's configuration (voucherify.options): its
--   `transport` choice and the settings listed above
-- @return an object with pick() and close()
function transport.for_client(config)
  local choice = config.transport or "auto"
  local self = setmetatable({ choice = choice, settings = config }, Transports)
  if type(choice) == "function" or type(choice) == "table" then
    self.custom = setmetatable({ user = choice }, Custom)
  elseif choice == "curl" or (choice == "auto" and runtime.core) then
    -- made now, so that a client made in init_worker already has its connection
    self.curl = require("voucherify.transport.curl").new(config)
    -- outside nginx (no `ngx` now, nor later: plain Lua has none) or chosen: always libcurl
    if choice == "curl" or rawget(_G, "ngx") == nil then self.only = self.curl end
  end
  return self
end

--- The transport for a call made now: inside nginx, where cosockets work,
-- the cosocket one (unless the `transport` option says otherwise); libcurl elsewhere.
function Transports:pick()
  local only = self.only or self.custom
  if only then return only end
  local choice = self.choice
  if choice == "ngx" or (choice == "auto" and runtime.can_yield()) then
    local t = self.ngx
    if not t then
      t = require("voucherify.transport.ngx").new(self.settings)
      self.ngx = t
    end
    return t
  end
  if not self.curl then
    error("voucherify: no transport here: the C core (voucherify.core) is not installed for this Lua,"
      .. " and cosockets are not available in this nginx phase", 0)
  end
  return self.curl
end

--- Closes every transport made.
function Transports:close()
  if self.curl then self.curl:close() end
  if self.ngx then self.ngx:close() end
  if self.custom then self.custom:close() end
end

return transport
