-- voucherify.datetime on its own, no server: ISO 8601 date-times to and from
-- epoch milliseconds, date-time query parameters, and the HTTP-date forms
-- that spec/retry_after_spec.lua does not reach through Retry-After
-- (absolute values, dates before 1970 and after 2038, century leap years,
-- rfc850 years across a century).  Expected values come from GNU date.
local datetime = require "voucherify.datetime"

-- a test name that stays one printable line
local function show(v)
  if type(v) ~= "string" then return tostring(v) end
  return '"' .. v:gsub("[%c\127-\255]", function(c) return ("\\%d"):format(c:byte()) end) .. '"'
end

local DAY = 86400000

describe("datetime.parse", function()
  local cases = {
    -- input, epoch milliseconds (nil: not a date-time)
    { "2024-05-24T13:43:09.024Z", 1716558189024 },
    { "2024-05-24T13:43:09Z", 1716558189000 },
    { "2024-05-24T13:43:09", 1716558189000 }, -- no zone: UTC, not local time
    { "2024-05-24 13:43:09Z", 1716558189000 }, -- a space for the T
    { "2024-05-24", 1716508800000 }, -- a bare date is midnight UTC
    { "1970-01-01T00:00:00.000Z", 0 },
    { "1970-01-01", 0 },
    { "1969-12-31T23:59:59.999Z", -1 },
    { "1900-01-01T00:00:00Z", -2208988800000 },
    { "1600-03-01T00:00:00Z", -11670912000000 },
    { "9999-12-31T23:59:59.999Z", 253402300799999 },
    { "2000-02-29T00:00:00Z", 951782400000 }, -- 2000 is a leap year (divisible by 400)
    { "2100-03-01T00:00:00Z", 4107542400000 },
    { "2038-01-19T03:14:08Z", 2147483648000 }, -- past 32-bit seconds
    { "2016-12-31T23:59:60Z", 1483228800000 }, -- a leap second: the next midnight
    -- fractions: milliseconds, digits past the third cut, not rounded
    { "1970-01-01T00:00:00.5Z", 500 },
    { "1970-01-01T00:00:00.05Z", 50 },
    { "1970-01-01T00:00:00.123456Z", 123 },
    { "1970-01-01T00:00:00.9999Z", 999 },
    -- offsets: the instant, in UTC
    { "2024-05-24T15:43:09.024+02:00", 1716558189024 },
    { "2024-05-24T08:13:09.024-05:30", 1716558189024 },
    { "2024-05-24T15:43:09.024+0200", 1716558189024 },
    { "2024-05-24T13:43:09.024+00:00", 1716558189024 },
    { "1970-01-01T00:30:00+01:00", -1800000 },
    -- not date-times
    { "2024-13-01", nil }, { "2024-00-10", nil }, { "2024-01-32", nil }, { "2024-01-00", nil },
    { "24-05-24", nil }, { "2024-5-24", nil }, { "2024/05/24", nil }, { "20240524", nil },
    { "2024-05-24T24:00:00Z", nil }, { "2024-05-24T13:60:00Z", nil }, { "2024-05-24T13:43:61Z", nil },
    { "2024-05-24T13:43Z", nil }, { "2024-05-24T1:43:09Z", nil }, { "2024-05-24T", nil },
    { "2024-05-24x", nil }, { "2024-05-24T13:43:09 Z", nil }, { "2024-05-24T13:43:09z", nil },
    { "2024-05-24T13:43:09+2", nil }, { "2024-05-24T13:43:09+02:0", nil }, { "2024-05-24T13:43:09UTC", nil },
    { " 2024-05-24", nil }, { "2024-05-24T13:43:09Z\n", nil }, { "", nil },
    { "yesterday", nil }, { 1716558189, nil }, { true, nil },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(show(case[1]), tostring(case[2])), function()
      local ms = datetime.parse(case[1])
      assert.are.equal(case[2], ms)
      if ms then assert.are.equal("integer", math.type(ms)) end
    end)
  end

  it("nil -> nil", function()
    assert.is_nil(datetime.parse(nil))
  end)
end)

describe("datetime.format", function()
  local cases = {
    -- epoch milliseconds, text
    { 0, "1970-01-01T00:00:00.000Z" },
    { 1716558189024, "2024-05-24T13:43:09.024Z" },
    { -1, "1969-12-31T23:59:59.999Z" }, -- before 1970: floor, not truncation towards zero
    { -DAY, "1969-12-31T00:00:00.000Z" },
    { -2208988800000, "1900-01-01T00:00:00.000Z" },
    { 951782400000, "2000-02-29T00:00:00.000Z" },
    { 951782400000 - 1, "2000-02-28T23:59:59.999Z" },
    { 4107542400000 - DAY, "2100-02-28T00:00:00.000Z" }, -- 2100 has no 29 February
    { 1735689599999, "2024-12-31T23:59:59.999Z" },
    { 2147483648000, "2038-01-19T03:14:08.000Z" },
    { 253402300799999, "9999-12-31T23:59:59.999Z" },
    { 1.9, "1970-01-01T00:00:00.001Z" }, -- a fraction of a millisecond is dropped
    { -0.5, "1969-12-31T23:59:59.999Z" },
    { 59999, "1970-01-01T00:00:59.999Z" },
    { 3600000 * 23 + 60000 * 59, "1970-01-01T23:59:00.000Z" },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(tostring(case[1]), case[2]), function()
      assert.are.equal(case[2], datetime.format(case[1]))
    end)
  end

  -- parse(format(ms)) is ms: around month, year and century ends, both sides of 1970
  local instants = { 0, -1, 1, 951782400000, 951868800000 - 1, 4107542400000, -11670912000000,
    1716558189024, 253402300799999, -62135596800000 }
  for _, ms in ipairs(instants) do
    it(("round trip %d"):format(ms), function()
      assert.are.equal(ms, datetime.parse(datetime.format(ms)))
    end)
  end
end)

describe("datetime.param (a date-time query parameter)", function()
  local cases = {
    -- value, what is sent (nil: refused)
    { 0, "1970-01-01T00:00:00.000Z" },
    { 1716558189, "2024-05-24T13:43:09.000Z" }, -- numbers are seconds, not milliseconds
    { 1716558189.5, "2024-05-24T13:43:09.500Z" },
    { -1, "1969-12-31T23:59:59.000Z" },
    { "2024-05-24T13:43:09.024Z", "2024-05-24T13:43:09.024Z" }, -- strings pass as written
    { "2024-05-24T15:43:09+02:00", "2024-05-24T15:43:09+02:00" },
    { "2024-05-24", "2024-05-24" },
    { "24 May 2024", nil }, { "1716558189", nil }, { "", nil },
    { 0 / 0, nil }, { math.huge, nil }, { -math.huge, nil },
    { true, nil }, { {}, nil },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(show(case[1]), tostring(case[2])), function()
      assert.are.equal(case[2], datetime.param(case[1]))
    end)
  end
end)

describe("datetime.http_date", function()
  -- now for the rfc850 rows: 2060-01-01T00:00:00Z, so "50 years ahead" crosses a century
  local NOW_2060 = 2840140800
  local cases = {
    -- text, epoch seconds (nil: not an HTTP-date), now
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { "Wed, 31 Dec 1969 23:59:59 GMT", -1 },
    { "Mon, 01 Jan 1900 00:00:00 GMT", -2208988800 },
    { "Tue, 19 Jan 2038 03:14:08 GMT", 2147483648 },
    { "Fri, 31 Dec 9999 23:59:59 GMT", 253402300799 },
    { "Tue, 29 Feb 2000 00:00:00 GMT", 951782400 }, -- divisible by 400: a leap year
    { "Thu, 29 Feb 2001 00:00:00 GMT", nil },
    { "Wed, 28 Feb 2001 00:00:00 GMT", 983318400 },
    { "Mon, 31 Apr 2024 00:00:00 GMT", nil },
    { "Fri, 24 May 2024 13:43:09 GMT", 1716558189 },
    { "Fri May 24 13:43:09 2024", 1716558189 }, -- asctime, two-digit day
    { "Thu Jan  1 00:00:00 1970", 0 },
    { "Fri, 24 May 2024 13:43:09 +0000", nil },
    { "Fri, 24 May 2024 13:43:09", nil },
    { "Fri, 24 MAY 2024 13:43:09 GMT", nil },
    { "FRI, 24 May 2024 13:43:09 GMT", nil },
    { "Friday, 24 May 2024 13:43:09 GMT", nil },
    { "Friday, 24-May-24 13:43:09 GMT", 1716558189, NOW_2060 },
    -- rfc850 two-digit years: the latest such year at most 50 years after now
    { "Thursday, 01-Jan-05 00:00:00 GMT", 4260211200, NOW_2060 }, -- 2105: 45 years ahead
    { "Thursday, 01-Jan-15 00:00:00 GMT", 1420070400, NOW_2060 }, -- 2115 is too far: 2015
    { "Wednesday, 01-Jan-10 00:00:00 GMT", 4417977600, NOW_2060 }, -- 2110: exactly 50 years
    { "Wednesday, 31-Dec-59 00:00:00 GMT", 2840054400, NOW_2060 }, -- yesterday, not 2159
    { "Wednesday, 31-Dec-59 00:00:00 UTC", nil, NOW_2060 },
    { "", nil }, { 0, nil }, { false, nil },
  }
  for _, case in ipairs(cases) do
    it(("%s -> %s"):format(show(case[1]), tostring(case[2])), function()
      assert.are.equal(case[2], datetime.http_date(case[1], case[3] or NOW_2060))
    end)
  end
end)
