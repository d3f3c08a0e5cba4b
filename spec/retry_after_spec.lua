-- Retry-After as RFC 9110 section 10.2.3 defines it: delay-seconds
-- (1*DIGIT) or an HTTP-date (IMF-fixdate, or the obsolete rfc850 and asctime
-- forms); anything else is ignored.  X-Rate-Limit-Retry (epoch seconds) is
-- held to the same strictness: digits only.
local core = require "voucherify.core"
local voucherify = require "voucherify"
local datetime = require "voucherify.datetime"
local response = require "voucherify.response"
local fake_server = require "fake_server"

-- Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date
local NOW = 784111777

local function at(iso) return datetime.parse(iso) // 1000 end

-- a test name that stays one printable line
local function show(v)
  return '"' .. v:gsub("[%c\127-\255]", function(c) return ("\\%d"):format(c:byte()) end) .. '"'
end

describe("Retry-After", function()
  local cases = {
    -- value, seconds (nil: ignored)
    { "30", 30 }, { "0", 0 }, { "0030", 30 }, { " 30 ", 30 }, { "\t7", 7 },
    { "86400", 86400 },
    { "0x1E", nil }, { "1e1", nil }, { "30.5", nil }, { "-5", nil }, { "+5", nil },
    { "", nil }, { "30s", nil }, { "3 0", nil }, { "inf", nil }, { "nan", nil },
    { "thirty", nil }, { "\0" .. "30", nil }, { "30\r\n", nil },
    -- IMF-fixdate
    { "Sun, 06 Nov 1994 08:50:07 GMT", 30 },
    { "Sun, 06 Nov 1994 08:49:37 GMT", 0 },
    { "Sat, 05 Nov 1994 08:49:37 GMT", 0 }, -- in the past: retry at once
    { "Mon, 07 Nov 1994 08:49:37 GMT", 86400 },
    { "Thu, 29 Feb 1996 00:00:00 GMT", at("1996-02-29T00:00:00Z") - NOW },
    { "Fri, 31 Dec 1999 23:59:60 GMT", at("2000-01-01T00:00:00Z") - NOW }, -- a leap second
    { "Sun, 06 Nov 1994 08:50:07 UTC", nil },
    { "sun, 06 nov 1994 08:50:07 GMT", nil }, -- names are case-sensitive
    { "Sun, 06 Nov 1994 08:50:07 gmt", nil },
    { "Sun, 6 Nov 1994 08:50:07 GMT", nil },
    { "Sun, 06 Nov 94 08:50:07 GMT", nil },
    { "Sun,06 Nov 1994 08:50:07 GMT", nil },
    { "Sun, 06 Nov 1994 08:50:07 GMT x", nil },
    { "Sun, 06 Nov 1994 8:50:07 GMT", nil },
    { "Sun, 06 Nov 1994 24:00:00 GMT", nil },
    { "Sun, 06 Nov 1994 08:60:00 GMT", nil },
    { "Sun, 06 Nov 1994 08:50:61 GMT", nil },
    { "Sun, 31 Nov 1994 08:50:07 GMT", nil },
    { "Sun, 00 Nov 1994 08:50:07 GMT", nil },
    { "Tue, 29 Feb 2100 00:00:00 GMT", nil }, -- 2100 is not a leap year
    { "Xyz, 06 Nov 1994 08:50:07 GMT", nil },
    { "Sun, 06 Noo 1994 08:50:07 GMT", nil },
    { "Sunday, 06 Nov 1994 08:50:07 GMT", nil },
    { "1994-11-06T08:50:07Z", nil },
    -- rfc850-date (obsolete): two-digit year, full day name
    { "Sunday, 06-Nov-94 08:50:07 GMT", 30 },
    { "Sun, 06-Nov-94 08:50:07 GMT", nil },
    { "Sunday, 06-Nov-1994 08:50:07 GMT", nil },
    { "Sunday, 06 Nov 94 08:50:07 GMT", nil },
    -- asctime-date (obsolete): day padded with a space or a zero
    { "Sun Nov  6 08:50:07 1994", 30 },
    { "Sun Nov 06 08:50:07 1994", 30 },
    { "Sun Nov 6 08:50:07 1994", nil },
    { "Sun Nov  6 08:50:07 1994 GMT", nil },
    { "Sun Nov  6 08:50:07 94", nil },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(show(case[1]), tostring(case[2])), function()
      assert.are.equal(case[2], response.retry_after({ ["retry-after"] = case[1] }, NOW))
    end)
  end

  it("reads a two-digit rfc850 year as at most 50 years ahead (RFC 9110 section 5.6.7)", function()
    local now = at("2025-06-15T00:00:00Z")
    local function after(v) return response.retry_after({ ["retry-after"] = v }, now) end
    assert.are.equal(at("2074-01-01T00:00:00Z") - now, after("Monday, 01-Jan-74 00:00:00 GMT"))
    assert.are.equal(0, after("Thursday, 01-Jan-76 00:00:00 GMT")) -- 1976, not 2076
    assert.are.equal(0, after("Monday, 01-Dec-75 00:00:00 GMT")) -- 2075-12 is over 50 years ahead: 1975
    assert.are.equal(at("2075-06-01T00:00:00Z") - now, after("Saturday, 01-Jun-75 00:00:00 GMT"))
    assert.are.equal(0, after("Friday, 01-Jan-99 00:00:00 GMT")) -- 1999
    assert.are.equal(at("2025-06-16T00:00:00Z") - now, after("Monday, 16-Jun-25 00:00:00 GMT"))
  end)

  local rate_cases = {
    { tostring(NOW + 30), 30 }, { tostring(NOW - 5), 0 },
    { "0x2EBC2E3F", nil }, { tostring(NOW + 30) .. ".5", nil }, { "1e9", nil }, { "-1", nil },
    { "Sun, 06 Nov 1994 08:50:07 GMT", nil },
  }
  for _, case in ipairs(rate_cases) do
    it(("X-Rate-Limit-Retry %s -> %s"):format(show(case[1]), tostring(case[2])), function()
      assert.are.equal(case[2], response.retry_after({ ["x-rate-limit-retry"] = case[1] }, NOW))
    end)
  end

  it("takes Retry-After first, and X-Rate-Limit-Retry when Retry-After is not valid", function()
    assert.are.equal(5, response.retry_after({ ["retry-after"] = "5", ["x-rate-limit-retry"] = tostring(NOW + 9) },
      NOW))
    assert.are.equal(9, response.retry_after({ ["retry-after"] = "0x5", ["x-rate-limit-retry"] = tostring(NOW + 9) },
      NOW))
    assert.is_nil(response.retry_after({}, NOW))
  end)

  describe("against the fake server", function()
    local server

    fake_server.suite(function(s) server = s end)

    local function timed(c)
      local t0 = core.monotime()
      local list, err, res = c.orders:list()
      return core.monotime() - t0, list, err, res
    end

    it("ignores a hexadecimal Retry-After (backs off instead of waiting 30 s)", function()
      local c = voucherify.new(server:client_options { max_retry_delay = 2 })
      server:faults { { status = 429, headers = { ["Retry-After"] = "0x1E" } } }
      local took, list, err, res = timed(c)
      c:close()
      assert.is_nil(err)
      assert.are.equal("list", list.object)
      assert.are.equal(2, res.attempts)
      assert.is_true(took < 1, "took " .. took)
    end)

    it("waits until a Retry-After HTTP-date", function()
      local c = voucherify.new(server:client_options { max_retry_delay = 5 })
      local when = os.time() + 2
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", when)
      server:faults { { status = 429, headers = { ["Retry-After"] = date } } }
      local took, list, err, res = timed(c)
      c:close()
      assert.is_nil(err)
      assert.are.equal("list", list.object)
      assert.are.equal(2, res.attempts)
      -- one-second resolution: between 1 and 2 s from now
      assert.is_true(took >= 0.9 and took < 2.5, "took " .. took)
      assert.is_true(os.time() >= when - 1)
    end)

    it("returns a far Retry-After HTTP-date as retry_after without waiting", function()
      local c = voucherify.new(server:client_options { max_retry_delay = 5 })
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 120)
      server:faults { { status = 429, headers = { ["Retry-After"] = date } } }
      local took, list, err = timed(c)
      c:close()
      assert.is_nil(list)
      assert.are.equal(429, err.status)
      assert.is_true(err.retry_after >= 118 and err.retry_after <= 120, tostring(err.retry_after))
      assert.are.equal(1, err.attempts)
      assert.is_true(took < 0.5, "took " .. took)
    end)
  end)
end)
