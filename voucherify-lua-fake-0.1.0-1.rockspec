-- The fake Voucherify server (voucherify.fake.*), its command
-- voucherify-fake-server, and the test kit for your own specs
-- (`require "voucherify.testing"`).  Install the client rock first.
-- Offline from a checkout on Debian (lua-cqueues and lua-luaossl from apt):
--   LUAROCKS_CONFIG=luarocks/config-5.4.lua luarocks --lua-version=5.4 make voucherify-lua-0.1.0-1.rockspec
--   LUAROCKS_CONFIG=luarocks/config-5.4.lua luarocks --lua-version=5.4 make voucherify-lua-fake-0.1.0-1.rockspec
rockspec_format = "3.0"
package = "voucherify-lua-fake"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/voucherify-lua/voucherify-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "An offline fake Voucherify API server and a busted test kit for voucherify-lua users",
  detailed = [[
    voucherify-fake-server: an in-memory Voucherify API (orders, customers,
    async actions, exports) on cqueues, with scripted faults, latency, rate
    limits, a frozen clock and a log of the requests it received.
    voucherify.testing starts it on a free port from your specs (HTTP, or HTTPS
    with a test CA made on the spot) and drives it: client options that reach
    it, seed data, faults, limits, clock, requests, reset, stop.
  ]],
  license = "MIT",
  labels = { "voucherify", "testing", "fake", "busted" },
}
dependencies = {
  "lua >= 5.3",
  "voucherify-lua == 0.1.0",
  "cqueues",
  "luaossl",
}
build = {
  -- the Makefile's install-fake target copies fakeserver/voucherify/ whole
  -- (every module, whoever adds one) and the command; LuaRocks wraps the
  -- command so that it finds the modules in the rock tree
  type = "make",
  build_pass = false,
  install_target = "install-fake",
  install_variables = {
    INSTALL_LMOD = "$(LUADIR)",
    INSTALL_BIN = "$(BINDIR)",
  },
}
