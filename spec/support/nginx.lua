--- Test and bench helper: a private nginx, started from a configuration
-- template in a directory of its own, so that two checkouts running the specs
-- (or the bench) at once share nothing.
--
--   local nginx_server = require "support.nginx"
--   local nginx = nginx_server.start { conf = "spec/nginx/nginx.conf.in",
--     vars = { CPATH = ... }, env = { VOUCHERIFY_BASE_URL = server.url } }
--   local status, body = nginx:get("/order?id=x")
--   nginx:stop()
--
-- A template names its values `@NAME@`.  Given: PREFIX (the directory, with
-- a tmp/ inside for nginx's temp paths), ROOT (the checkout), PORT (a free
-- loopback port), USER ("user group" of whoever runs this, for the `user`
-- directive, so workers can read the checkout).  Every other one comes from
-- `opts.vars`; a name left without a value raises.  Values in `opts.vars`
-- and `opts.env` may hold "@PREFIX@" (e.g. "@PREFIX@/none/?.so").
-- @module support.nginx

local core = require "voucherify.core"
local json = require "voucherify.json"
-- beside this file, however it was reached ("support.nginx" from the specs,
-- "spec.support.nginx" from bench/run.lua)
local process_module = (...):gsub("nginx$", "process")
local process = require(process_module)

local nginx_server = {}

local MODULES = "/usr/lib/nginx/modules"

-- `process.sh`, kept here for bench/run.lua
nginx_server.sh = process.sh
local sh = process.sh

-- a shell word that stands for `s` exactly
local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

--- True when nginx and its Lua module (lua-nginx-module) are installed.
function nginx_server.available()
  local f = io.open(MODULES .. "/ngx_http_lua_module.so")
  if f then f:close() end
  return f ~= nil and (sh("command -v nginx"))
end

--- Replaces every `@NAME@` in `template` with `vars[NAME]`; raises when a
-- name has no value, so a template and its caller cannot drift apart.
-- @return the text
function nginx_server.render(template, vars)
  return (template:gsub("@(%u[%u_]*)@", function(name)
    local v = vars[name]
    if v == nil then error("no value for @" .. name .. "@ in the nginx template", 3) end
    return tostring(v)
  end))
end

local write = process.write_file

-- "" for a missing file: what nginx said is then just empty
local function read(path)
  return process.read_file(path) or ""
end

--- The start of a template written in a spec: the lines that load the Lua
-- module (the `main` context).
nginx_server.LUA_MODULES = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
]]

--- The first lines inside `http {` of a template written in a spec: no
-- access log, temp files in @PREFIX@/tmp, the checkout's Lua code and the
-- LuaJIT build of the C core.
nginx_server.HTTP_BASE = [[
  access_log off;
  client_body_temp_path @PREFIX@/tmp;
  proxy_temp_path @PREFIX@/tmp;
  fastcgi_temp_path @PREFIX@/tmp;
  uwsgi_temp_path @PREFIX@/tmp;
  scgi_temp_path @PREFIX@/tmp;
  lua_package_path "@ROOT@/lua/?.lua;@ROOT@/lua/?/init.lua;;";
  lua_package_cpath "@ROOT@/build/luajit/?.so;;";
]]

local Nginx = {}
Nginx.__index = Nginx

-- Starts nginx on the configuration written in `prefix`.  The master binds
-- its sockets before this command returns (requests then queue), so a 0
-- exit means it listens.  nginx keeps fd 3, the pipe returned, open in the
-- master and in every worker and never writes to it: it ends once they have
-- all exited (Nginx:stop waits for that).
-- @return the pipe, or nil and what nginx said
local function launch(prefix, env)
  local pipe = assert(io.popen(("%s nginx -e %s/error.log -p %s -c %s/nginx.conf 3>&1 >%s/start.log 2>&1;"
    .. " echo \"started $?\""):format(env, prefix, prefix, prefix, prefix)))
  if pipe:read("l") == "started 0" then return pipe end
  pipe:close()
  return nil, read(prefix .. "/start.log")
end

--- Starts nginx (daemonised, a master and its workers) from a template.
-- @tparam table opts
--   `conf`: the template's path;
--   `vars`: values for its other `@NAME@`s;
--   `env`: environment variables for nginx (`{ NAME = value }`);
--   `port`: false when the template listens on no TCP port (e.g. on a unix
--   socket in @PREFIX@); else a free one is picked, and picked again while
--   nginx finds it in use;
--   `ready`: a path to GET until nginx answers it (any status), before returning.
-- @return an object with `prefix`, `port`, `base` ("http://127.0.0.1:port"),
--   `get`, `file` and `stop`
function nginx_server.start(opts)
  local template = read(opts.conf)
  assert(template ~= "", "no nginx template at " .. opts.conf)
  local prefix = process.temp_dir("nginx")
  assert(os.execute("mkdir " .. prefix .. "/tmp"))
  local _, root = sh("pwd")
  local _, user = sh("id -un")
  local _, group = sh("id -gn")
  -- a value may name the prefix, which exists only now
  local function expand(v)
    return type(v) == "string" and (v:gsub("@PREFIX@", function() return prefix end)) or v
  end
  local vars = { PREFIX = prefix, ROOT = root, USER = user .. " " .. group }
  for k, v in pairs(opts.vars or {}) do vars[k] = expand(v) end
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. quote(expand(v)) end
  env = table.concat(env, " ")
  local pipe, why, port
  for _ = 1, opts.port == false and 1 or 10 do
    if opts.port ~= false then
      -- nginx cannot listen on port 0 and say which port it got
      port = process.random_port()
      vars.PORT = port
    end
    write(prefix .. "/nginx.conf", nginx_server.render(template, vars))
    pipe, why = launch(prefix, env)
    -- another process holds the port: take another one
    if pipe or opts.port == false or not why:find("Address already in use", 1, true) then break end
  end
  if not pipe then
    why = why .. read(prefix .. "/error.log")
    os.execute("rm -rf " .. prefix)
    error(why:find("Address already in use", 1, true) and "no free port for nginx after 10 tries"
      or ("nginx did not start:\n" .. why), 2)
  end
  local self = setmetatable({ prefix = prefix, port = port, pipe = pipe, http = core.http_new() }, Nginx)
  self.base = port and ("http://127.0.0.1:" .. port)
  if opts.ready then
    -- bounded: nginx answers within milliseconds of binding
    for _ = 1, 200 do
      if self.http:perform { method = "GET", url = self.base .. opts.ready, timeout = 1 } then return self end
      core.sleep(0.01)
    end
    self:stop()
    error("nginx did not answer on " .. self.base .. opts.ready, 2)
  end
  return self
end

--- GETs `path` from nginx.
-- @return the status, and the body: decoded when it is a 200 JSON answer
function Nginx:get(path, timeout)
  local res = assert(self.http:perform { method = "GET", url = self.base .. path, timeout = timeout or 10 })
  local is_json = (res.headers["content-type"] or ""):find("json", 1, true)
  return res.status, is_json and res.status == 200 and assert(json.decode(res.body)) or res.body
end

--- The text of a file in nginx's prefix ("" when there is none).
function Nginx:file(name)
  return read(self.prefix .. "/" .. name)
end

--- Stops nginx, waits until all its processes have exited, and removes its
-- prefix.  nginx's error log is printed when it holds errors, unless `quiet`
-- (the test provoked them).
function Nginx:stop(quiet)
  self.http:close()
  local ok, out = sh(("nginx -e %s/error.log -p %s -c %s/nginx.conf -s stop"):format(self.prefix, self.prefix,
    self.prefix))
  assert(ok, "nginx -s stop failed: " .. out)
  self.pipe:read("a")
  self.pipe:close()
  local log = self:file("error.log")
  if not quiet and (log:find("%[error%]") or log:find("%[alert%]") or log:find("%[emerg%]")) then
    print("nginx error.log:\n" .. log)
  end
  os.execute("rm -rf " .. self.prefix)
end

return nginx_server
