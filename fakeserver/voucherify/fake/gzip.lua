--- gzip (RFC 1952) without compression: "stored" deflate blocks and a
-- CRC-32.  Enough to send a Content-Encoding: gzip body that any client must
-- inflate, with no zlib binding.
-- @module voucherify.fake.gzip

local gzip = {}

local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = 0xEDB88320 ~ (c >> 1) else c = c >> 1 end
  end
  CRC_TABLE[i] = c
end

--- CRC-32 of `s` (the gzip/zlib polynomial).
function gzip.crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = CRC_TABLE[(c ~ s:byte(i)) & 0xFF] ~ (c >> 8)
  end
  return c ~ 0xFFFFFFFF
end

--- `s` wrapped as a gzip member.
function gzip.encode(s)
  local out = { "\31\139\8\0\0\0\0\0\0\255" } -- magic, deflate, no flags, no mtime, unknown OS
  local pos, n = 1, #s
  repeat
    local chunk = s:sub(pos, pos + 65534)
    pos = pos + #chunk
    local final = pos > n and 1 or 0
    out[#out + 1] = string.pack("<I1I2I2", final, #chunk, (~#chunk) & 0xFFFF) .. chunk
  until pos > n
  out[#out + 1] = string.pack("<I4I4", gzip.crc32(s), n & 0xFFFFFFFF)
  return table.concat(out)
end

return gzip
