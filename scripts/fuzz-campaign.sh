#!/bin/sh
# fuzz-campaign.sh [SECONDS] [OUTDIR] [PATTERN] - the long libFuzzer
# campaign: every fuzz target (or those whose name matches the extended
# regular expression PATTERN) for SECONDS (default 600) at low priority,
# starting from its committed seed corpus.  On a machine with N cores, run N
# campaigns with disjoint patterns and separate OUTDIRs.  Prints one Markdown table row per target
# (executions, coverage, corpus growth, findings) for docs/SECURITY.md.
# Findings (crash-*, leak-*, timeout-* inputs) are left in OUTDIR/artifacts;
# add each as a regression input to the target's corpus once fixed.
# Needs clang; builds build-fuzz (-Dfuzzing=true) and build-corpora (the
# replay build, only to learn each target's corpus folder).
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-600}
OUT=${2:-fuzz-campaign}
PATTERN=${3:-.}
mkdir -p "$OUT/artifacts" "$OUT/grown" "$OUT/logs"
[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true \
  -Dtests=disabled -Dbenchmarks=false -Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null
[ -f build-corpora/build.ninja ] || meson setup build-corpora -Dbenchmarks=false >/dev/null
targets=$(meson introspect build-corpora --tests | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"].startswith("fuzz-"):
        print(t["name"], t["cmd"][-1])' | grep -E "^fuzz-[^ ]*($PATTERN)" || true)
echo "| target | seconds | executions | coverage (edges) | corpus: seed -> final | findings |"
echo "|---|---|---|---|---|---|"
echo "$targets" | while read -r name corpus; do
  [ -x "build-fuzz/fuzz/$name" ] || continue
  grown="$OUT/grown/$name"
  mkdir -p "$grown"
  seeds=$(ls "$corpus" | wc -l)
  log="$OUT/logs/$name.log"
  nice -n 19 "build-fuzz/fuzz/$name" -max_total_time="$SECS" -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$name-" -timeout=10 -rss_limit_mb=2048 \
    "$grown" "$corpus" > "$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  final=$(ls "$grown" | wc -l)
  found=$(ls "$OUT/artifacts" | grep -c "^$name-" || true)
  echo "| $name | $SECS | ${execs:-0} | $cov | $seeds -> $((seeds + final)) | $found |"
done
