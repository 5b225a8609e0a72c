#!/bin/sh
# test_cli.sh MAILSEC - `mailsec dkim sign|verify|keygen` and `mailsec auth`
# against the test world (MS_TEST_WORLD): keys from pki.d/40-dkim.sh.
set -u
M=$1
W=${MS_TEST_WORLD:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
DNS="--dns-config $W/auth.conf"

printf 'From: Joe <joe@example.test>\nTo: x@example.net\nSubject: hi\n\nHello\n' > "$T/m.eml"
"$M" dkim sign --domain example.test --selector ed --key "$W/pki/dkim/ed.pem" \
  --selector rsa --key "$W/pki/dkim/rsa.pem" "$T/m.eml" > "$T/s.eml" || fail "sign"
[ "$(grep -c '^DKIM-Signature:' "$T/s.eml")" = 2 ] || fail "two signatures expected"
grep -q "$(printf '\r')" "$T/s.eml" && fail "LF message got CR line ends"

"$M" $DNS dkim verify "$T/s.eml" > "$T/out" || fail "verify exit $?"
grep -q '^pass d=example.test s=ed a=ed25519-sha256 dnssec=secure$' "$T/out" || fail "ed line: $(cat "$T/out")"
grep -q '^pass d=example.test s=rsa a=rsa-sha256 dnssec=secure$' "$T/out" || fail "rsa line"
"$M" $DNS --json dkim verify < "$T/s.eml" > "$T/json" || fail "json verify"
grep -q '"signatures":\[{"result":"pass","domain":"example.test","selector":"ed","algorithm":"ed25519-sha256","dnssec":"secure","reason":""' "$T/json" || fail "json: $(cat "$T/json")"

sed 's/Hello/Goodbye/' "$T/s.eml" > "$T/t.eml"
"$M" $DNS dkim verify "$T/t.eml" > "$T/out"; rc=$?
[ $rc = 1 ] || fail "tampered message exit $rc"
grep -q '^fail d=example.test s=ed .*reason=body hash mismatch' "$T/out" || fail "tampered: $(cat "$T/out")"
"$M" $DNS dkim verify "$T/m.eml" > "$T/out"; [ $? = 1 ] || fail "unsigned exit"
grep -q '^none' "$T/out" || fail "unsigned output"

# --algo must match the key; a missing key file is a usage error
"$M" dkim sign --domain example.test --selector ed --key "$W/pki/dkim/ed.pem" --algo rsa-sha256 "$T/m.eml" > /dev/null 2>&1
[ $? = 2 ] || fail "algo mismatch not refused"
"$M" dkim sign --domain example.test --selector ed --key "$T/none.pem" "$T/m.eml" > /dev/null 2>&1
[ $? = 2 ] || fail "missing key not refused"

# keygen: the key signs, the record verifies (served through an auth-zone)
"$M" dkim keygen --algo ed25519 --selector k1 --domain example.test > "$T/kg" || fail keygen
sed -n '/BEGIN/,/END/p' "$T/kg" > "$T/k1.pem"
grep -q '^k1._domainkey.example.test. IN TXT ( "v=DKIM1; k=ed25519; p=' "$T/kg" || fail "keygen record: $(cat "$T/kg")"
"$M" dkim sign --domain example.test --selector k1 --key "$T/k1.pem" --algo ed25519 "$T/m.eml" > /dev/null || fail "sign with keygen key"
"$M" dkim keygen --algo rsa --bits 1024 > /dev/null 2>&1; [ $? = 2 ] || fail "weak keygen accepted"

# auth: the Authentication-Results field, then details
"$M" $DNS auth --ip 192.0.2.5 --helo mail.example.test --sender joe@example.test \
  --authserv-id mx.example.net "$T/s.eml" > "$T/ar" || fail "auth exit"
head -1 "$T/ar" | grep -q '^Authentication-Results: mx.example.net;' || fail "auth header: $(cat "$T/ar")"
grep -q 'dkim=pass (dnssec=secure) header.d=example.test header.s=ed' "$T/ar" || fail "auth dkim"
grep -q 'dmarc=pass' "$T/ar" || fail "auth dmarc: $(cat "$T/ar")"
"$M" $DNS --json auth --ip 192.0.2.5 --helo mail.example.test --sender joe@example.test "$T/t.eml" > "$T/arj" || fail "auth json"
grep -q '"dkim":\[{"result":"fail"' "$T/arj" || fail "auth json dkim: $(cat "$T/arj")"
echo ok
