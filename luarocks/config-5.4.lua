-- LuaRocks configuration for installing from a checkout on Debian, offline.
-- Use: LUAROCKS_CONFIG=luarocks/config-5.4.lua luarocks --lua-version=5.4 make ROCKSPEC [--tree DIR]
-- Debian's packages provide these; LuaRocks must not try to download them
-- (versions: `dpkg -s lua-cjson lua-cqueues lua-luaossl`).
rocks_provided = {
  ["lua-cjson"] = "2.1.0-1",
  ["cqueues"] = "20200726.54-0",
  ["luaossl"] = "20220711-0",
}
variables = {
  LUA_INCDIR = "/usr/include/lua5.4",
  -- libcurl's headers live in the multiarch include directory on Debian.
  CURL_INCDIR = "/usr/include/x86_64-linux-gnu",
  CURL_LIBDIR = "/usr/lib/x86_64-linux-gnu",
}
