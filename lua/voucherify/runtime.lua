--- What the library runs on, decided in one place: the C core (when it is
-- installed for this Lua) and nginx (when inside it, and whether the current
-- phase may yield).  json, clock and the transports read it from here.
-- @module voucherify.runtime

local runtime = {}

-- (require, not a path search: the core may be preloaded or linked in statically)
local has_core, core = pcall(require, "voucherify.core")

--- The C core module (csrc/core.c), or false when it is not installed for this Lua.
runtime.core = has_core and core

-- phases in which cosockets and ngx.sleep may yield (lua-nginx-module's documentation)
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true }

--- True when running inside nginx in a phase that may yield (cosockets, ngx.sleep).
function runtime.can_yield()
  local n = rawget(_G, "ngx")
  return n ~= nil and n.get_phase ~= nil and YIELDABLE[n.get_phase()] == true
end

return runtime
