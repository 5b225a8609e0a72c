#!/bin/sh
# Demo part: `mailsec check` on the healthy and the broken demo domains,
# with the loopback SMTP and MTA-STS peers running (stopped on exit).
set -eu
: "${MAILSEC:?}" "${WORLD:?}"
[ -e "$WORLD/pki/demo/ca.pem" ] || exit 0
"$MAILSEC" --help 2>/dev/null | grep -q ' check ' || exit 0
HERE=$(cd "$(dirname "$0")/../.." && pwd)
port() { /usr/bin/python3 -c "import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])" "$1"; }
# the SMTP peers listen on 127.0.1.x and [::1] at one port: free on both
port_both() { /usr/bin/python3 -c "
import socket
for _ in range(50):
    s6 = socket.socket(socket.AF_INET6); s6.bind(('::1', 0)); p = s6.getsockname()[1]
    try:
        socket.socket().bind(('127.0.1.1', p)); print(p); break
    except OSError:
        s6.close()
"; }
SMTP=$(port_both)
HTTPS=$(port 127.0.1.10)
PID=$(sh "$HERE/tests/world/peers/start-peers.sh" "$WORLD" "$SMTP" "$HTTPS")
stop_peers() {
  kill "$PID" 2>/dev/null || return 0
  i=0; while kill -0 "$PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
}
trap stop_peers EXIT INT TERM
for d in v6good.test good.test bogus.test badtlsa.test stsgap.test nostarttls.test daneta.test; do
  printf '\n\033[1m$ mailsec check %s\033[0m\n' "$d"
  sel=""
  case "$d" in good.test|v6good.test) sel="--dkim-selector rsa --dkim-selector ed";; esac
  # shellcheck disable=SC2086
  "$MAILSEC" --dns-config "$WORLD/auth.conf" --timeout 10 check "$d" --port "$SMTP" \
    --ca-file "$WORLD/pki/demo/ca.pem" --connect-to "::127.0.1.10:$HTTPS" $sel || true
done
# later parts that need the peers (auth, send) run here while they listen
for part in "$HERE"/scripts/demo.d/with-peers/*.sh; do
  [ -e "$part" ] || continue
  MAILSEC="$MAILSEC" WORLD="$WORLD" SMTP_PORT="$SMTP" HTTPS_PORT="$HTTPS" sh "$part"
done
