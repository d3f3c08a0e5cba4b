--- multipart/form-data bodies built in Lua, for transports that do not have
-- libcurl's mime API (the nginx cosocket transport).  A `path` part is read
-- and sent in chunks, never whole.
-- @module voucherify.multipart

local files = require "voucherify.files"

local multipart = {}

multipart.CHUNK = 64 * 1024

local function quote(s)
  return (s:gsub('[\\"]', "\\%0"):gsub("[\r\n]", " "))
end

--- A boundary nobody can predict (96 random bits from the kernel), so data
-- cannot be crafted to contain it.  (math.random is not that: LuaJIT seeds it
-- the same way in every process.)
function multipart.boundary()
  local hex = files.random_hex(12)
  if not hex then
    local chars = {}
    for i = 1, 24 do chars[i] = string.char(math.random(97, 122)) end
    hex = table.concat(chars)
  end
  return "------------------------voucherify" .. hex
end

local function part_head(boundary, part)
  local lines = { "--" .. boundary,
    ('Content-Disposition: form-data; name="%s"%s'):format(quote(part.name),
      part.filename and ('; filename="%s"'):format(quote(part.filename)) or ""),
  }
  if part.type then lines[#lines + 1] = "Content-Type: " .. part.type end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

--- Plans the body: its total length and a function that sends it piece by piece.
-- @tparam table parts `{ name, filename, type, path | data }`
-- @tparam[opt] string boundary the multipart boundary (default: a new random one)
-- @return content_type, length, writer(send) -> true | nil, err; or nil, err
function multipart.plan(parts, boundary)
  boundary = boundary or multipart.boundary()
  local pieces, length = {}, 0
  for _, part in ipairs(parts) do
    local head = part_head(boundary, part)
    pieces[#pieces + 1] = head
    length = length + #head
    if part.path then
      -- stat, not open: a FIFO put there since the caller's check must not block
      -- the worker; and the size announced is the size sent (see write)
      local kind, size = files.kind(part.path)
      if kind ~= "file" then
        return nil, ("%s: %s"):format(part.path, kind and ("is not a regular file (" .. kind .. ")") or size)
      end
      pieces[#pieces + 1] = { path = part.path, size = size }
      length = length + size
    else
      pieces[#pieces + 1] = part.data
      length = length + #part.data
    end
    pieces[#pieces + 1] = "\r\n"
    length = length + 2
  end
  local tail = "--" .. boundary .. "--\r\n"
  pieces[#pieces + 1] = tail
  length = length + #tail
  local function write(send)
    for _, piece in ipairs(pieces) do
      if type(piece) == "string" then
        local ok, err = send(piece)
        if not ok then return nil, err end
      else
        local f, err = io.open(piece.path, "rb")
        if not f then return nil, err end
        -- exactly the announced size: a file that grew is cut, one that shrank fails
        local left = piece.size
        while left > 0 do
          local chunk = f:read(math.min(left, multipart.CHUNK))
          if not chunk then
            f:close()
            return nil, ("%s: shrank while being sent"):format(piece.path)
          end
          local ok, serr = send(chunk)
          if not ok then
            f:close()
            return nil, serr
          end
          left = left - #chunk
        end
        f:close()
      end
    end
    return true
  end
  return "multipart/form-data; boundary=" .. boundary, length, write
end

return multipart
