-- The client: the C core and the Lua layer, nothing else.  The fake server
-- and the test kit are the voucherify-lua-fake rock (voucherify-lua-fake-0.1.0-1.rockspec).
-- Offline install from a checkout (Debian packages provide libcurl):
--   luarocks --lua-version=5.4 make --deps-mode=none CURL_INCDIR=/usr/include/x86_64-linux-gnu \
--     voucherify-lua-0.1.0-1.rockspec
-- or with the project's config, which sets the same things:
--   LUAROCKS_CONFIG=luarocks/config-5.4.lua luarocks --lua-version=5.4 make voucherify-lua-0.1.0-1.rockspec
-- The Lua layer is lua/ whole: LuaRocks' builtin backend copies a lua/
-- directory into the rock by itself, so build.modules lists only the C core
-- (`make check-rock` checks that every module of the checkout is installed).
rockspec_format = "3.0"
package = "voucherify-lua"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/voucherify-lua/voucherify-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "Voucherify API client (orders, customers, async actions, exports) with a C core",
  detailed = [[
    voucherify-lua talks to the Voucherify promotions API. A C module does HTTP
    with libcurl and converts JSON straight to Lua tables and back; a thin Lua
    layer gives client.orders and client.customers, structured errors, retries
    and pagination iterators. The offline fake Voucherify server and a test
    kit for your own specs are the voucherify-lua-fake rock.
  ]],
  license = "MIT",
  labels = { "voucherify", "api", "http", "json", "libcurl" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["voucherify.core"] = {
      sources = {
        "csrc/core.c", "csrc/clock.c", "csrc/files.c", "csrc/http.c", "csrc/json.c",
        "csrc/json_decode.c", "csrc/json_encode.c", "csrc/multi.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L" },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
  -- doc/: the reference manual (committed, `make docs`), opened by `luarocks doc voucherify-lua`;
  -- types/: LuaCATS annotations for lua-language-server (`make types`), in the rock's directory
  -- (`luarocks show --rock-dir voucherify-lua`).
  copy_directories = { "doc", "types" },
}
