--- Error objects: what every failed call returns as its second value.
--
-- Fields: `kind` ("api", "timeout", "network", "decode", "async"), `status`,
-- Voucherify's `code`, `key`, `message`, `details`, `request_id`,
-- `resource_id`, `resource_type`, plus `retry_after`, `method`, `url`,
-- `body` and `attempts`.  `tostring(err)` is one line.  No credential is
-- ever stored in an error: URLs have secret query values masked and every
-- text is scrubbed of the client's secrets.
-- @module voucherify.errors

local errors = {}

local Error = { __name = "voucherify.error" }
Error.__index = Error

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

Error.__tostring = function(e)
  local parts = { "voucherify:", e.kind, "error" }
  if e.status then parts[#parts + 1] = tostring(e.status) end
  if e.key then parts[#parts + 1] = "(" .. tostring(e.key) .. ")" end
  local line = table.concat(parts, " ") .. ": " .. tostring(e.message)
  if e.details and e.details ~= e.message then line = line .. " - " .. tostring(e.details) end
  if e.method and e.url then line = line .. " [" .. e.method .. " " .. e.url .. "]" end
  if e.request_id then line = line .. " request_id=" .. tostring(e.request_id) end
  return one_line(line)
end

--- True for error objects made by this library.
function errors.is_error(v)
  return getmetatable(v) == Error
end

local SECRET_QUERY_KEYS = { token = true, access_token = true, app_token = true }

--- Masks the values of secret query parameters (e.g. a download `token`) in a URL.
function errors.safe_url(url)
  if type(url) ~= "string" then return url end
  return (url:gsub("([?&])([^=&#]+)=([^&#]*)", function(sep, k, v)
    if SECRET_QUERY_KEYS[k:lower()] and v ~= "" then return sep .. k .. "=[redacted]" end
  end))
end

local function scrub(s, secrets)
  if type(s) ~= "string" or not secrets then return s end
  for _, secret in ipairs(secrets) do
    if #secret >= 4 then
      local pos = 1
      while true do
        local i, j = s:find(secret, pos, true)
        if not i then break end
        s = s:sub(1, i - 1) .. "[redacted]" .. s:sub(j + 1)
        pos = i + 10
      end
    end
  end
  return s
end

local TEXT_FIELDS = { "message", "details", "body", "url", "key" }

--- Makes an error object from `fields`, scrubbing `secrets` (a list of strings).
function errors.new(fields, secrets)
  fields.url = errors.safe_url(fields.url)
  for _, name in ipairs(TEXT_FIELDS) do
    fields[name] = scrub(fields[name], secrets)
  end
  if fields.message == nil then fields.message = fields.kind .. " error" end
  return setmetatable(fields, Error)
end

return errors
