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
