#!/bin/sh
# run-bench-milter.sh BUILD_DIR [MESSAGES] [CONCURRENCY] - mailsec-milter
# against OpenDKIM + OpenDMARC (Debian packages), each verifying the same
# DKIM-signed messages, driven by bench-milter over the milter protocol.
# Needs root (OpenDMARC resolves with the C library's stub resolver, so it
# runs in a private mount namespace whose /etc/resolv.conf names an NSD on
# loopback serving the signed test world).  Nothing leaves loopback.
#
# DNS for each side:
#   mailsec-milter  libunbound over the world's auth-zones (DNSConfig)
#   OpenDKIM        libunbound forwarding to NSD on 127.0.0.153:53
#                   (ResolverConfiguration; it cannot read the world's
#                   auth-zone file), validating with the world's trust
#                   anchor, answers cached
#   OpenDMARC       glibc res_query -> the same NSD (no cache; an
#                   authoritative answer over loopback)
set -eu
BUILD=$(cd "$1" && pwd)
N=${2:-1000}
C=${3:-1}
# POSTFIX=1: also the same messages through a real Postfix (smtpd ->
# milters -> queue), concurrency PC (default 1: OpenDKIM aborts with more): postfix_bench.py
PC=${PC:-1}
WORLD=$BUILD/tests/world/out
[ -f "$WORLD/auth.conf" ] || { echo "no test world in $WORLD (ninja -C $BUILD first)"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (opendmarc's resolver namespace)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-milter-XXXXXX")
chmod 755 "$T"
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM

wait_sock() {
  i=0
  while [ ! -S "$1" ]; do
    i=$((i+1)); [ $i -lt 200 ] || { echo "$2 did not start (see $T)"; exit 1; }
    sleep 0.1
  done
}

# NSD for OpenDMARC (zones: the DMARC and SPF records it reads)
cat > "$T/nsd.conf" <<EOC
server:
  ip-address: 127.0.0.153@53
  username: ""
  chroot: ""
  pidfile: "$T/nsd.pid"
  zonelistfile: "$T/zone.list"
  xfrdfile: "$T/xfrd.state"
  logfile: "$T/nsd.log"
  database: ""
remote-control:
  control-enable: no
zone:
  name: "example.test"
  zonefile: "$WORLD/zones/example.test.signed"
zone:
  name: "test"
  zonefile: "$WORLD/zones/test.signed"
EOC
nsd -d -c "$T/nsd.conf" >/dev/null 2>&1 &
PIDS="$PIDS $!"
printf 'nameserver 127.0.0.153\noptions attempts:2 timeout:2\n' > "$T/resolv.conf"

# unix sockets, as Debian ships OpenDKIM and OpenDMARC (over TCP loopback
# the milters' multi-packet replies meet Nagle and delayed ACKs: 40 ms stalls)
S0=$T/mailsec-milter.sock; S1=$T/opendkim.sock; S2=$T/opendmarc.sock
cat > "$T/mailsec-milter.conf" <<EOC
AuthservID mx1.example.test
Socket unix:$S0
DNSConfig $WORLD/auth.conf
Mode v
# 127.0.0.1 (the Postfix round's client) is an outside client here
InternalHosts 192.0.2.255
LogLevel warning
EOC
"$BUILD/daemons/mailsec-milter/mailsec-milter" -c "$T/mailsec-milter.conf" 2>"$T/mailsec-milter.log" &
OURS=$!; PIDS="$PIDS $OURS"

cat > "$T/opendkim-unbound.conf" <<EOC
server:
  do-not-query-localhost: no
  local-zone: "test." transparent
  trust-anchor-file: "$WORLD/trust-anchor.ds"
forward-zone:
  name: "."
  forward-addr: 127.0.0.153
EOC
cat > "$T/opendkim.conf" <<EOC
Mode v
Socket local:$S1
AuthservID mx1.example.test
ResolverConfiguration $T/opendkim-unbound.conf
Syslog no
Background no
PidFile $T/opendkim.pid
EOC
${ODKIM_WRAP:-} opendkim -f -x "$T/opendkim.conf" 2>"$T/opendkim.log" &
ODKIM=$!; PIDS="$PIDS $ODKIM"

cat > "$T/opendmarc.conf" <<EOC
Socket local:$S2
AuthservID mx1.example.test
TrustedAuthservIDs mx1.example.test
SPFSelfValidate true
SPFIgnoreResults true
PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat
FailureReports false
Syslog false
Background false
PidFile $T/opendmarc.pid
# the Postfix round's client is 127.0.0.1, which OpenDMARC skips by default
IgnoreHosts $T/ignore-none
EOC
: > "$T/ignore-none"
# unshare without --fork execs: the PID is opendmarc's own
unshare -m sh -c "mount --bind '$T/resolv.conf' /etc/resolv.conf && exec opendmarc -f -c '$T/opendmarc.conf'" 2>"$T/opendmarc.log" &
ODMARC=$!; PIDS="$PIDS $ODMARC"

wait_sock "$S0" mailsec-milter
wait_sock "$S1" opendkim
wait_sock "$S2" opendmarc
if [ -n "${SOAK:-}" ]; then
  # SOAK=SECONDS: our milter only, RSS watched (flat: within 10 %)
  rc=0
  "$BUILD/bench/milter/bench-milter" --world "$WORLD" --messages "$N" \
    --concurrency "$C" --ours "$S0" --ours-pid "$OURS" --soak "$SOAK" || rc=$?
  exit $rc
fi
echo "# $(nproc) cores; $(uname -r); opendkim $(opendkim -V | head -1 | sed 's/.*v//'), opendmarc $(opendmarc -V | head -1 | sed 's/.*v//')"
"$BUILD/bench/milter/bench-milter" --world "$WORLD" --messages "$N" --concurrency "$C" \
  --ours "$S0" --ours-pid "$OURS" \
  --peer "$S1,$S2" --peer-pid "$ODKIM,$ODMARC"
if [ -n "${POSTFIX:-}" ]; then
  # Postfix's smtpd (user postfix) must be able to connect to the sockets
  chmod 777 "$S0" "$S1" "$S2"
  # dkimpy signs these (an independent signer); Debian's python3 has it
  /usr/bin/python3 "$(dirname "$0")/postfix_bench.py" "$T" "$WORLD" "$N" "$PC" \
    "$S0" "$OURS" "$S1,$S2" "$ODKIM,$ODMARC"
fi
