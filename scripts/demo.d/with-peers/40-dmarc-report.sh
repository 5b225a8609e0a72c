#!/bin/sh
# Demo part: a period of received mail turning into a DMARC aggregate report
# (libreports).  Inbound messages claiming good.test are judged by
# `mailsec dmarc-report record` (SPF, DKIM, DMARC as `mailsec auth` does) -
# two signed ones from good.test's own MX, two forgeries from elsewhere -
# then today's report for good.test is built, shown, and mailed to the
# domain's rua= (dmarc@good.test, over DANE to the demo peer mx1.good.test).
# Run by 20-check.sh while the loopback peers listen; the peer's log line
# shows the report arrived.
set -eu
: "${MAILSEC:?}" "${WORLD:?}" "${SMTP_PORT:?}"
"$MAILSEC" --help 2>/dev/null | grep -q ' dmarc-report ' || exit 0
[ -e "$WORLD/pki/dkim/rsa.pem" ] || exit 0
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT INT TERM
set -- --dns-config "$WORLD/auth.conf" --timeout 10
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
printf 'From: Alice <alice@good.test>\r\nTo: bob@example.net\r\nSubject: figures\r\n\r\nHello Bob.\r\n' > "$D/m.eml"
"$MAILSEC" "$@" dkim sign --domain good.test --selector rsa --key "$WORLD/pki/dkim/rsa.pem" \
  "$D/m.eml" > "$D/signed.eml"
for _ in 1 2; do
  say "mailsec dmarc-report record --db dmarc.db --ip 127.0.1.1 --helo mx1.good.test --sender alice@good.test signed.eml"
  "$MAILSEC" "$@" dmarc-report record --db "$D/dmarc.db" --ip 127.0.1.1 --helo mx1.good.test \
    --sender alice@good.test "$D/signed.eml" || true
  say "mailsec dmarc-report record --db dmarc.db --ip 192.0.2.9 --helo forger.example --sender alice@good.test forged.eml"
  "$MAILSEC" "$@" dmarc-report record --db "$D/dmarc.db" --ip 192.0.2.9 --helo forger.example \
    --sender alice@good.test "$D/m.eml" || true
done
now=$(date +%s)
BEGIN=$((now / 86400 * 86400))
END=$((BEGIN + 86400))
R="--db $D/dmarc.db --domain good.test --org-name Example-Receiver --email dmarc-noreply@example.test --begin $BEGIN --end $END"
say "mailsec dmarc-report report --domain good.test ... --out report.xml.gz"
# shellcheck disable=SC2086 # R is a list of words without spaces inside
"$MAILSEC" "$@" dmarc-report report $R --out "$D/report.xml.gz" | sed "s|$D/||" || true
say "mailsec dmarc-report parse report.xml.gz"
"$MAILSEC" "$@" dmarc-report parse "$D/report.xml.gz" || true
say "mailsec dmarc-report send --domain good.test ... --from dmarc-noreply@example.test --receiver example.test"
# shellcheck disable=SC2086
"$MAILSEC" "$@" dmarc-report send $R --from dmarc-noreply@example.test --receiver example.test \
  --port "$SMTP_PORT" || true
say "grep dmarc@good.test WORLD/peers.log"
grep 'rcpt=dmarc@good.test' "$WORLD/peers.log" 2>/dev/null | tail -n 1 || true
