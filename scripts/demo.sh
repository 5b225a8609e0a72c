#!/bin/sh
# demo.sh [BUILDDIR] - the main job: the example verifiers on the bundled
# offline demo world (signed zones under the test anchor, no network).
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
W="$B/demo-world"
sh tests/world/make-world.sh "$W" >/dev/null
M="$B/examples/mailsec/mailsec"
conf="$W/auth.conf"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*" | sed "s|$conf|demo-world/auth.conf|; s|$M|mailsec|"; }
run() { say "$*"; "$@" || true; }

echo "mailsec demo: an offline mail world (DNSSEC anchor: test.), loopback peers"
run "$M" --dns-config "$conf" dns MX good.test
run "$M" --dns-config "$conf" dns TLSA _25._tcp.mx1.good.test
run "$M" --dns-config "$conf" dns A www.insecure.example.test
run "$M" --dns-config "$conf" dns MX bogus.test
run "$M" --dns-config "$conf" dns A www.expired.example.test
run "$M" --dns-config "$conf" dns A insalias.example.test
# The parts that need more than DNS: mailsec check on the demo domains, ...
for part in scripts/demo.d/*.sh; do  # not demo.d/with-peers/: 20-check.sh runs those
  [ -e "$part" ] || continue
  MAILSEC="$M" WORLD="$W" sh "$part"
done
echo
echo "demo done"
