#!/bin/sh
# cli-test.sh MAILSEC - `mailsec dane verify|tlsa|rollover|keygen|csr`
# against the world's DANE PKI: exit codes (0 verified, 1 not, 2 usage),
# human and JSON output.
set -u
M=$1
P="$MS_TEST_WORLD/pki/dane"
MS_TMP_KEY=$(mktemp)
trap 'rm -f "$MS_TMP_KEY"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # description, expected exit, expected substring, command...
  d=$1 want=$2 sub=$3; shift 3
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then bad "$d: exit $rc, want $want: $out"; return; fi
  case "$out" in *"$sub"*) ok;; *) bad "$d: output lacks '$sub': $out";; esac
}
EE=$("$M" dane tlsa "$P/ee.pem")
check "tlsa matches the published record" 0 "$(grep DANE_MX1_311 "$MS_TEST_WORLD/vars" | cut -d= -f2)" echo "$EE"
check "tlsa from the private key" 0 "$EE" "$M" dane tlsa "$P/ee.key"
check "tlsa 2 0 1" 0 "2 0 1 $(grep DANE_MX2_201 "$MS_TEST_WORLD/vars" | cut -d= -f2)" \
  "$M" dane tlsa --usage 2 --selector 0 --mtype 1 "$P/ca1.pem"
check "verify EE" 0 "verdict: verified" "$M" dane verify --chain "$P/ee.pem" --name mx1.dane.example.test --tlsa "$EE"
check "verify EE json" 0 '"verified":true,"matched":"'"$EE"'","depth":0,"tlsrpt_result":null' \
  "$M" --json dane verify --chain "$P/ee.pem" --name x.test --tlsa "$EE"
TA=$("$M" dane tlsa --usage 2 --selector 1 --mtype 2 "$P/ca2.pem")
check "verify TA depth 2" 0 '"depth":2' "$M" --json dane verify --chain "$P/ta-chain.pem" \
  --name other.test --name mx2.dane.example.test --tlsa "3 1 1 00" --tlsa "$TA"
check "verify TA wrong name" 1 '"verdict":"name-mismatch"' "$M" --json dane verify \
  --chain "$P/ta-chain.pem" --name other.test --tlsa "$TA"
check "verify TA tlsrpt" 1 'certificate-host-mismatch' "$M" --json dane verify \
  --chain "$P/ta-chain.pem" --name other.test --tlsa "$TA"
check "verify no match" 1 "verdict: no-match" "$M" dane verify --chain "$P/wrong.pem" --name mx3.dane.example.test --tlsa "$EE"
check "verify insecure" 1 '"verdict":"insecure"' "$M" --json dane verify --chain "$P/ee.pem" --name a.test --tlsa "$EE" --insecure
check "verify all unusable" 1 '"tlsrpt_result":"tlsa-invalid"' "$M" --json dane verify --chain "$P/ee.pem" --name a.test --tlsa "1 1 1 ${EE#3 1 1 }"
check "verify at a time after expiry: EE ignores dates" 0 "verified" "$M" --now 4102444800 dane verify --chain "$P/ee.pem" --name a.test --tlsa "$EE"
check "verify TA after expiry" 1 "certificate-expired" "$M" --json --now 4102444800 dane verify --chain "$P/ta-chain.pem" --name mx2.dane.example.test --tlsa "$TA"
check "usage: no --tlsa" 2 "usage" "$M" dane verify --chain "$P/ee.pem" --name a.test
check "usage: bad --tlsa" 2 "bad --tlsa" "$M" dane verify --chain "$P/ee.pem" --name a.test --tlsa "3 1 1 zz"
check "usage: no certs" 2 "no certificates" "$M" dane verify --chain "$P/ee.key" --name a.test --tlsa "$EE"
check "rollover" 0 "; next" "$M" dane rollover "$P/ee.key" "$P/next.key" --ca "$P/ca1.pem"
check "keygen" 0 "BEGIN PRIVATE KEY" "$M" dane keygen ed25519
check "keygen bad" 2 "unknown key type" "$M" dane keygen dsa
check "csr" 0 "BEGIN CERTIFICATE REQUEST" "$M" dane csr "$P/next.key" mx3.dane.example.test
# --json: one object with the PEM (the key is usable: its TLSA record works)
check "keygen json" 0 '{"algorithm":"p256","private_key":"-----BEGIN PRIVATE KEY-----\n' \
  "$M" --json dane keygen p256
"$M" --json dane keygen ed25519 | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["private_key"])' > "$MS_TMP_KEY" 2>/dev/null || true
check "keygen json key" 0 "3 1 1 " "$M" dane tlsa "$MS_TMP_KEY"
check "csr json" 0 '{"csr":"-----BEGIN CERTIFICATE REQUEST-----\n' \
  "$M" --json dane csr "$P/next.key" mx3.dane.example.test
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
