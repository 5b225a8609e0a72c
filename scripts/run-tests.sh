#!/bin/sh
# run-tests.sh [BUILDDIR] [meson test args...] - configure (once), build and
# run every test suite.  The README's test command.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
[ $# -gt 0 ] && shift
[ -f "$B/build.ninja" ] || meson setup "$B" >/dev/null
ninja -C "$B"
meson test -C "$B" --print-errorlogs "$@"
