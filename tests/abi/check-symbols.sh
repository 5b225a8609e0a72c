#!/bin/sh
# check-symbols.sh LIB.so MAP... - the dynamic symbols LIB defines must be
# exactly the globals its version scripts list: nothing leaks from common/
# or hidden helpers, and nothing listed is missing.
set -eu
lib=$1
shift
map="$*"
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | grep -v '^MAILSEC_' | sort -u)
# globals: the names between "global:" and "local:" (or the node's end)
want=$(for m in $map; do sed -n '/global:/,/local:\|}/p' "$m"; done | sed 's/global://; s/local:.*//; s/}.*//' | grep -oE '[A-Za-z_][A-Za-z0-9_]*;' | tr -d ';' | sort -u)
if [ "$got" != "$want" ]; then
  echo "exported symbols of $lib differ from $map:"
  echo "$got" > "${TMPDIR:-/tmp}/abi-got.$$"; echo "$want" > "${TMPDIR:-/tmp}/abi-want.$$"
  diff "${TMPDIR:-/tmp}/abi-want.$$" "${TMPDIR:-/tmp}/abi-got.$$" || true
  rm -f "${TMPDIR:-/tmp}/abi-got.$$" "${TMPDIR:-/tmp}/abi-want.$$"
  echo "0 passed, 1 failed"; exit 1
fi
echo "$(echo "$want" | wc -l) symbols match"
echo "1 passed, 0 failed"
