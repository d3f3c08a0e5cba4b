-- Error objects: what they say (tostring), what they keep from Voucherify's
-- error body, and how scrubbing treats what they carry.
local voucherify = require "voucherify"
local errors = require "voucherify.errors"
local fake_server = require "fake_server"

describe("error objects", function()
  local server, client
  fake_server.suite({ client = { max_retries = 0 } }, function(s, c) server, client = s, c end)

  describe("a FAILED async action or an export in ERROR", function()
    it("says what failed, not the poll's HTTP status", function()
      local job = assert(client.orders:import { { source_id = "f1" } })
      server:fail_job(job.async_action_id)
      local action, err = client.async_actions:wait(job, { interval = 0.01 })
      assert.is_nil(action)
      assert.are.equal("async", err.kind)
      assert.is_nil(err.status)
      assert.are.equal(("voucherify: async error: async action %s ended FAILED: %s"):format(job.async_action_id,
        err.action.result.message), tostring(err))
    end)

    it("takes the message from result.errors when result.message is missing", function()
      local job = assert(client.orders:import { { source_id = "f2" } })
      server:faults { { path = "/v1/async-actions/" .. job.async_action_id, status = 200,
        body = { id = job.async_action_id, object = "async_action", status = "FAILED",
          result = { errors = { { message = "Order source_id duplicated", key = "duplicate" } } } } } }
      local _, err = client.async_actions:wait(job, { interval = 0.01 })
      assert.are.equal(("voucherify: async error: async action %s ended FAILED: Order source_id duplicated")
        :format(job.async_action_id), tostring(err))
    end)

    it("an export in ERROR", function()
      local exp = assert(client.orders:export {})
      server:fail_job(exp.id)
      local done, err = client.exports:wait(exp, { interval = 0.01 })
      assert.is_nil(done)
      assert.is_nil(err.status)
      assert.truthy(tostring(err):find("^voucherify: async error: export " .. exp.id .. " ended ERROR"), tostring(err))
    end)

    it("a poll answered with something that is not an object is a decode error", function()
      local job = assert(client.orders:import { { source_id = "f3" } })
      for _, text in ipairs({ "42", '"DONE"', "true" }) do
        server:faults { { path = "/v1/async-actions/" .. job.async_action_id, status = 200, body = text,
          content_type = "application/json" } }
        local _, err = client.async_actions:wait(job, { interval = 0.01 })
        assert.are.equal("decode", err.kind)
      end
    end)
  end)

  describe("error.message (the text a user configured on a validation rule)", function()
    local body = { code = 400, key = "validation_failed", message = "Validation failed",
      details = "Order does not satisfy the rule", request_id = "v-1",
      error = { message = "Orders must be over 100 EUR" } }

    it("is kept as err.error and shown by tostring", function()
      server:faults { { status = 400, body = body } }
      local _, err = client.orders:get("x")
      assert.are.same({ message = "Orders must be over 100 EUR" }, err.error)
      assert.are.equal("Validation failed", err.message)
      assert.are.equal("Order does not satisfy the rule", err.details)
      local line = tostring(err)
      assert.truthy(line:find("Orders must be over 100 EUR", 1, true), line)
      assert.truthy(line:find("voucherify: api error 400 (validation_failed): Validation failed - Order does not"
        .. " satisfy the rule - error.message: Orders must be over 100 EUR [GET ", 1, true), line)
    end)

    it("becomes the message when the body has no message", function()
      server:faults { { status = 400, body = { code = 400, error = { message = "Only for VIPs" } } } }
      local _, err = client.orders:get("x")
      assert.are.equal("Only for VIPs", err.message)
      assert.are.equal("Only for VIPs", err.error.message)
      local line = tostring(err)
      assert.are.equal(1, select(2, line:gsub("Only for VIPs", "")), line)
    end)
  end)

  it("tostring stays one line without control bytes", function()
    server:faults { { status = 400, body = { message = "a\r\nb\0c\27[31md", details = "x\ty" } } }
    local _, err = client.orders:get("x")
    local line = tostring(err)
    assert.is_nil(line:find("%c"), line)
  end)
end)

describe("errors.new scrubbing", function()
  local SECRET = "s3cret-token-value"

  it("scrubs every string, nested tables and keys included", function()
    local err = errors.new({ kind = "api", message = "bad " .. SECRET, request_id = SECRET,
      details = { SECRET, nested = { [SECRET] = SECRET .. "!" } } }, { SECRET })
    assert.are.equal("bad [redacted]", err.message)
    assert.are.equal("[redacted]", err.request_id)
    assert.are.equal("[redacted]", err.details[1])
    assert.are.equal("[redacted]!", err.details.nested["[redacted]"])
  end)

  it("copies a table that holds a secret instead of changing it, and leaves clean tables alone", function()
    local action = { id = "aa_1", result = { message = "oops " .. SECRET },
      list = setmetatable({}, voucherify.array_mt) }
    local clean = { id = "exp_1" }
    local err = errors.new({ kind = "async", action = action, export = clean }, { SECRET })
    assert.are.equal("oops " .. SECRET, action.result.message)
    assert.are_not.equal(action, err.action)
    assert.are.equal("oops [redacted]", err.action.result.message)
    assert.are.equal(voucherify.array_mt, getmetatable(err.action.list))
    assert.are.equal(clean, err.export)
  end)

  it("survives a table that contains itself", function()
    local t = { note = SECRET }
    t.self = t
    local err = errors.new({ kind = "async", action = t }, { SECRET })
    assert.are.equal("[redacted]", err.action.note)
    assert.are.equal(err.action, err.action.self)
    assert.are.equal(SECRET, t.note)
  end)

  it("scrubs a secret whole when another secret is part of it, from both lists", function()
    local err = errors.new({ kind = "api", message = "x abcd1234efgh y" }, { "1234" }, { "abcd1234efgh" })
    assert.are.equal("x [redacted] y", err.message)
  end)

  it("scrubs a secret JSON-escaped or percent-encoded", function()
    local secret = 'tok/en+"x\\y'
    local err = errors.new({ kind = "api", body = '{"m":"tok/en+\\"x\\\\y"}',
      message = "see tok%2Fen%2B%22x%5Cy" }, { secret })
    assert.is_nil(err.body:find("tok", 1, true), err.body)
    assert.is_nil(err.message:find("tok", 1, true), err.message)
  end)

  it("scrubs a deeply nested body", function()
    local deep = { SECRET }
    for _ = 1, 1000 do deep = { deep } end
    local err = errors.new({ kind = "api", details = deep }, { SECRET })
    local t = err.details
    while type(t[1]) == "table" do t = t[1] end
    assert.are.equal("[redacted]", t[1])
  end)
end)

describe("errors.new scrubbing: every escaping a server may apply to a secret", function()
  -- a token with every kind of byte a token holds: letters, digits, / + =
  local SECRET = "Ab/9+x=Zq"
  local R = errors.REDACTED
  local function each_byte(fmt)
    return (SECRET:gsub(".", function(c) return fmt:format(c:byte()) end))
  end
  local forms = {
    { "'/' as '\\/' (PHP)", "Ab\\/9+x=Zq" },
    { "\\u00XX, lower-case hex", "Ab\\u002f9\\u002bx\\u003dZq" },
    { "\\u00XX, upper-case hex", "Ab\\u002F9\\u002Bx\\u003DZq" },
    { "letters as \\u00XX, mixed with '\\/'", "\\u0041\\u0062\\/9+x=\\u005a\\u0071" },
    { "every byte as \\u00XX", each_byte("\\u%04x") },
    { "every byte as \\u00XX, upper case", each_byte("\\u%04X") },
    { "percent-encoded, lower-case hex", "Ab%2f9%2bx%3dZq" },
    { "every byte percent-encoded", each_byte("%%%02X") },
    { "JSON escapes and percent-encoding mixed", "A\\u0062\\/9%2Bx\\u003d%5Aq" },
  }
  for _, case in ipairs(forms) do
    it(case[1] .. ": " .. case[2], function()
      local body = '{"echo":"' .. case[2] .. '","again":"' .. case[2] .. ' ' .. SECRET .. '","n":1}'
      local err = errors.new({ kind = "api", body = body, details = { note = "x " .. case[2] } }, { SECRET })
      assert.are.equal('{"echo":"' .. R .. '","again":"' .. R .. ' ' .. R .. '","n":1}', err.body)
      assert.are.equal("x " .. R, err.details.note)
    end)
  end

  it("keeps the escapes around the secret as they were (a surrogate pair, \\\\, \\\")", function()
    local before = '"\\ud83d\\ude00 \\\\ \\" caf\\u00e9 100% '
    local err = errors.new({ kind = "api", body = before .. "Ab\\/9+x=Zq" .. '\\n"' }, { SECRET })
    assert.are.equal(before .. R .. '\\n"', err.body)
  end)

  it("finds a non-ASCII secret written as \\u escapes", function()
    local err = errors.new({ kind = "api", body = '{"p":"p\\u00e4ss-w\\u00F6rd"}' }, { "p\195\164ss-w\195\182rd" })
    assert.are.equal('{"p":"' .. R .. '"}', err.body)
  end)

  local clean = {
    { "escapes without the secret", '{"path":"a\\/b","e":"caf\\u00e9","p":"100%","q":"%zz %4"}' },
    { "an escaped text one byte off the secret", "Ab\\/9+x=Zz Ab%2F9%2Bx%3DZ" },
    { "a broken escape", "Ab\\/9+x=Z\\u00" },
    { "an escaped backslash before the 'u'", "Ab/9+x=Z\\\\u0071" },
  }
  for _, case in ipairs(clean) do
    it("leaves alone " .. case[1], function()
      local err = errors.new({ kind = "api", body = case[2] }, { SECRET })
      assert.are.equal(case[2], err.body)
    end)
  end
end)

describe("errors.new scrubbing: a credential shorter than MIN_SECRET", function()
  -- scrubbed where it stands as a credential, not everywhere (it would mangle every text)
  local SHORT = "k9Z"
  local R = errors.REDACTED
  local scrubbed = {
    { "X-App-Token: k9Z\r\n", "X-App-Token: " .. R .. "\r\n" },
    { "x-app-token:k9Z", "x-app-token:" .. R },
    { "Authorization: Bearer k9Z", "Authorization: Bearer " .. R },
    { "bearer  k9Z.", "bearer  " .. R .. "." },
    { "Proxy-Authorization: Basic k9Z", "Proxy-Authorization: Basic " .. R },
    { "Authorization: k9Z", "Authorization: " .. R },
    { "/v1/x?token=k9Z&a=1", "/v1/x?token=" .. R .. "&a=1" },
    { '{"app_token":"k9Z"}', '{"app_token":"' .. R .. '"}' },
    { '{"access_token" : "k9Z", "n": 1}', '{"access_token" : "' .. R .. '", "n": 1}' },
    { '"{\\"app_token\\":\\"k9Z\\"}"', '"{\\"app_token\\":\\"' .. R .. '\\"}"' },
    { "X-App-Token: k%39Z", "X-App-Token: " .. R },
    { "password=k9Z", "password=" .. R },
    { "Passwd: k9Z", "Passwd: " .. R },
  }
  for _, case in ipairs(scrubbed) do
    it(("scrubs %q"):format(case[1]), function()
      local err = errors.new({ kind = "api", body = case[1] }, nil, { SHORT })
      assert.are.equal(case[2], err.body)
    end)
  end

  local left = {
    "k9Z in plain text",
    "token=k9Z2 (another, longer value)",
    "Bearer xk9Z",
    "X-App-Token: abc, k9Z later",
  }
  for _, text in ipairs(left) do
    it(("leaves %q alone"):format(text), function()
      assert.are.equal(text, errors.new({ kind = "api", body = text }, { SHORT }).body)
    end)
  end
end)

-- What errors.scrub (the on_response info; errors.new uses it too) finds and
-- leaves alone in one string, which query values errors.safe_url masks, and
-- that an error's one line keeps none of it.
local R = errors.REDACTED

-- a test name that stays one printable line
local function show(v)
  if type(v) ~= "string" then return tostring(v) end
  return '"' .. v:gsub("[%c\127-\255]", function(c) return ("\\%d"):format(c:byte()) end) .. '"'
end

describe("errors.scrub finds a secret", function()
  local TOKEN = "s3cret-Token_1.x~"
  local cases = {
    -- what, text, the client's secrets, more secrets, the text afterwards
    { "as is", "bad " .. TOKEN .. " here", { TOKEN }, nil, "bad " .. R .. " here" },
    { "every time it appears", TOKEN .. TOKEN .. " " .. TOKEN, { TOKEN }, nil, R .. R .. " " .. R },
    { "as the whole text", TOKEN, { TOKEN }, nil, R },
    { "in the second list only", "x " .. TOKEN, nil, { TOKEN }, "x " .. R },
    { "among several secrets", "a=abcd1 b=wxyz2", { "abcd1", "wxyz2" }, nil, "a=" .. R .. " b=" .. R },
    { "whose pattern characters are literal", "p=50%off.[x]", { "50%off.[x]" }, nil, "p=" .. R },
    { "of exactly MIN_SECRET bytes", "key abcd", { "abcd" }, nil, "key " .. R },
    { "next to control bytes", "\r\n" .. TOKEN .. "\0", { TOKEN }, nil, "\r\n" .. R .. "\0" },
  }
  for _, case in ipairs(cases) do
    it(("%s: %s -> %s"):format(case[1], show(case[2]), show(case[5])), function()
      local t = { text = case[2] }
      assert.are.equal(t, errors.scrub(t, case[3], case[4]))
      assert.are.equal(case[5], t.text)
    end)
  end
end)

describe("errors.scrub leaves alone", function()
  local cases = {
    -- what, text, the client's secrets, more secrets
    { "text without the secret", "nothing to see", { "s3cret-token" }, nil },
    { "the empty string as a secret", "abc", { "" }, nil },
    { "a pattern-like secret that only matches as a pattern", "t0kXn t0k..", { "t0k.n" }, nil },
    { "anything when there are no secrets", "s3cret-token", nil, nil },
    { "anything when both lists are empty", "s3cret-token", {}, {} },
  }
  for _, case in ipairs(cases) do
    it(("%s: %s"):format(case[1], show(case[2])), function()
      local t = { text = case[2] }
      errors.scrub(t, case[3], case[4])
      assert.are.equal(case[2], t.text)
    end)
  end

  it("fields that are not text", function()
    local t = { status = 401, ok = false, retry_after = 1.5 }
    errors.scrub(t, { "4011" })
    assert.are.same({ status = 401, ok = false, retry_after = 1.5 }, t)
  end)
end)

describe("errors.safe_url masks secret query values", function()
  local BASE = "https://download.voucherify.io/v1/exports/exp_1"
  local cases = {
    { BASE .. "?token=abc123", BASE .. "?token=" .. R },
    { BASE .. "?format=csv&token=abc123", BASE .. "?format=csv&token=" .. R },
    { BASE .. "?token=abc123&format=csv", BASE .. "?token=" .. R .. "&format=csv" },
    { BASE .. "?access_token=a&app_token=b", BASE .. "?access_token=" .. R .. "&app_token=" .. R },
    { BASE .. "?Token=abc&TOKEN=def", BASE .. "?Token=" .. R .. "&TOKEN=" .. R }, -- names in any case
    { BASE .. "?token=abc#part", BASE .. "?token=" .. R .. "#part" }, -- the fragment is not the value
    { BASE .. "?token=", BASE .. "?token=" }, -- nothing to mask
    { BASE .. "?tokens=abc&my_token=x", BASE .. "?tokens=abc&my_token=x" }, -- other names
    { BASE .. "?format=token", BASE .. "?format=token" },
    { BASE .. "/token=abc", BASE .. "/token=abc" }, -- a path, not a query
    { BASE, BASE },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(case[1]:sub(#BASE + 1), case[2]:sub(#BASE + 1)), function()
      assert.are.equal(case[2], errors.safe_url(case[1]))
    end)
  end

  it("passes what is not a string through", function()
    assert.is_nil(errors.safe_url(nil))
    assert.are.equal(42, errors.safe_url(42))
  end)
end)

describe("an error's one line", function()
  -- fields an error may carry, each holding the secret in a different way
  local SECRET = "tok/en+x"
  local cases = {
    { "message", { message = "bad " .. SECRET } },
    { "details", { details = "see tok%2Fen%2Bx" } },
    { "key", { key = SECRET } },
    { "request_id", { request_id = SECRET } },
    { "error.message", { error = { message = SECRET } } },
    { "url (a query value)", { method = "GET", url = "https://x/v1/orders?q=tok%2Fen%2Bx" } },
    { "url (a token parameter)", { method = "GET", url = "https://x/v1/exports/e?token=other-s3cret" } },
  }
  for _, case in ipairs(cases) do
    it("holds no secret from " .. case[1], function()
      local fields = { kind = "api", status = 400 }
      for k, v in pairs(case[2]) do fields[k] = v end
      local line = tostring(errors.new(fields, { SECRET }))
      for _, form in ipairs({ "en+x", "en%2Bx", "s3cret" }) do
        assert.is_nil(line:find(form, 1, true), line)
      end
      assert.truthy(line:find(R, 1, true), line)
    end)
  end
end)

describe("errors.new with texts over MAX_TEXT", function()

  it("keeps a placeholder instead of a huge body, at once, whatever it holds", function()
    local core = require "voucherify.core"
    local body = ("\\u0061%62"):rep(errors.MAX_TEXT // 4)
    local started = core.monotime()
    local err = errors.new({ kind = "api", body = body, message = "m", details = { deep = body } },
      { "abcd1234", "efgh5678", "ijkl9012" })
    assert.is_true(core.monotime() - started < 0.1)
    assert.are.equal(("[%d bytes not kept]"):format(#body), err.body)
    assert.are.equal(err.body, err.details.deep)
    assert.are.equal("m", err.message)
  end)

  it("keeps a body of MAX_TEXT bytes, scrubbed", function()
    local body = ("x"):rep(errors.MAX_TEXT - 8) .. "abcd1234"
    local err = errors.new({ kind = "api", body = body, message = "m" }, { "abcd1234" })
    assert.are.equal(("x"):rep(errors.MAX_TEXT - 8) .. errors.REDACTED, err.body)
  end)
end)
