#!/bin/sh
# Runs a command with the bundled fake server listening on a free port.
# The command sees VOUCHERIFY_BASE_URL, VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN.
# FAKE_SERVER_ARGS adds options to the server (e.g. "--latency 0.05 --rate-limit 400/1").
#   scripts/with-fake-server.sh lua5.4 examples/orders_demo.lua
set -eu
LUA=${LUA:-lua5.4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/ready"
# shellcheck disable=SC2086 # FAKE_SERVER_ARGS is a list of options
"$LUA" fakeserver/bin/voucherify-fake-server --port 0 --app-id demo-app --app-token demo-token \
  ${FAKE_SERVER_ARGS:-} >"$dir/ready" &
pid=$!
# the first line is printed once the server accepts connections; keep the
# pipe open afterwards so the server can still write to it
exec 3<"$dir/ready"
read -r line <&3
url=$(echo "$line" | sed -n 's/.*listening on \(http[^ ]*\).*/\1/p')
if [ -z "$url" ]; then
  echo "fake server did not start: $line" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi
status=0
VOUCHERIFY_BASE_URL=$url VOUCHERIFY_APP_ID=demo-app VOUCHERIFY_APP_TOKEN=demo-token \
  LUA_PATH="lua/?.lua;lua/?/init.lua;fakeserver/?.lua;;" LUA_CPATH="build/?.so;;" "$@" || status=$?
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
exec 3<&-
exit $status
