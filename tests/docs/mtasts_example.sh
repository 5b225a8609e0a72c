#!/bin/sh
# mtasts_example.sh EXAMPLE WORLD - run docs/examples/mtasts_policy.c as a
# user would: the world's DNSSEC resolver config, a real HTTPS fetch from
# the demo policy host on 127.0.1.10 (reached with --connect-to, as libcurl
# resolves names itself), and an SQLite cache file that answers once the
# host is gone.
set -eu
EXAMPLE=$1 W=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
free_port() {
  /usr/bin/python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}
SMTP_PORT=$(free_port 127.0.1.1) HTTPS_PORT=$(free_port 127.0.1.10)
D=$(mktemp -d)
ln -s "$W/pki" "$D/pki"  # the peers write their ready file and log in D
PID=$(sh "$SRC/tests/world/peers/start-peers.sh" "$D" "$SMTP_PORT" "$HTTPS_PORT")
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$D"' EXIT INT TERM
fail=0
expect() { # expect RC OUTPUT -- DOMAIN MX
  want_rc=$1 want=$2; shift 3
  set +e
  out=$("$EXAMPLE" --dns-config "$W/auth.conf" --ca-file "$W/pki/demo/ca.pem" \
        --cache "$D/sts.sqlite" --connect-to "::127.0.1.10:$HTTPS_PORT" "$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" != "$want_rc" ] || [ "$out" != "$want" ]; then
    echo "FAIL $*: rc=$rc (want $want_rc) output: $out (want: $want)"; fail=1
  else
    echo "ok $*: $out"
  fi
}
expect 0 "good.test: mode enforce; mx1.good.test: pass" -- good.test mx1.good.test
expect 1 "good.test: mode enforce; mx.evil.example: fail" -- good.test mx.evil.example
# the policy host gone, the SQLite cache still answers (RFC 8461 s5); a
# domain without the record has no policy
kill "$PID"
while kill -0 "$PID" 2>/dev/null; do sleep 0.1; done
expect 0 "good.test: mode enforce; mx2.good.test: pass" -- good.test mx2.good.test
expect 0 "nostarttls.test: no MTA-STS policy (no TXT record (nxdomain, secure))" -- \
  nostarttls.test mx.nostarttls.test
exit $fail
