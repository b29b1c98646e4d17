#!/usr/bin/env bash
# The fleet benchmark of issue 9: N LoadBalancers against moto and the in-memory Kubernetes
# API stand-in, with the operator binary as its own process; once with the shipped ELB
# budget and once with it lifted. It prints figures (kept in target/bench-fleet/), passes or
# fails on nothing but a broken setup, and is not part of `make test`. docs/performance.md
# explains the phases and records a run.
#
#   scripts/bench-fleet.sh                       # 1,000 LoadBalancers: shipped, then lifted
#   scripts/bench-fleet.sh --lbs 10000 --limits lifted --skip-restart --skip-change
#   scripts/bench-fleet.sh --smoke               # 5 LoadBalancers, about 2 minutes per budget
#   scripts/bench-fleet.sh --release             # optimized build (a full extra build)
#
# --limits takes "shipped", "lifted" or both (the default); any other flag goes to the
# benchmark (`--help` lists them). Each run is bounded by its --timeout (default 3600 s, 300 s
# with --smoke), and by `timeout` on top of that. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev
limits="shipped lifted"
run_timeout=3600
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --limits) limits="$2"; shift ;;
    --timeout) run_timeout="$2"; pass+=("$1" "$2"); shift ;;
    --smoke) run_timeout=300; pass+=("$1") ;;
    *) pass+=("$1") ;;
  esac
  shift
done

scripts/setup.sh
command -v python3 >/dev/null || { echo "bench-fleet: python3 is needed" >&2; exit 1; }
# Build the benchmark (and the operator binary it starts); find the executable.
exe=$(cargo build --profile "$profile" --bench fleet --message-format=json-render-diagnostics \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "fleet" and m.get("executable"):
        print(m["executable"])')
[ -x "$exe" ] || { echo "bench-fleet: the benchmark did not build" >&2; exit 1; }

mkdir -p target/bench-fleet
for mode in $limits; do
  out="target/bench-fleet/fleet-$mode-$(date -u +%Y%m%dT%H%M%SZ).txt"
  echo "bench-fleet: $mode limits; output also in $out"
  # The benchmark ends itself at its --timeout; this bound only catches a hang (SIGKILL: the
  # benchmark ignores SIGTERM, see benches/fleet.rs).
  timeout -s KILL $((run_timeout + 300)) "$exe" --limits "$mode" "${pass[@]}" | tee "$out"
done
