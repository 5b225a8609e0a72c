#!/bin/sh
# check-abi-baseline.sh LIB.so BASELINE.abi HEADERDIR... - the ABI of LIB
# (its exported functions and every type they reach, from the DWARF of
# the build, limited to the public headers in HEADERDIR...) compared with
# the committed baseline by abidiff (Debian abigail-tools).  Added
# functions pass (new ABI is fine); a removed or changed function, a
# changed struct layout, enum or typedef fails with abidiff's report.
#
# An intended change: review the report, then refresh the baselines with
#   MS_ABI_UPDATE=1 meson test -C build --suite abi-baseline
# which rewrites tests/abi/baseline/*.abi from the build (commit them).
set -eu
lib=$1
base=$2
shift 2
hd=""
for d in "$@"; do hd="$hd --headers-dir $d"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# no paths, locations or build directories in the dump: it is committed
# shellcheck disable=SC2086
abidw --no-corpus-path --no-show-locs --no-comp-dir-path --no-elf-needed \
	--drop-private-types --drop-undefined-syms $hd --out-file "$tmp/now.abi" "$lib"
if [ "${MS_ABI_UPDATE:-0}" = 1 ]; then
	cp "$tmp/now.abi" "$base"
	echo "baseline written: $base"
	echo "1 passed, 0 failed"
	exit 0
fi
[ -f "$base" ] || { echo "no baseline $base (MS_ABI_UPDATE=1 writes it)"; echo "0 passed, 1 failed"; exit 1; }
set +e
abidiff --no-added-syms "$base" "$tmp/now.abi" >"$tmp/report" 2>&1
rc=$?
set -e
# abidiff's exit status is a bit mask: 1 error, 2 usage, 4 ABI change,
# 8 incompatible change
cat "$tmp/report"
if [ "$rc" -ne 0 ]; then
	echo "ABI of $(basename "$lib") differs from $(basename "$base") (abidiff status $rc)"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "1 passed, 0 failed"
