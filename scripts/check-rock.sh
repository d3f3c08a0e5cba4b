#!/bin/sh
# Installs the rock from this checkout into a temporary tree, offline, then
# requires voucherify from outside the repository with only that tree on the
# path, and makes a call to prove the C core loads and works.
set -eu
LUA=${LUA:-lua5.4}
root=$(pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
LUAROCKS_CONFIG="$root/luarocks/config-5.4.lua" luarocks --lua-version=5.4 make \
  --tree "$tree" "$root/voucherify-lua-0.1.0-1.rockspec" >"$tree/install.log" 2>&1 || {
  cat "$tree/install.log" >&2
  echo "check-rock: luarocks make failed" >&2
  exit 1
}
# every module of the checkout must be in the rock
missing=$(cd "$root" && find lua fakeserver -name '*.lua' | sed -e 's|^lua/||' -e 's|^fakeserver/||' |
  while read -r f; do [ -f "$tree/share/lua/5.4/$f" ] || echo "$f"; done)
if [ -n "$missing" ]; then
  echo "check-rock: the rockspec does not install: $missing" >&2
  exit 1
fi
cd "$tree"
TREE="$tree" LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua" \
LUA_CPATH="$tree/lib/lua/5.4/?.so" \
"$LUA" -e '
  local voucherify = require "voucherify"
  assert(package.searchpath("voucherify.core", package.cpath):find(os.getenv("TREE"), 1, true))
  local t = assert(voucherify.json.decode("{\"n\":[1,2]}"))
  assert(voucherify.json.encode(t.n) == "[1,2]")
  local c = voucherify.new{ app_id = "a", app_token = "b" }
  assert(c.orders and voucherify.VERSION == "0.1.0")
  assert(package.searchpath("voucherify.fake.server", package.path))
  print("check-rock: installed rock loads from " .. os.getenv("TREE"))
'
