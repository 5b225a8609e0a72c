#!/bin/sh
# check-headers.sh INCDIR... - every public header compiles on its own as
# -std=c99 -pedantic -Werror C and as C++ (-std=c++11 -pedantic -Werror).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
incs=""
for d in "$@"; do incs="$incs -I$d"; done
pass=0 fail=0
for d in "$@"; do
  for h in "$d"/mailsec/*.h; do
    [ -e "$h" ] || continue
    name=mailsec/$(basename "$h")
    echo "header: $name"
    printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$name" "$name" > "$tmp/t.c"
    if ${CC:-cc} -std=c99 -pedantic -Werror -Wall -Wextra $incs -c "$tmp/t.c" -o "$tmp/t.o" 2> "$tmp/err"; then
      pass=$((pass+1))
    else
      fail=$((fail+1)); echo "C99: $name"; cat "$tmp/err"
    fi
    cp "$tmp/t.c" "$tmp/t.cc"
    if ${CXX:-c++} -std=c++11 -pedantic -Werror -Wall -Wextra $incs -c "$tmp/t.cc" -o "$tmp/t.o" 2> "$tmp/err"; then
      pass=$((pass+1))
    else
      fail=$((fail+1)); echo "C++: $name"; cat "$tmp/err"
    fi
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
