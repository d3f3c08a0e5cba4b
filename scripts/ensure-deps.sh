#!/bin/sh
# Installs the Debian packages the build, the tests and the demo need, but only
# those that are missing (so a ready machine is not touched).
set -eu

# the test set; a caller may name others: PACKAGES="clang ..." sh ensure-deps.sh
PACKAGES=${PACKAGES:-"make gcc pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted
luarocks lua-check lua-cqueues lua-luaossl openssl ca-certificates nginx libnginx-mod-http-lua
libluajit2-5.1-dev curl redis-server lua-redis lua-socket"}

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "installing missing packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "need root (or sudo) to install:$missing" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
