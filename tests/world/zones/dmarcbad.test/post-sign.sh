# Change the signed authorisation record, keeping its RRSIG: bogus.
set -eu
awk '$1=="dmarcrep.test._report._dmarc.dmarcbad.test." && $4=="TXT" {$5="\"v=DMARC1;\""} {print}' "$1" > "$1.tmp"
grep -q 'v=DMARC1;' "$1.tmp" || { echo "tamper failed" >&2; exit 1; }
mv "$1.tmp" "$1"
