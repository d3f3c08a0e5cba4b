#!/bin/sh
# The offline install check of `make test` (target check-rock): installs both
# rocks from this checkout into a temporary tree, offline, then from outside
# the repository, with only that tree added to the paths:
#   - every module of the checkout is in one of the rocks, every C source is
#     built into the core, and the client rock holds nothing of the fake server;
#   - voucherify loads its C core from the tree and works;
#   - the test kit finds the tree's voucherify-fake-server, and a copy of
#     examples/test_my_code/ passes under busted against it.
set -eu
LUA=${LUA:-lua5.4}
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/tree
for spec in voucherify-lua-0.1.0-1.rockspec voucherify-lua-fake-0.1.0-1.rockspec; do
  LUAROCKS_CONFIG="$root/luarocks/config-5.4.lua" luarocks --lua-version=5.4 make \
    --tree "$tree" "$root/$spec" >"$work/install.log" 2>&1 || {
    cat "$work/install.log" >&2
    echo "check-rock: luarocks make $spec failed" >&2
    exit 1
  }
done
lmod=$tree/share/lua/5.4
# every module of the checkout must be in a rock
missing=$(cd "$root" && find lua fakeserver -name '*.lua' | sed -e 's|^lua/||' -e 's|^fakeserver/||' |
  while read -r f; do [ -f "$lmod/$f" ] || echo "$f"; done)
if [ -n "$missing" ]; then
  echo "check-rock: the rockspecs do not install: $missing" >&2
  exit 1
fi
# and every C source is built into the core
missing=$(cd "$root" && for f in csrc/*.c; do grep -q "\"$f\"" voucherify-lua-0.1.0-1.rockspec || echo "$f"; done)
if [ -n "$missing" ]; then
  echo "check-rock: voucherify-lua-0.1.0-1.rockspec does not build: $missing" >&2
  exit 1
fi
# the client rock is the client only
client_manifest=$tree/lib/luarocks/rocks-5.4/voucherify-lua/0.1.0-1/rock_manifest
# (its manual, doc/, has a page on the kit: only modules and commands count)
if grep -q -e 'fake =' -e '"testing.lua"' -e 'voucherify-fake-server' "$client_manifest"; then
  echo "check-rock: the voucherify-lua rock holds fake server files:" >&2
  grep -e 'fake =' -e '"testing.lua"' -e 'voucherify-fake-server' "$client_manifest" >&2
  exit 1
fi
# the reference manual and the editor types come with the client rock
if ! LUAROCKS_CONFIG="$root/luarocks/config-5.4.lua" luarocks --lua-version=5.4 --tree "$tree" \
    doc voucherify-lua --list --porcelain 2>/dev/null | grep -q '/doc/index\.html$'; then
  echo "check-rock: luarocks doc voucherify-lua does not reach doc/index.html" >&2
  exit 1
fi
rock_dir=$tree/lib/luarocks/rocks-5.4/voucherify-lua/0.1.0-1
for f in types/voucherify.lua types/voucherify_shapes.lua; do
  cmp -s "$root/$f" "$rock_dir/$f" || { echo "check-rock: the rock does not ship $f" >&2; exit 1; }
done
# outside the repository: the tree first, then the system's (busted, cqueues, luaossl)
cp -R "$root/examples/test_my_code" "$work/test_my_code"
cd "$work/test_my_code"
export LUA_PATH="$lmod/?.lua;$lmod/?/init.lua;;"
export LUA_CPATH="$tree/lib/lua/5.4/?.so;;"
export PATH="$tree/bin:$PATH"
unset VOUCHERIFY_FAKE_SERVER LUA_PATH_5_4 LUA_CPATH_5_4 LUA_INIT LUA_INIT_5_4
TREE=$tree "$LUA" -e '
  local tree = os.getenv("TREE")
  local voucherify = require "voucherify"
  assert(package.searchpath("voucherify.core", package.cpath):find(tree, 1, true))
  local t = assert(voucherify.json.decode("{\"n\":[1,2]}"))
  assert(voucherify.json.encode(t.n) == "[1,2]")
  local c = voucherify.new{ app_id = "a", app_token = "b" }
  assert(c.orders and voucherify.VERSION == "0.1.0")
  local testing = require "voucherify.testing"
  assert(package.searchpath("voucherify.testing", package.path):find(tree, 1, true))
  local argv = assert(testing.find_command())
  assert(argv[1] == tree .. "/bin/voucherify-fake-server", "the kit found " .. table.concat(argv, " "))
  -- the installed command finds its modules in the tree by itself (LuaRocks wraps it)
  local server = testing.start { command = { "env", "-u", "LUA_PATH", "-u", "LUA_CPATH", argv[1] } }
  assert(assert(server:client().orders:list()).object == "list")
  server:stop()
'
"$LUA" /usr/bin/busted -o TAP >"$work/busted.tap" 2>&1 || {
  cat "$work/busted.tap" >&2
  echo "check-rock: examples/test_my_code failed against the installed rocks" >&2
  exit 1
}
echo "check-rock: both rocks install offline; examples/test_my_code passes from $(grep -c '^ok' "$work/busted.tap") tests" \
  "outside the repository with only the tree"
