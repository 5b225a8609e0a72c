#!/bin/sh
# 30-mtasts.sh - PKI for the libmtasts tests, in $OUT/pki/mtasts:
#   ca.pem/ca.key          the test CA the policy host chains to
#   other-ca.pem           an unrelated CA (the "untrusted CA" case)
#   policy.pem/policy.key  the HTTPS policy host: mta-sts.NAME for every
#                          policy test domain (not mta-sts.wrongname.test)
#   policy-clientauth.pem/.key  the same names, but EKU clientAuth only: no
#                          TLS server's certificate (the fetch must refuse it)
set -eu
D="$OUT/pki/mtasts"
mkdir -p "$D"
cd "$D"
ca() { # name, CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
ca ca "libmtasts test CA"
ca other-ca "libmtasts unrelated CA"
SANS=""
for n in example.test stsplain.example.test alias.stsplain.example.test \
         testing.stsplain.example.test none.stsplain.example.test lf.test redirect.test html.test \
         chunked.test slow.test notfound.test charset.test big.test invalid.test; do
  SANS="${SANS:+$SANS,}DNS:mta-sts.$n"
done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=mta-sts.example.test" -keyout policy.key -out policy.csr 2>/dev/null
printf "subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n" \
  "$SANS" > policy.ext
openssl x509 -req -in policy.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 825 -extfile policy.ext -out policy.pem 2>/dev/null
printf "subjectAltName=%s\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n" \
  "$SANS" > policy.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=mta-sts.example.test" -keyout policy-clientauth.key -out policy.csr 2>/dev/null
openssl x509 -req -in policy.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 825 -extfile policy.ext -out policy-clientauth.pem 2>/dev/null
rm -f policy.csr policy.ext ca.srl
