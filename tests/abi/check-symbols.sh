#!/bin/sh
# check-symbols.sh LIB.so MAP - the dynamic symbols LIB defines must be
# exactly the globals its version script lists: nothing leaks from common/
# or hidden helpers, and nothing listed is missing.
set -eu
lib=$1 map=$2
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | grep -v '^MAILSEC_' | sort -u)
want=$(sed -n '/global:/,/local:/p' "$map" | grep -oE '[A-Za-z_][A-Za-z0-9_]*;' | tr -d ';' | sort -u)
if [ "$got" != "$want" ]; then
  echo "exported symbols of $lib differ from $map:"
  echo "$got" > "${TMPDIR:-/tmp}/abi-got.$$"; echo "$want" > "${TMPDIR:-/tmp}/abi-want.$$"
  diff "${TMPDIR:-/tmp}/abi-want.$$" "${TMPDIR:-/tmp}/abi-got.$$" || true
  rm -f "${TMPDIR:-/tmp}/abi-got.$$" "${TMPDIR:-/tmp}/abi-want.$$"
  echo "0 passed, 1 failed"; exit 1
fi
echo "$(echo "$want" | wc -l) symbols match"
echo "1 passed, 0 failed"
