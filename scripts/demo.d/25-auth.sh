#!/bin/sh
# Demo part: sign a message for good.test with its RSA and Ed25519 DKIM keys,
# then `mailsec auth` as the receiving MTA would: SPF, DKIM, DMARC and iprev,
# printed as the Authentication-Results header with the DNSSEC status of each.
set -eu
: "${MAILSEC:?}" "${WORLD:?}"
"$MAILSEC" --help 2>/dev/null | grep -q ' auth ' || exit 0
[ -e "$WORLD/pki/dkim/rsa.pem" ] || exit 0
HERE=$(cd "$(dirname "$0")/../.." && pwd)
signed=$(mktemp)
trap 'rm -f "$signed"' EXIT
G="--dns-config $WORLD/auth.conf"
printf '\n\033[1m$ mailsec dkim sign --domain good.test --selector rsa --key rsa.pem --selector ed --key ed.pem alice.eml\033[0m\n'
# shellcheck disable=SC2086
"$MAILSEC" $G dkim sign --domain good.test --selector rsa --key "$WORLD/pki/dkim/rsa.pem" \
  --selector ed --key "$WORLD/pki/dkim/ed.pem" "$HERE/tests/world/peers/alice.eml" > "$signed"
grep -c '^DKIM-Signature:' "$signed" | sed 's/$/ DKIM-Signature header(s) added/'
printf '\n\033[1m$ mailsec auth --ip 127.0.1.1 --helo mx1.good.test --sender alice@good.test signed.eml\033[0m\n'
# shellcheck disable=SC2086
"$MAILSEC" $G auth --ip 127.0.1.1 --helo mx1.good.test --sender alice@good.test "$signed" || true
