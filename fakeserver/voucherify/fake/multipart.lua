--- multipart/form-data request bodies (RFC 7578).
-- @module voucherify.fake.multipart

local multipart = {}

local function header_param(value, name)
  return value:match(';%s*' .. name .. '="([^"]*)"') or value:match(';%s*' .. name .. '=([^;%s]+)')
end

--- Splits `body` into parts.
-- @return list of `{ name, filename, content_type, data }`, or nil and a reason
function multipart.parse(body, content_type)
  if not (content_type or ""):lower():find("^multipart/form%-data") then
    return nil, "Content-Type should be multipart/form-data"
  end
  local boundary = header_param(content_type, "boundary")
  if not boundary then return nil, "multipart boundary missing" end
  local delim = "--" .. boundary
  local parts = {}
  local pos = body:find(delim, 1, true)
  if not pos then return nil, "multipart body has no parts" end
  pos = pos + #delim
  while true do
    if body:sub(pos, pos + 1) == "--" then break end -- closing delimiter
    pos = pos + 2 -- CRLF after the delimiter
    local head_end = body:find("\r\n\r\n", pos, true)
    if not head_end then return nil, "multipart part without headers" end
    local headers = {}
    for line in body:sub(pos, head_end - 1):gmatch("[^\r\n]+") do
      local k, v = line:match("^([^:]+):%s*(.*)$")
      if k then headers[k:lower()] = v end
    end
    local next_delim = body:find("\r\n" .. delim, head_end + 4, true)
    if not next_delim then return nil, "multipart part not terminated" end
    local disposition = headers["content-disposition"] or ""
    parts[#parts + 1] = {
      name = header_param(disposition, "name"),
      filename = header_param(disposition, "filename"),
      content_type = headers["content-type"],
      data = body:sub(head_end + 4, next_delim - 1),
    }
    pos = next_delim + 2 + #delim
  end
  return parts
end

return multipart
