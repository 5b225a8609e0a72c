#!/bin/sh
# Demo part: SMTP TLS reporting (RFC 8460).  A day of deliveries recorded
# by `mailsec tlsrpt record` (some fail: a server whose TLS handshake
# breaks on good.test's MX addresses, a DANE mismatch, a host without
# STARTTLS), good.test's report built from the store, then sent where
# good.test's _smtp._tls record says: POSTed to the demo HTTPS host and
# mailed (DKIM-signed, TLS-Required: No) to the demo SMTP peer, whose log
# shows both arrived.  Run by 20-check.sh while the peers listen (MAILSEC,
# WORLD, SMTP_PORT, HTTPS_PORT in the environment).
set -eu
: "${MAILSEC:?}" "${WORLD:?}" "${SMTP_PORT:?}" "${HTTPS_PORT:?}"
"$MAILSEC" --help 2>/dev/null | grep -q ' tlsrpt ' || exit 0
HERE=$(cd "$(dirname "$0")/../../.." && pwd)
T=$(mktemp -d)
BAD=""
cleanup() {
  [ -n "$BAD" ] && kill "$BAD" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
printf 'From: alice@example.test\nTo: bob@good.test\nSubject: hello\n\nhello\n' > "$T/msg"
set -- --dns-config "$WORLD/auth.conf" --timeout 10
CA="$WORLD/pki/demo/ca.pem"
DB="$T/tlsrpt.db"
# a server whose STARTTLS handshake breaks, on good.test's MX addresses
/usr/bin/python3 "$HERE/tests/hardening/send/send_peer.py" "$T/bad.log" badtls \
  "$WORLD/pki/demo/mx1.good.test.chain.pem" "$WORLD/pki/demo/mx1.good.test.key" \
  127.0.1.1 127.0.1.2 > "$T/bad.port" &
BAD=$!
i=0; while [ ! -s "$T/bad.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
BADPORT=$(cat "$T/bad.port")

printf '\n\033[1m$ mailsec tlsrpt record --db tlsrpt.db --from alice@example.test --to ... MSG   (x8)\033[0m\n'
for to_port in bob@good.test:$SMTP_PORT bob@good.test:$SMTP_PORT bob@good.test:$SMTP_PORT \
               bob@good.test:$BADPORT bob@good.test:$BADPORT carol@badtlsa.test:$SMTP_PORT \
               eve@nostarttls.test:$SMTP_PORT dan@stsgap.test:$SMTP_PORT; do
  to=${to_port%:*}; port=${to_port##*:}
  "$MAILSEC" "$@" tlsrpt record --db "$DB" --from alice@example.test --to "$to" \
    --port "$port" --ca-file "$CA" --connect-to "::127.0.1.10:$HTTPS_PORT" "$T/msg" \
    >/dev/null 2>&1 && r=delivered || r="not delivered"
  [ "$port" = "$SMTP_PORT" ] && via="demo peer" || via="broken TLS server"
  echo "  $to via $via: $r"
done

REPORT="--db $DB --domain good.test --org mailsec-demo --contact mailto:postmaster@example.test --submitter mail.example.test"
printf '\n\033[1m$ mailsec tlsrpt report %s\033[0m\n' "--db tlsrpt.db --domain good.test --org mailsec-demo ..."
# shellcheck disable=SC2086 # REPORT is a list of words without spaces inside
"$MAILSEC" "$@" tlsrpt report $REPORT | /usr/bin/python3 -m json.tool || true

printf '\n\033[1m$ mailsec tlsrpt send %s\033[0m\n' "--db tlsrpt.db --domain good.test ... --from tlsrpt@example.test --dkim-key ed.pem --dkim-selector ed"
# shellcheck disable=SC2086
"$MAILSEC" "$@" tlsrpt send $REPORT --from tlsrpt@example.test --port "$SMTP_PORT" \
  --ca-file "$CA" --connect-to "::127.0.1.10:$HTTPS_PORT" \
  --https-connect-to "mta-sts.good.test:443::$HTTPS_PORT" \
  --dkim-key "$WORLD/pki/dkim/ed.pem" --dkim-selector ed --dkim-domain good.test || true

printf '\n\033[1m$ grep -e tlsrpt -e https-post WORLD/peers.log\033[0m\n'
grep -e 'rcpt=tlsrpt@' -e 'https-post' "$WORLD/peers.log" 2>/dev/null || true
mail=$(ls -t "$WORLD"/tlsrpt-mail-*.eml 2>/dev/null | head -n 1)
if [ -n "$mail" ]; then
  printf '\n\033[1m$ mailsec tlsrpt parse %s\033[0m\n' "WORLD/$(basename "$mail")"
  "$MAILSEC" tlsrpt parse "$mail" || true
fi
