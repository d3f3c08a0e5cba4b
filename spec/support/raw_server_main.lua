--- The process behind spec/support/raw_server.lua: a loopback TCP server
-- whose every byte is scripted by a test, for servers that lie (wrong
-- lengths, CR in headers, connections closed after the request was read,
-- cursors that never advance).  Usage:
--   lua5.4 spec/support/raw_server_main.lua SCRIPT_FILE LOG_FILE
-- SCRIPT_FILE returns function(conn, ctx), run in its own coroutine for each
-- accepted connection.  Prints "listening on http://127.0.0.1:PORT pid PID".
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local cqueues = require "cqueues"
local socket = require "cqueues.socket"
local json = require "voucherify.json"

local script_file, log_file = arg[1], arg[2]
local handler = assert(dofile(script_file), "the script must return a function(conn, ctx)")
local log = assert(io.open(log_file, "ab"))

-- a test that dies must not leave this process behind
local MAX_LIFETIME = 600

local function read_line(conn)
  local line, err = conn:read("*l")
  if not line then return nil, err or "closed" end
  return (line:gsub("\r$", ""))
end

--- Reads one HTTP/1.1 request: Content-Length or chunked body.
local function read_request(conn)
  local line, err = read_line(conn)
  if line == "" then line, err = read_line(conn) end
  if not line then return nil, err end
  local method, target, version = line:match("^(%S+) (%S+) HTTP/(%d%.%d)$")
  if not method then return nil, "bad request line: " .. line end
  local headers, header_lines = {}, {}
  while true do
    local h
    h, err = read_line(conn)
    if not h then return nil, err end
    if h == "" then break end
    header_lines[#header_lines + 1] = h
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
  end
  local body = ""
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local parts = {}
    while true do
      local size_line = read_line(conn)
      local size = size_line and tonumber(size_line:match("^%x+"), 16)
      if not size then return nil, "bad chunk" end
      if size == 0 then
        repeat local t = read_line(conn) until t == nil or t == ""
        break
      end
      parts[#parts + 1] = conn:read(size)
      read_line(conn)
    end
    body = table.concat(parts)
  elseif tonumber(headers["content-length"]) and tonumber(headers["content-length"]) > 0 then
    body = conn:read(tonumber(headers["content-length"])) or ""
  end
  return { method = method, target = target, version = version, headers = headers,
    header_lines = header_lines, body = body }
end

local function record(entry)
  log:write(assert(json.encode(entry)), "\n")
  log:flush()
end

local state = {}
local cq = cqueues.new()
local server = socket.listen { host = "127.0.0.1", port = 0, reuseaddr = true }
assert(server:listen())
local _, _, port = server:localname()
local pid = assert(io.open("/proc/self/stat")):read("n")

local index = 0
cq:wrap(function()
  for conn in server:clients() do
    index = index + 1
    local ctx = { index = index, state = state, read_request = read_request, record = record,
      json = json, sleep = cqueues.sleep }
    cq:wrap(function()
      conn:setmode("bn", "bn")
      local ok, err = pcall(handler, conn, ctx)
      if not ok then io.stderr:write("raw_server handler: ", tostring(err), "\n") end
      pcall(conn.flush, conn)
      conn:close()
    end)
  end
end)
cq:wrap(function()
  cqueues.sleep(MAX_LIFETIME)
  os.exit(0)
end)

io.stdout:write(("listening on http://127.0.0.1:%d pid %d\n"):format(port, pid))
io.stdout:flush()
while true do
  local ok, err = cq:step()
  if not ok then io.stderr:write("raw_server: ", tostring(err), "\n") end
end
