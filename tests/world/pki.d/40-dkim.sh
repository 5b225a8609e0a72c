#!/bin/sh
# 40-dkim.sh - DKIM keys for the libspfdkim DKIM tests, in $OUT/pki/dkim:
#   ed.pem   Ed25519 private key, published as ed._domainkey.<zone>
#   rsa.pem  RSA 2048 private key, published as rsa._domainkey.<zone>
# The public keys go to $OUT/vars: DKIM_ED_P (raw 32 bytes, RFC 8463) and
# DKIM_RSA_P1/DKIM_RSA_P2 (SubjectPublicKeyInfo split in two character-
# strings, which verifiers join: RFC 6376 s3.6.2.2).
set -eu
D="$OUT/pki/dkim"
mkdir -p "$D"
openssl genpkey -algorithm ed25519 -out "$D/ed.pem" 2>/dev/null
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$D/rsa.pem" 2>/dev/null
# The raw Ed25519 key is the last 32 bytes of its 44-byte SPKI.
ED=$(openssl pkey -in "$D/ed.pem" -pubout -outform DER 2>/dev/null | tail -c 32 | openssl base64 -A)
RSA=$(openssl pkey -in "$D/rsa.pem" -pubout -outform DER 2>/dev/null | openssl base64 -A)
RSA1=$(printf %s "$RSA" | cut -c1-200)
RSA2=$(printf %s "$RSA" | cut -c201-)
{
  echo "DKIM_ED_P=$ED"
  echo "DKIM_RSA_P1=$RSA1"
  echo "DKIM_RSA_P2=$RSA2"
} >> "$OUT/vars"
