#!/bin/sh
# Runs examples/openresty against the bundled fake server: starts nginx with
# the example's config, asks it for an order, a summary and the health
# check, prints the answers and stops everything.
#   make openresty-example
set -eu
root=$(pwd)
prefix=$(mktemp -d)
mkdir -p "$prefix/tmp"
export root prefix
cleanup() {
  nginx -p "$prefix" -c "$prefix/nginx.conf" -s stop 2>/dev/null || true
  rm -rf "$prefix"
}
trap cleanup EXIT
# seed two orders, then start nginx against the fake server and query it
sh scripts/with-fake-server.sh sh -c '
  lua5.4 -e "
    local v = require \"voucherify\"
    local c = v.new { app_id = os.getenv(\"VOUCHERIFY_APP_ID\"), app_token = os.getenv(\"VOUCHERIFY_APP_TOKEN\"),
      base_url = os.getenv(\"VOUCHERIFY_BASE_URL\") }
    assert(c.orders:create { source_id = \"openresty-1\", status = \"PAID\", amount = 2500 })
    assert(c.orders:create { source_id = \"openresty-2\", status = \"CREATED\", amount = 900 })"
  # a random port below the ephemeral range; another one if something holds it
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d " ") % 10000))
    sed -e "s|@ROOT@|$root|g" -e "s|@CPATH@|$root/build/luajit/?.so|g" -e "s|@PREFIX@|$prefix|g" \
      -e "s|@PORT@|$port|g" -e "s|@USER@|$(id -un) $(id -gn)|g" examples/openresty/nginx.conf >"$prefix/nginx.conf"
    nginx -p "$prefix" -c "$prefix/nginx.conf" 2>"$prefix/start.log" && break
    grep -q "Address already in use" "$prefix/start.log" && [ "$try" -lt 10 ] || { cat "$prefix/start.log" >&2; exit 1; }
  done
  for path in /orders/openresty-1 /orders/missing-order /orders-summary /health; do
    printf "GET %s -> " "$path"
    curl -s "http://127.0.0.1:$port$path"
  done'
