# Tamper with the signed TLSA rdata of _25._tcp.mx.tlsafail.policyd.test,
# keeping its RRSIG: the TLSA lookup is bogus.
set -eu
awk '$1=="_25._tcp.mx.tlsafail.policyd.test." && $4=="TLSA" {$NF="00" $NF} {print}' "$1" > "$1.tmp"
cmp -s "$1" "$1.tmp" && { echo "tamper failed" >&2; exit 1; }
mv "$1.tmp" "$1"
