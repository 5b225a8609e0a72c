#!/bin/sh
# quickstart.sh - on a fresh Debian 12 machine: install the dependencies,
# build everything and run the demo (the README's first command).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
sh scripts/demo.sh build
