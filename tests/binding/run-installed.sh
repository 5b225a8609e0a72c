#!/bin/sh
# run-installed.sh BUILDDIR SITE_DIR TEST.py WORLD - the Python package's
# tests against an installed prefix, never the source tree: `meson install`
# into a temporary DESTDIR, PYTHONPATH = the installed site directory, no
# MAILSEC_LIBDIR (the package finds the .so.0 in its own prefix), the
# working directory outside the source tree.  Starts the demo peers (the
# MTA-STS policy host on 127.0.1.10) for the MTA-STS part.
set -eu
build=$1 site=$2 test=$3 W=$4
meson=${MESON:-meson}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
root=$tmp/root
"$meson" install -C "$build" --destdir "$root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; echo "0 passed, 1 failed"; exit 1; }
[ -f "$root$site/mailsec/__init__.py" ] || {
	echo "the package is not installed at $site"; echo "0 passed, 1 failed"; exit 1; }
free_port() {
	/usr/bin/python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}
SMTP_PORT=$(free_port 127.0.1.1) HTTPS_PORT=$(free_port 127.0.1.10)
mkdir "$tmp/peers"
ln -s "$W/pki" "$tmp/peers/pki"
pid=$(sh "$SRC/tests/world/peers/start-peers.sh" "$tmp/peers" "$SMTP_PORT" "$HTTPS_PORT")
mkdir "$tmp/work"
cd "$tmp/work"
unset MAILSEC_LIBDIR
export PYTHONPATH="$root$site" MS_INSTALL_ROOT="$root" MS_HTTPS_PORT="$HTTPS_PORT" \
	MS_TEST_WORLD="$W" MS_TEST_TMP="$tmp/work" MSTEST_DIR="$SRC/tests/common"
"${PYTHON:-python3}" "$test"
