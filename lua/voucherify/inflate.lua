--- gzip/deflate decoding through zlib with the LuaJIT FFI, for the nginx
-- cosocket transport (libcurl decodes by itself).
-- @module voucherify.inflate

local ffi = require "ffi"

ffi.cdef [[
typedef struct voucherify_z_stream {
  const unsigned char *next_in; unsigned avail_in; unsigned long total_in;
  unsigned char *next_out; unsigned avail_out; unsigned long total_out;
  const char *msg; void *state; void *zalloc; void *zfree; void *opaque;
  int data_type; unsigned long adler; unsigned long reserved;
} voucherify_z_stream;
int inflateInit2_(voucherify_z_stream *strm, int windowBits, const char *version, int stream_size);
int inflate(voucherify_z_stream *strm, int flush);
int inflateEnd(voucherify_z_stream *strm);
const char *zlibVersion(void);
]]

local zlib = ffi.load("libz.so.1")

local inflate = {}

local CHUNK = 65536

--- Inflates a gzip or zlib stream.
-- @tparam string data the compressed bytes
-- @tparam integer max the largest result allowed (bytes)
-- @return the data, or nil and a reason
function inflate.decode(data, max)
  local stream = ffi.new("voucherify_z_stream")
  -- 15 + 32: either a gzip or a zlib header, detected
  if zlib.inflateInit2_(stream, 15 + 32, zlib.zlibVersion(), ffi.sizeof(stream)) ~= 0 then
    return nil, "zlib: inflateInit2 failed"
  end
  local out, parts, total = ffi.new("unsigned char[?]", CHUNK), {}, 0
  stream.next_in, stream.avail_in = data, #data
  while true do
    stream.next_out, stream.avail_out = out, CHUNK
    local rc = zlib.inflate(stream, 0)
    local produced = CHUNK - stream.avail_out
    total = total + produced
    if max and total > max then
      zlib.inflateEnd(stream)
      return nil, ("response body larger than the %d-byte limit"):format(max)
    end
    parts[#parts + 1] = ffi.string(out, produced)
    if rc == 1 then break end -- Z_STREAM_END
    if rc ~= 0 and not (rc == -5 and produced > 0) then
      zlib.inflateEnd(stream)
      return nil, "invalid compressed body (zlib " .. rc .. ")"
    end
    if stream.avail_in == 0 and produced == 0 then
      zlib.inflateEnd(stream)
      return nil, "truncated compressed body"
    end
  end
  zlib.inflateEnd(stream)
  return table.concat(parts)
end

return inflate
