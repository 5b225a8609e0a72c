#!/bin/sh
# 20-dane.sh - PKI for the libdane tests, in $OUT/pki/dane:
#   ee.pem/ee.key          mx1: a self-signed leaf, published as 3 1 1
#   root, ca1, ca2, ca3    a CA chain; ta-chain.pem = ta.pem + ca1 + ca2 + ca3
#   ta.pem/ta.key          mx2: leaf under ca3 <- ca2 <- ca1 <- root; 2 0 1 on ca1 (depth 3)
#   wrong.pem/wrong.key    mx3: serves this key while DNS publishes next.key's
#   next.key               the published (stable, next) key of mx3
# and appends DANE_* variables to $OUT/vars for the zone fragments.
set -eu
D="$OUT/pki/dane"
mkdir -p "$D"
cd "$D"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
spki311() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1; }
cert301() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
leaf_self() { # name, CN
  key "$1"
  openssl req -x509 -new -key "$1.key" -days 3650 -subj "/CN=$2" -out "$1.pem" \
    -addext "subjectAltName=DNS:$2" -addext "basicConstraints=CA:FALSE" 2>/dev/null
}
sign() { # name, CN, issuer, ca(0/1), san
  key "$1"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  if [ "$4" = 1 ]; then
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > "$1.ext"
  else
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$5" > "$1.ext"
  fi
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

leaf_self ee mx1.dane.example.test
key root
openssl req -x509 -new -key root.key -days 3650 -subj "/CN=libdane test root" -out root.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
sign ca1 "libdane CA 1" root 1
sign ca2 "libdane CA 2" ca1 1
sign ca3 "libdane CA 3" ca2 1
sign ta mx2.dane.example.test ca3 0 "DNS:mx2.dane.example.test"
cat ta.pem ca3.pem ca2.pem ca1.pem > ta-chain.pem
leaf_self wrong mx3.dane.example.test
key next

{
  echo "DANE_MX1_311=$(spki311 ee.key)"
  echo "DANE_MX2_201=$(cert301 ca1.pem)"
  echo "DANE_MX3_311=$(spki311 next.key)"
} >> "$OUT/vars"
