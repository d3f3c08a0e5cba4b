--- Test helper: the fake server's latency and rate limits, through its control
-- API (`/_fake/limits`), for a server started by spec/fake_server.lua.
--
--   local fake_limits = require "support.fake_limits"
--   fake_limits.set_limits(server, { latency = 0.05, rate_limit = { requests = 100, per = 1 } })
--   ... fake_limits.stats(server).too_many_requests.total ...
local json = require "voucherify.json"

local fake_limits = {}

--- Changes the settings given, keeping the others: `latency`, `jitter`,
-- `grace` (seconds); `rate_limit`, `bulk` (`{ requests = N, per = seconds }`)
-- and `cycle` (N, or `{ requests = N, per = seconds }`), `false` for off.
-- A budget given starts afresh; `server:reset()` goes back to the command line's.
-- @return the server's report (as `stats`)
function fake_limits.set_limits(server, t)
  local body = {}
  for k, v in pairs(t) do body[k] = v == false and json.null or v end
  return server:control("POST", "/_fake/limits", body)
end

--- The settings in force and the counts since start-up or the last reset:
-- `requests` (API requests read), `too_many_requests` (`total`, `api_calls`,
-- `bulk_api_calls`, `api_calls_cycle`: the 429s the limits sent, not scripted
-- faults'), `remaining` (by the same types, for the budgets in force),
-- `in_flight`, `peak_in_flight`, and `latency`, `jitter`, `grace`,
-- `rate_limit`, `bulk`, `cycle` (absent when off).
function fake_limits.stats(server)
  return server:control("GET", "/_fake/limits")
end

-- one answer read off `con`: status and lower-case headers (the body is drained)
local function read_answer(con)
  local status_line = con:read("*l")
  if not status_line then return { status = "no answer" } end
  local headers = {}
  while true do
    local line = assert(con:read("*l")):gsub("\r$", "")
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    headers[name:lower()] = value
  end
  con:read(tonumber(headers["content-length"] or 0))
  return { status = tonumber(status_line:match("^HTTP/1%.1 (%d%d%d)")), headers = headers }
end

--- Sends `n` requests (`GET path` with the app keys) at once, each on its own
-- connection, from coroutines of this process (cqueues sockets), and waits
-- for every answer.
-- @return the answers `{ status, headers }` in sending order, and the seconds taken
function fake_limits.concurrent(server, n, path)
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local opts = server:client_options()
  local host, port = server.url:match("^http://([^:/]+):(%d+)")
  local request = ("GET %s HTTP/1.1\r\nHost: %s:%s\r\nX-App-Id: %s\r\nX-App-Token: %s\r\n"
    .. "Connection: close\r\n\r\n"):format(path, host, port, opts.app_id, opts.app_token)
  local cq, answers = cqueues.new(), {}
  local started = cqueues.monotime()
  for i = 1, n do
    cq:wrap(function()
      local con = assert(socket.connect(host, tonumber(port)))
      con:setmode("b", "b")
      assert(con:write(request))
      assert(con:flush())
      answers[i] = read_answer(con)
      con:close()
    end)
  end
  assert(cq:loop(30))
  return answers, cqueues.monotime() - started
end

return fake_limits
