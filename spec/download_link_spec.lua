-- exports:download against a download host that lies or stalls: the link's
-- token never reaches an error in any form, and opts.timeout bounds the whole
-- download (the transfer too, not only the wait before it).
local voucherify = require "voucherify"
local raw_server = require "support.raw_server"
local core = require "voucherify.core"

-- the token as the link carries it (percent-encoded) and as a server may echo it
local TOKEN_IN_URL = "Ab%2Bcd%2Fef%3D%3Dxyz"
local TOKEN = "Ab+cd/ef==xyz"

-- every string inside v (keys too), walked to any depth
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do strings(k, out, seen) strings(x, out, seen) end
  end
  return out
end

local function done_export(url)
  return { id = "exp_1", object = "export", status = "DONE", result = { url = url } }
end

describe("exports:download from a hostile download host", function()
  local echo, stall

  setup(function()
    -- answers 403 echoing the decoded token in the body and in X-Request-Id
    echo = raw_server.start(([[
      return function(conn, ctx)
        local req = ctx.read_request(conn); ctx.record(req)
        local body = ctx.json.encode({ code = 403, message = "token %s expired", details = "%s",
          request_id = "%s", error = { message = "%s" } })
        conn:write(("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nX-Request-Id: %s\r\n"
          .. "Content-Length: %%d\r\n\r\n%%s"):format(#body, body))
        conn:flush()
      end
    ]]):format(TOKEN, TOKEN, TOKEN, TOKEN, TOKEN))
    -- reads the request, then answers only after 3 s
    stall = raw_server.start([[
      return function(conn, ctx)
        local req = ctx.read_request(conn); ctx.record(req)
        ctx.sleep(3)
        conn:write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\na,b\n")
        conn:flush()
      end
    ]])
  end)

  teardown(function()
    echo:stop()
    stall:stop()
  end)

  it("never shows the link's token, percent-encoded or decoded, in the error or the hook's info", function()
    local infos = {}
    local client = voucherify.new { app_id = "id", app_token = "app-token-secret", base_url = echo.url,
      on_response = function(info) infos[#infos + 1] = info end }
    local result, err = client.exports:download(done_export(echo.url .. "/dl?token=" .. TOKEN_IN_URL))
    assert.is_nil(result)
    assert.are.equal("api", err.kind)
    assert.are.equal(403, err.status)
    local texts = strings(err)
    texts[#texts + 1] = tostring(err)
    for _, s in ipairs(strings(infos)) do texts[#texts + 1] = s end
    for _, s in ipairs(texts) do
      assert.is_nil(s:find(TOKEN, 1, true), s)
      assert.is_nil(s:find(TOKEN_IN_URL, 1, true), s)
    end
    -- the server did get the link as it was
    assert.are.equal("/dl?token=" .. TOKEN_IN_URL, echo:requests()[1].target)
  end)

  for _, with_path in ipairs { false, true } do
    it(("opts.timeout bounds the transfer too%s"):format(with_path and ", with opts.path" or ""), function()
      local client = voucherify.new { app_id = "id", app_token = "app-token-secret", base_url = stall.url }
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir " .. dir))
      local started = core.monotime()
      local result, err = client.exports:download(done_export(stall.url .. "/dl?token=t0ken"),
        { timeout = 1, path = with_path and (dir .. "/out.csv") or nil })
      local elapsed = core.monotime() - started
      os.execute("rm -rf " .. dir)
      assert.is_nil(result)
      assert.are.equal("timeout", err.kind)
      assert.is_true(elapsed >= 0.8 and elapsed <= 1.2, ("took %.2f s"):format(elapsed))
    end)
  end
end)
