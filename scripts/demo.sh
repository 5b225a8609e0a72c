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

echo "mailsec demo: lookups in an offline DNSSEC world (anchor: test.)"
run "$M" --dns-config "$conf" dns MX example.test
run "$M" --dns-config "$conf" dns TLSA _25._tcp.mx.example.test
run "$M" --dns-config "$conf" dns A www.insecure.example.test
run "$M" --dns-config "$conf" dns A tampered.example.test
run "$M" --dns-config "$conf" dns A www.expired.example.test
run "$M" --dns-config "$conf" dns A insalias.example.test
run "$M" --dns-config "$conf" --json dns ADDR mixed.example.test
# Later parts of the demo (DANE, MTA-STS, SPF/DMARC, REQUIRETLS) run when built.
for part in scripts/demo.d/*.sh; do
  [ -e "$part" ] || continue
  MAILSEC="$M" WORLD="$W" sh "$part"
done
echo
echo "demo done"
