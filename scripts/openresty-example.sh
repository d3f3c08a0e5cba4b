#!/bin/sh
# Runs examples/openresty: nginx with 4 workers, each with its own client,
# all taking their turns from one rate-limit budget in a shared dictionary.
# Creates two orders through it, asks for an order, a summary and the health
# check, then sends a burst of POST /orders at once and prints what came back
# and what the fake server counted (no 429: the workers stayed within the plan
# together).
#   make openresty-example
# Against a server already running, set VOUCHERIFY_BASE_URL, VOUCHERIFY_APP_ID,
# VOUCHERIFY_APP_TOKEN and VOUCHERIFY_RATE (its limit, "requests/seconds");
# otherwise the bundled fake server is started with a plan of 20 requests per
# second. OPENRESTY_BURST sets the burst's size (default 40).
set -eu
if [ -z "${VOUCHERIFY_BASE_URL:-}" ]; then
  # the fake server's grace (0.1 s, its most) covers a request a loaded machine holds back
  # between its turn and its arrival
  FAKE_SERVER_ARGS="--rate-limit 20/1 --rate-limit-grace 0.1" VOUCHERIFY_RATE=20/1 \
    exec sh scripts/with-fake-server.sh sh "$0"
fi
export VOUCHERIFY_RATE="${VOUCHERIFY_RATE:-20/1}"
burst=${OPENRESTY_BURST:-40}
root=$(pwd)
prefix=$(mktemp -d)
mkdir -p "$prefix/tmp"
cleanup() {
  nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -s stop 2>/dev/null || true
  rm -rf "$prefix"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# a random port below the ephemeral range; another one if something holds it
for try in 1 2 3 4 5 6 7 8 9 10; do
  port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d " ") % 10000))
  sed -e "s|@ROOT@|$root|g" -e "s|@CPATH@|$root/build/luajit/?.so|g" -e "s|@PREFIX@|$prefix|g" \
    -e "s|@PORT@|$port|g" -e "s|@USER@|$(id -un) $(id -gn)|g" examples/openresty/nginx.conf >"$prefix/nginx.conf"
  # nginx binds its sockets before it returns: requests sent from now on wait for a worker
  nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" 2>"$prefix/start.log" && break
  grep -q "Address already in use" "$prefix/start.log" && [ "$try" -lt 10 ] || { cat "$prefix/start.log" >&2; exit 1; }
done
base="http://127.0.0.1:$port"

post_order() {
  curl -sS -H "Content-Type: application/json" --data-binary "$1" "$base/orders"
}
printf "POST /orders -> "; post_order '{"source_id":"openresty-1","status":"PAID","amount":2500}'
printf "POST /orders -> "; post_order '{"source_id":"openresty-2","status":"CREATED","amount":900}'
printf "POST /orders (a list) -> "; post_order '[{"source_id":"openresty-3"}]'
for path in /orders/openresty-1 /orders/missing-order /orders-summary /health; do
  printf "GET %s -> " "$path"
  curl -sS "$base$path"
done

# the burst: every request on its own connection, all at once (curl --parallel)
i=1
while [ "$i" -le "$burst" ]; do
  [ "$i" -gt 1 ] && echo next
  printf 'silent\nshow-error\nurl = "%s/orders"\nheader = "Content-Type: application/json"\n' "$base"
  printf 'data-binary = "{\\"source_id\\":\\"burst-%03d\\",\\"status\\":\\"PAID\\",\\"amount\\":%d}"\n' "$i" "$((i * 100))"
  i=$((i + 1))
done >"$prefix/burst.curl"
started=$(date +%s.%N)
# (curl 7.88 draws its progress meter for -K with `next` even when silent: keep stderr aside)
curl -sS --parallel --parallel-immediate --parallel-max "$burst" -K "$prefix/burst.curl" >"$prefix/burst.out" \
  2>"$prefix/burst.err" || grep "^curl:" "$prefix/burst.err" >&2 || true
ended=$(date +%s.%N)
curl -sS "$VOUCHERIFY_BASE_URL/_fake/limits" >"$prefix/limits.json"
LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;;" LUA_CPATH="$root/build/?.so;;" \
  lua5.4 examples/openresty/burst_summary.lua "$prefix/limits.json" "$burst" "$started" "$ended" \
  <"$prefix/burst.out"
if grep -q "\[error\]\|\[alert\]\|\[emerg\]" "$prefix/error.log"; then
  echo "nginx error.log:" >&2
  cat "$prefix/error.log" >&2
  exit 1
fi
