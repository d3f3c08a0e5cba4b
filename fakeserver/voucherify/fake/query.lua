--- Validation of query parameters the way the API reports them (400 with
-- Voucherify's error body).
-- @module voucherify.fake.query

local api_error = require "voucherify.fake.api_error"

local query = {}

--- Last value of a parameter (the API takes the last one given).
function query.get(req, name)
  local value
  for _, pair in ipairs(req.query) do
    if pair[1] == name then value = pair[2] end
  end
  return value
end

--- An integer parameter within [min, max], or `default` when absent.
-- @return value, or nil, status, body
function query.integer(req, name, min, max, default)
  local raw = query.get(req, name)
  if raw == nil then return default end
  local n = math.tointeger(tonumber(raw))
  if not n then
    return nil, api_error.invalid_query(("Property .%s should be integer"):format(name))
  end
  if n < min then
    return nil, api_error.invalid_query(("Property .%s should be >= %d"):format(name, min))
  end
  if n > max then
    return nil, api_error.invalid_query(("Property .%s should be <= %d"):format(name, max))
  end
  return n
end

--- A parameter that must be one of `allowed`, or nil when absent.
-- @return value, or nil, status, body
function query.enum(req, name, allowed)
  local raw = query.get(req, name)
  if raw == nil then return nil end
  for _, v in ipairs(allowed) do
    if v == raw then return raw end
  end
  return nil, api_error.invalid_query(("Property .%s should be equal to one of the allowed values: %s")
    :format(name, table.concat(allowed, ", ")))
end

return query
