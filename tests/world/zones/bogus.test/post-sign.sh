# Point the signed MX record elsewhere, keeping its RRSIG: bogus.
set -eu
awk '$1=="bogus.test." && $4=="MX" {$6="evil.bogus.test."} {print}' "$1" > "$1.tmp"
grep -q 'evil.bogus.test' "$1.tmp" || { echo "tamper failed" >&2; exit 1; }
mv "$1.tmp" "$1"
