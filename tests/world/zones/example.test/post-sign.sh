# Tamper with the signed A rdata of tampered.example.test, keeping its RRSIG.
set -eu
awk '$1=="tampered.example.test." && $4=="A" {$5="192.0.2.99"} {print}' "$1" > "$1.tmp"
grep -q '192.0.2.99' "$1.tmp" || { echo "tamper failed" >&2; exit 1; }
mv "$1.tmp" "$1"
