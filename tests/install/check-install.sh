#!/bin/sh
# check-install.sh BUILDDIR CONSUMER.c - install the build into a temporary
# DESTDIR and build an outside program against it with pkg-config alone:
# for each library alone (its own module) and for all of them, linked
# dynamically (run with the installed .so.0) and statically (the
# installed .a archives, no libmailsec .so needed), and run every binary.
# Proves the headers, the .pc files (Requires, Requires.private,
# Libs.private) and both kinds of library are installed and right.
set -eu
build=$1
src=$2
meson=${MESON:-meson}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
"$meson" install -C "$build" --destdir "$root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; echo "0 passed, 1 failed"; exit 1; }
pc=$(find "$root" -name mailsec-dns.pc | head -n 1)
[ -n "$pc" ] || { echo "no mailsec-dns.pc installed"; echo "0 passed, 1 failed"; exit 1; }
pcdir=$(dirname "$pc")
# the .pc files name the real prefix; the sysroot maps it into DESTDIR
export PKG_CONFIG_PATH="$pcdir"
export PKG_CONFIG_SYSROOT_DIR="$root"
libdir=$(pkg-config --variable=libdir mailsec-dns)
case $libdir in "$root"*) ;; *) libdir=$root$libdir ;; esac

# module  macros
cases="mailsec-dns:-DWITH_DNS
mailsec-dane:-DWITH_DANE
mailsec-mtasts:-DWITH_MTASTS
mailsec-requiretls:-DWITH_RTLS
mailsec-spfdkim:-DWITH_SPFDKIM
mailsec-dns,mailsec-dane,mailsec-mtasts,mailsec-requiretls,mailsec-spfdkim:-DWITH_DNS,-DWITH_DANE,-DWITH_MTASTS,-DWITH_RTLS,-DWITH_SPFDKIM"
echo "$cases" | while IFS=: read -r mods defs; do
	m=$(echo "$mods" | tr , ' ')
	d=$(echo "$defs" | tr , ' ')
	tag=$(echo "$mods" | tr , +)
	# shared: the .so.0 from DESTDIR
	# shellcheck disable=SC2046,SC2086
	if $cc -std=c99 -Wall -Wextra -Werror $d -o "$tmp/dyn" "$src" \
		$(pkg-config --cflags --libs $m) 2>"$tmp/err"; then
		if readelf -d "$tmp/dyn" | grep -q 'NEEDED.*libmailsec-.*\.so\.0' &&
		   LD_LIBRARY_PATH="$libdir" "$tmp/dyn" >"$tmp/out" 2>&1; then
			echo "ok: shared $tag"
		else
			echo "FAIL: shared $tag runs"; cat "$tmp/out"; echo x >>"$tmp/failed"
		fi
	else
		echo "FAIL: shared $tag builds"; cat "$tmp/err"; echo x >>"$tmp/failed"
	fi
	# static: our archives by path, in the order pkg-config --static gives
	# them, and the system libraries they name in Requires and
	# Requires.private (linked shared: their own static archives are not
	# installed on Debian) plus our Libs.private
	libs=""
	for f in $(pkg-config --static --libs-only-l $m); do
		case $f in -lmailsec-*) libs="$libs $libdir/lib${f#-l}.a" ;; esac
	done
	others=""
	todo=$m
	seen=""
	while [ -n "$todo" ]; do
		next=""
		for mod in $todo; do
			case " $seen " in *" $mod "*) continue ;; esac
			seen="$seen $mod"
			case $mod in mailsec-*) ;; *) others="$others $mod"; continue ;; esac
			for r in $( (pkg-config --print-requires "$mod"; pkg-config --print-requires-private "$mod") |
				    awk '{print $1}'); do
				next="$next $r"
			done
		done
		todo=$next
	done
	# shellcheck disable=SC2086
	libs="$libs $(pkg-config --libs $others) $(pkg-config --static --libs-only-other $m)"
	# shellcheck disable=SC2046,SC2086
	if $cc -std=c99 -Wall -Wextra -Werror $d -o "$tmp/static" "$src" \
		$(pkg-config --cflags $m) $libs 2>"$tmp/err"; then
		if ! readelf -d "$tmp/static" | grep -q 'NEEDED.*libmailsec' &&
		   "$tmp/static" >"$tmp/out" 2>&1; then
			echo "ok: static $tag"
		else
			echo "FAIL: static $tag runs without libmailsec .so"; cat "$tmp/out"
			echo x >>"$tmp/failed"
		fi
	else
		echo "FAIL: static $tag links"; cat "$tmp/err"; echo x >>"$tmp/failed"
	fi
done
total=12
failed=0
[ -f "$tmp/failed" ] && failed=$(wc -l <"$tmp/failed")
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
