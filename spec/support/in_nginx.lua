--- Test helper: runs a Lua chunk inside nginx's LuaJIT (lua-nginx-module),
-- the way OpenResty code runs, without a port or a worker: nginx starts in the
-- foreground, runs the chunk in init_by_lua, writes what it returned, exits.
--
--   local result = in_nginx.run([[ return { backend = require("voucherify.files").backend } ]],
--     { core = false })
--
-- `opts.core = false` hides the C core (voucherify.core) from the chunk, so
-- the pure-Lua / FFI fallbacks run.  The chunk's result must be a table of
-- strings, numbers, booleans and such tables; it comes back as a Lua value.
local nginx_server = require "support.nginx"
local process = require "support.process"

local in_nginx = {}

--- True when nginx with the lua module is installed.
in_nginx.available = nginx_server.available

-- written in the LuaJIT side: a Lua literal of `v`
local SERIALIZE = [[
local function ser(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  if t == "table" then
    local out = {}
    for k, x in pairs(v) do out[#out + 1] = "[" .. ser(k) .. "]=" .. ser(x) end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return string.format("%q", tostring(v))
end
]]

-- no listener: nginx runs the chunk in init_by_lua and exits
local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
events {}
http {
  lua_package_path "@ROOT@/lua/?.lua;@ROOT@/lua/?/init.lua;;";
  lua_package_cpath "@CPATH@;;";
  init_by_lua_file @PREFIX@/runner.lua;
}
]]

--- Runs `source` in nginx's LuaJIT with the checkout's lua/ on the path.
-- @tparam string source a chunk returning a table
-- @tparam[opt] table opts `core` (default true: build/luajit/voucherify/core.so is found)
-- @return what the chunk returned
function in_nginx.run(source, opts)
  opts = opts or {}
  local dir = process.temp_dir("nginx")
  local _, root = process.sh("pwd")
  local chunk = assert(io.open(dir .. "/chunk.lua", "w"))
  chunk:write(source)
  chunk:close()
  local runner = assert(io.open(dir .. "/runner.lua", "w"))
  runner:write(SERIALIZE, ([[
%s
local ok, result = pcall(dofile, %q)
local f = assert(io.open(%q, "w"))
f:write(ok and ("return " .. ser(result)) or ("error(" .. string.format("%%q", tostring(result)) .. ", 0)"))
f:close()
os.exit(0)
]]):format(opts.core == false
    and [[package.preload["voucherify.core"] = function() error("hidden by the spec") end]] or "",
    dir .. "/chunk.lua", dir .. "/result.lua"))
  runner:close()
  local conf = assert(io.open(dir .. "/nginx.conf", "w"))
  conf:write(nginx_server.render(CONF, { PREFIX = dir, ROOT = root,
    CPATH = opts.core == false and (dir .. "/none/?.so") or (root .. "/build/luajit/?.so") }))
  conf:close()
  local ok, out = process.sh(("nginx -e %s/error.log -p %s -c %s/nginx.conf -g 'daemon off; master_process off;'")
    :format(dir, dir, dir))
  local result = io.open(dir .. "/result.lua")
  local text = result and result:read("a")
  if result then result:close() end
  local log = io.open(dir .. "/error.log")
  local log_text = log and log:read("a") or ""
  if log then log:close() end
  os.execute("rm -rf " .. dir)
  assert(ok and text, "nginx did not run the chunk: " .. out .. log_text)
  return assert(load(text, "=in_nginx result"))()
end

return in_nginx
