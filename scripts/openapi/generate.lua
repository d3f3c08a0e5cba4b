--- `make types`: generates, from the OpenAPI spec,
--   types/voucherify.lua          the library's API (LuaCATS, from library.lua.in)
--   types/voucherify_shapes.lua   the API's shapes (LuaCATS)
--   fakeserver/voucherify/fake/openapi_schemas.lua   the fake server's validation table
--
--   lua5.4 scripts/openapi/generate.lua [--spec PATH] [--out DIR]
--
-- DIR (default: the repository) is where the three files go; spec/types_spec.lua
-- generates into a temporary directory and compares.
-- @script generate

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local root = here .. "/../.."
package.path = here .. "/?.lua;" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath

local loader = require "loader"
local schemas = require "schemas"
local types = require "types"

local spec_path = root .. "/openapi/voucherify-orders-customers.json"
local out = root
local i = 1
while arg[i] do
  if arg[i] == "--spec" then spec_path = assert(arg[i + 1], "--spec needs a path")
  elseif arg[i] == "--out" then out = assert(arg[i + 1], "--out needs a directory")
  else error("unknown argument " .. arg[i] .. " (usage: generate.lua [--spec PATH] [--out DIR])") end
  i = i + 2
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  assert(os.execute(("mkdir -p '%s'"):format(path:match("^(.*)/[^/]*$"))))
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
  print("wrote " .. (path:sub(1, #root + 1) == root .. "/" and path:sub(#root + 2) or path))
end

local spec = loader.load(spec_path)
local shapes, gen = types.shapes(spec)
local library = types.library(spec, gen, read(here .. "/library.lua.in"))
write(out .. "/types/voucherify_shapes.lua", shapes)
write(out .. "/types/voucherify.lua", library)
write(out .. "/fakeserver/voucherify/fake/openapi_schemas.lua",
  schemas.source(spec, "voucherify-orders-customers.json"))
