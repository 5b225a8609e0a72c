#!/bin/sh
# 50-demo.sh - PKI of the demo mail world (README main job, `mailsec check`
# findings tests), in $OUT/pki/demo:
#   ca.pem/ca.key            "mailsec demo root CA" (the --ca-file of the demo)
#   issuer.pem/issuer.key    "mailsec demo issuing CA", signed by the root
#   mx1.good.test            leaf (issuer) whose key is published as 3 1 1,
#                            next.key: the pre-generated next key, also published
#   mx2.good.test            leaf (issuer); TLSA 2 1 1 on the issuing CA
#   mta-sts.pem              HTTPS policy host for every demo domain (and
#                            v6good.test, setup.example: 60-check.sh)
#   mx.badtlsa.test          leaf (issuer); DNS publishes another key
#   mx1/mx2.stsgap.test      leaves (issuer)
#   mx.nostarttls.test       leaf (issuer), never used: the server has no STARTTLS
#   daneta/                  root2 -> inter1 -> inter2 -> mx.daneta.test;
#                            TLSA 2 1 1 on root2: two intermediates between
# chain files NAME.chain.pem hold what each server sends (leaf first).
# DEMO_* variables go to $OUT/vars for the zone fragments.
set -eu
D="$OUT/pki/demo"
mkdir -p "$D/daneta"
cd "$D"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
spki() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1; }
root() { # keyfile pemfile CN
  key "$1"
  openssl req -x509 -new -key "$1" -days 3650 -subj "/CN=$3" -out "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
issue() { # base CN issuer-base ca(0/1)
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  if [ "$4" = 1 ]; then
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > "$1.ext"
  else
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$2" > "$1.ext"
  fi
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

root ca.key ca.pem "mailsec demo root CA"
issue issuer "mailsec demo issuing CA" ca 1
for h in mx1.good.test mx2.good.test mx.badtlsa.test mx1.stsgap.test mx2.stsgap.test \
         mx.nostarttls.test mx.bogus.test; do
  issue "$h" "$h" issuer 0
  cat "$h.pem" issuer.pem > "$h.chain.pem"
done
# one policy-host certificate for every demo domain
key mta-sts.key
openssl req -new -key mta-sts.key -subj "/CN=mta-sts.good.test" -out mta-sts.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:mta-sts.good.test,DNS:mta-sts.stsgap.test,DNS:mta-sts.badtlsa.test,DNS:mta-sts.v6good.test,DNS:mta-sts.setup.example\n' > mta-sts.ext
openssl x509 -req -in mta-sts.csr -CA issuer.pem -CAkey issuer.key -set_serial 0x4d5453 \
  -days 3650 -extfile mta-sts.ext -out mta-sts.pem 2>/dev/null
cat mta-sts.pem issuer.pem > mta-sts.chain.pem
rm -f mta-sts.csr mta-sts.ext
key next.key
key other.key

# DANE-TA with two intermediates between the trust anchor and the leaf
cd daneta
root root2.key root2.pem "mailsec demo DANE-TA root"
issue inter1 "mailsec demo intermediate 1" root2 1
issue inter2 "mailsec demo intermediate 2" inter1 1
issue mx.daneta.test mx.daneta.test inter2 0
cat mx.daneta.test.pem inter2.pem inter1.pem root2.pem > mx.daneta.test.chain.pem
cd ..

{
  echo "DEMO_GOOD_MX1_311=$(spki mx1.good.test.key)"
  echo "DEMO_GOOD_MX1_NEXT_311=$(spki next.key)"
  echo "DEMO_ISSUER_211=$(spki issuer.key)"
  echo "DEMO_OTHER_311=$(spki other.key)"
  echo "DEMO_DANETA_211=$(spki daneta/root2.key)"
} >> "$OUT/vars"
