#!/bin/sh
# 60-check.sh - certificates of the `mailsec check` test domains, in
# $OUT/pki/demo (issued by 50-demo.sh's "mailsec demo issuing CA"):
#   mx1/mx2.v6good.test      the 100% domain's MX hosts (IPv4 and [::1])
#   mx1/mx2.setup.example    the MX hosts of the `mailsec setup` round trip
#                            (tests/check: the zone is built from setup's
#                            output for these keys)
# chain files NAME.chain.pem (leaf, issuer); DEMO_V6GOOD_* to $OUT/vars.
set -eu
D="$OUT/pki/demo"
cd "$D"
spki() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1; }
for h in mx1.v6good.test mx2.v6good.test mx1.setup.example mx2.setup.example; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$h.key" 2>/dev/null
  openssl req -new -key "$h.key" -subj "/CN=$h" -out "$h.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$h" > "$h.ext"
  openssl x509 -req -in "$h.csr" -CA issuer.pem -CAkey issuer.key \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$h.ext" -out "$h.pem" 2>/dev/null
  cat "$h.pem" issuer.pem > "$h.chain.pem"
  rm -f "$h.csr" "$h.ext"
done
{
  echo "DEMO_V6GOOD_MX1_311=$(spki mx1.v6good.test.key)"
  echo "DEMO_V6GOOD_MX2_311=$(spki mx2.v6good.test.key)"
} >> "$OUT/vars"
