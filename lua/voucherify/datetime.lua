--- ISO 8601 date-times as the API writes them ("2024-05-24T13:43:09.024Z"),
-- to and from milliseconds since the epoch (UTC).  No os.time: it is local time.
-- @module voucherify.datetime

local compat = require "voucherify.compat"

local datetime = {}
local idiv = compat.idiv

-- days since 1970-01-01 of a civil date (Howard Hinnant's algorithm)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = idiv((y >= 0 and y or y - 399), 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = idiv((153 * mp + 2), 5) + d - 1
  local doe = yoe * 365 + idiv(yoe, 4) - idiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = idiv((z >= 0 and z or z - 146096), 146097)
  local doe = z - era * 146097
  local yoe = idiv(doe - idiv(doe, 1460) + idiv(doe, 36524) - idiv(doe, 146096), 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + idiv(yoe, 4) - idiv(yoe, 100))
  local mp = idiv((5 * doy + 2), 153)
  local d = doy - idiv((153 * mp + 2), 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

--- Parses "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]" (or a bare date) into epoch milliseconds.
-- @return integer milliseconds, or nil when `s` is not such a date-time
function datetime.parse(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 then return nil end
  local h, mi, sec, frac, zone = 0, 0, 0, "", "Z"
  if rest ~= "" then
    h, mi, sec, frac, zone = rest:match("^[T ](%d%d):(%d%d):(%d%d)%.?(%d*)(.*)$")
    if not h then return nil end
    h, mi, sec = tonumber(h), tonumber(mi), tonumber(sec)
    if h > 23 or mi > 59 or sec > 60 then return nil end
  end
  local offset = 0
  if zone ~= "Z" and zone ~= "" then
    local sign, oh, om = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60000
    if sign == "-" then offset = -offset end
  end
  local ms = 0
  if frac ~= "" then ms = tonumber((frac .. "00"):sub(1, 3)) end
  local days = days_from_civil(y, mo, d)
  return ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms - offset
end

-- RFC 9110 section 5.6.7: names are case-sensitive
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }
local DAY_NAMES = { Mon = true, Tue = true, Wed = true, Thu = true, Fri = true, Sat = true, Sun = true }
local LONG_DAY_NAMES = { Monday = true, Tuesday = true, Wednesday = true, Thursday = true, Friday = true,
  Saturday = true, Sunday = true }
local MONTH_DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function days_in_month(y, m)
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then return 29 end
  return MONTH_DAYS[m]
end

-- epoch seconds of a checked date and time-of-day (strings of digits), or nil
local function http_seconds(y, mon, d, h, mi, s)
  local m = MONTHS[mon]
  y, d, h, mi, s = tonumber(y), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  if not m or d < 1 or d > days_in_month(y, m) or h > 23 or mi > 59 or s > 60 then return nil end
  return ((days_from_civil(y, m, d) * 24 + h) * 60 + mi) * 60 + s
end

--- Parses an HTTP-date (RFC 9110 section 5.6.7) into epoch seconds: the
-- IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and the obsolete forms
-- "Sunday, 06-Nov-94 08:49:37 GMT" (rfc850: a two-digit year more than 50
-- years ahead of `now` is read as the century before) and
-- "Sun Nov  6 08:49:37 1994" (asctime).  Anything else is not a date.
-- @tparam string s
-- @tparam[opt] number now epoch seconds (default: os.time()), for rfc850 years
-- @return integer seconds, or nil
function datetime.http_date(s, now)
  if type(s) ~= "string" then return nil end
  local T = "(%d%d):(%d%d):(%d%d)"
  local wd, d, mon, y, h, mi, sec = s:match("^(%a%a%a), (%d%d) (%a%a%a) (%d%d%d%d) " .. T .. " GMT$")
  if wd then
    return DAY_NAMES[wd] and http_seconds(y, mon, d, h, mi, sec) or nil
  end
  wd, mon, d, h, mi, sec, y = s:match("^(%a%a%a) (%a%a%a) ([ %d]%d) " .. T .. " (%d%d%d%d)$")
  if wd then
    return DAY_NAMES[wd] and http_seconds(y, mon, (d:gsub(" ", "0")), h, mi, sec) or nil
  end
  wd, d, mon, y, h, mi, sec = s:match("^(%a+), (%d%d)%-(%a%a%a)%-(%d%d) " .. T .. " GMT$")
  if not (wd and LONG_DAY_NAMES[wd]) then return nil end
  -- the latest year ending in `y` that is not more than 50 years ahead of now
  now = now or os.time()
  local this_year, m, day = civil_from_days(idiv(now, 86400))
  local limit = days_from_civil(this_year + 50, m, day) * 86400 + now % 86400
  local full = idiv(this_year + 50, 100) * 100 + tonumber(y)
  local t = http_seconds(full, mon, d, h, mi, sec)
  if t and t > limit then t = http_seconds(full - 100, mon, d, h, mi, sec) end
  return t
end

--- Formats epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.fffZ".
function datetime.format(ms)
  ms = math.floor(ms)
  local days, rem = idiv(ms, 86400000), ms % 86400000
  local y, m, d = civil_from_days(days)
  local secs = idiv(rem, 1000)
  return ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"):format(y, m, d, idiv(secs, 3600), idiv(secs, 60) % 60,
    secs % 60, rem % 1000)
end

--- A date-time parameter as the API wants it: ISO 8601 strings pass through,
-- numbers (seconds since the epoch, fractions allowed) become ISO 8601 UTC.
-- @return the string, or nil when `v` is neither
function datetime.param(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return nil end
    return datetime.format(v * 1000)
  end
  if type(v) == "string" and datetime.parse(v) then return v end
  return nil
end

return datetime
