#!/bin/sh
# start-peers.sh WORLD [SMTP_PORT [HTTPS_PORT]] - start the demo peers in the
# background, wait until they listen (bounded), print their PID.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
W=$1
SMTP_PORT=${2:-2525}
HTTPS_PORT=${3:-8443}
rm -f "$W/peers.ready"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # Debian's python3 has aiosmtpd
"$PY" "$HERE/demo_peers.py" "$W" "$SMTP_PORT" "$HTTPS_PORT" "$W/peers.ready" \
  > "$W/peers.out" 2>&1 &
pid=$!
i=0
while [ ! -e "$W/peers.ready" ]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "demo peers failed to start:" >&2; cat "$W/peers.out" >&2; exit 1
  fi
  i=$((i+1)); [ "$i" -lt 200 ] || { kill "$pid"; echo "demo peers: no start in 20 s" >&2; exit 1; }
  sleep 0.1
done
echo "$pid"
