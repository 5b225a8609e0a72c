#!/bin/sh
# Demo part: `mailsec plan` and `mailsec send --requiretls` to good.test, run
# by 20-check.sh while the loopback peers listen (MAILSEC, WORLD, SMTP_PORT,
# HTTPS_PORT in the environment).  The peer logs what it received to
# WORLD/peers.log, with tls= and requiretls= flags.
set -eu
: "${MAILSEC:?}" "${WORLD:?}" "${SMTP_PORT:?}" "${HTTPS_PORT:?}"
"$MAILSEC" --help 2>/dev/null | grep -q ' send ' || exit 0
MSG=$(mktemp)
trap 'rm -f "$MSG"' EXIT INT TERM
cat > "$MSG" <<'MAIL'
From: Alice <alice@example.test>
To: Bob <bob@good.test>
Subject: a REQUIRETLS demo
Message-ID: <demo-send@example.test>

Hello Bob, this message travels only over TLS verified by DANE and MTA-STS,
to a server that promises to keep it that way (RFC 8689).
MAIL
set -- --dns-config "$WORLD/auth.conf" --timeout 10
FETCH="--ca-file $WORLD/pki/demo/ca.pem --connect-to ::127.0.1.10:$HTTPS_PORT"
printf '\n\033[1m$ mailsec plan good.test --requiretls\033[0m\n'
# shellcheck disable=SC2086 # FETCH is a list of words without spaces inside
"$MAILSEC" "$@" plan good.test --requiretls $FETCH || true
printf '\n\033[1m$ mailsec send --from alice@example.test --to bob@good.test --requiretls MSG\033[0m\n'
# shellcheck disable=SC2086
"$MAILSEC" "$@" send --from alice@example.test --to bob@good.test --requiretls \
  --port "$SMTP_PORT" $FETCH "$MSG" || true
printf '\n\033[1m$ tail -n 1 WORLD/peers.log\033[0m\n'
tail -n 1 "$WORLD/peers.log" 2>/dev/null || true
