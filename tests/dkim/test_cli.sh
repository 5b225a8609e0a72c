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
# --json: the fields added and the signed message, the same as the text output
"$M" --json dkim sign --domain example.test --selector ed --key "$W/pki/dkim/ed.pem" \
  "$T/m.eml" > "$T/sign.json" || fail "sign --json"
python3 - "$T/sign.json" "$T/m.eml" "$T/sj.eml" <<'PY' || fail "sign --json: $(cat "$T/sign.json")"
import json, sys
j = json.load(open(sys.argv[1]))
msg = open(sys.argv[2]).read()
assert j["signatures"].startswith("DKIM-Signature:") and j["signatures"].count("DKIM-Signature:") == 1
assert j["message"] == j["signatures"] + msg and "\r" not in j["message"]
open(sys.argv[3], "w").write(j["message"])
PY
"$M" $DNS dkim verify "$T/sj.eml" > "$T/out" || fail "sign --json message does not verify: $(cat "$T/out")"

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
# auth, issue 13 point 3: "From :" (obsolete WSP before the colon) is a From
# field; with a second From the author is ambiguous: dmarc=permerror, exit 0.
AUTH="auth --ip 127.0.1.1 --helo mx1.good.test --sender x@good.test"
printf 'From : "Bank CEO" <ceo@example.test>\nFrom: <x@good.test>\nSubject: hi\n\nbody\n' > "$T/obs.eml"
"$M" $DNS $AUTH "$T/obs.eml" > "$T/ar" || fail "auth obs From exit $?"
grep -q 'dmarc=permerror' "$T/ar" || fail "auth obs From: $(cat "$T/ar")"
grep -q 'dmarc=pass' "$T/ar" && fail "auth obs From passed: $(cat "$T/ar")"

# auth, issue 13 point 4: a spoofed From padded past the DKIM header bounds
# (1000 fields; 1 MiB) still gets a verdict: exit 0, an
# Authentication-Results field, dkim=permerror and DMARC from the From field.
pad() { # pad FILE N LINE: N copies of LINE
  awk -v n="$2" -v l="$3" 'BEGIN { for (i = 0; i < n; i++) print l }' >> "$1"
}
printf 'From: "Bank CEO" <ceo@example.test>\nSubject: pay\n' > "$T/pad1.eml"
pad "$T/pad1.eml" 1100 'X-Pad: a'
printf '\nbody\n' >> "$T/pad1.eml"
printf 'From: "Bank CEO" <ceo@example.test>\nSubject: pay\n' > "$T/pad2.eml"
pad "$T/pad2.eml" 900 "X-Pad: $(awk 'BEGIN { while (i++ < 1200) printf "a" }')"
printf '\nbody\n' >> "$T/pad2.eml"
# the signed message with padding under its signatures
sed -n '/^DKIM-Signature:/,/^From:/p' "$T/s.eml" | sed '$d' > "$T/pad3.eml"
pad "$T/pad3.eml" 1100 'X-Pad: a'
sed -n '/^From:/,$p' "$T/s.eml" >> "$T/pad3.eml"
for f in pad1 pad2 pad3; do
  "$M" $DNS $AUTH "$T/$f.eml" > "$T/ar"; rc=$?
  [ $rc = 0 ] || fail "auth $f exit $rc: $(cat "$T/ar")"
  head -1 "$T/ar" | grep -q '^Authentication-Results: localhost;' || fail "auth $f header: $(cat "$T/ar")"
  grep -q 'spf=pass' "$T/ar" || fail "auth $f spf: $(cat "$T/ar")"
  grep -q 'dkim=permerror' "$T/ar" || fail "auth $f dkim: $(cat "$T/ar")"
  grep -q 'iprev=pass' "$T/ar" || fail "auth $f iprev: $(cat "$T/ar")"
done
for f in pad1 pad2; do
  "$M" $DNS $AUTH "$T/$f.eml" > "$T/ar"
  grep -q 'dmarc=fail.*header.from=example.test' "$T/ar" || fail "auth $f dmarc: $(cat "$T/ar")"
done
"$M" $DNS $AUTH "$T/pad3.eml" > "$T/ar"
grep -q 'dkim=permerror.*header.d=example.test header.s=ed' "$T/ar" || fail "auth pad3 d=: $(cat "$T/ar")"
grep -q 'dmarc=pass.*header.from=example.test' "$T/ar" && fail "auth pad3 dmarc passed: $(cat "$T/ar")"
"$M" $DNS --json $AUTH "$T/pad1.eml" > "$T/arj" || fail "auth pad1 json"
grep -q '"dmarc":{"result":"fail","from_domain":"example.test"' "$T/arj" || fail "auth pad1 json: $(cat "$T/arj")"

# auth, issue 15: 32 signatures (the verifier's maximum) and spf, dmarc,
# iprev make 35 methods; the A-R writer stopped at 32 and the field lost
# dmarc and iprev.  Four signing runs of 8 (ed, rsa) signatures each.
printf 'From: Joe <joe@good.test>\nTo: s@example.net\nSubject: x\n\nhello\n' > "$T/g0.eml"
K="--selector ed --key $W/pki/dkim/ed.pem --selector rsa --key $W/pki/dkim/rsa.pem"
for i in 1 2 3 4; do
  "$M" dkim sign --domain good.test $K $K $K $K "$T/g$((i - 1)).eml" > "$T/g$i.eml" || fail "sign 32 ($i)"
done
[ "$(grep -c '^DKIM-Signature:' "$T/g4.eml")" = 32 ] || fail "32 signatures expected"
"$M" $DNS auth --ip 127.0.1.1 --helo mx1.good.test --sender joe@good.test "$T/g4.eml" > "$T/ar" || fail "auth 32 exit"
[ "$(grep -c '^	dkim=pass (dnssec=secure) header.d=good.test header.s=[a-z]* header.b=' "$T/ar")" = 32 ] || fail "auth 32 dkim: $(cat "$T/ar")"
grep -q '^	dmarc=pass' "$T/ar" || fail "auth 32 dmarc lost: $(cat "$T/ar")"
grep -q '^	iprev=pass' "$T/ar" || fail "auth 32 iprev lost: $(cat "$T/ar")"
echo ok
