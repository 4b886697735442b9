#!/usr/bin/env bash
# What each optional feature costs Courier's brokered throughput, on and off in the same alternated rounds: the table
# of docs/performance.md ("The features' cost"). Each variant is one benchmarks/peers/run of courier with extra
# arguments; the first, everything off, is the baseline the ratios are taken against.
#   [ROUNDS=3] [COURIER=/path/to/courier] benchmarks/feature-costs.sh [WORKERS CLIENTS INFLIGHT SECONDS SIZE]
# (default workload: 2 4 100 5 64). Needs benchmarks/peers/build first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=$here/peers/run
workload=("${1:-2}" "${2:-4}" "${3:-100}" "${4:-5}" "${5:-64}")
rounds=${ROUNDS:-3}

# label | variables for peers/run | system
variants=(
  "off (idempotent requests, no exporter, no CURVE)||courier"
  "at-most-once (bench --at-most-once)|COURIER_BENCH_ARGS=--at-most-once|courier"
  "metrics: Prometheus exporter on the broker|COURIER_BROKER_ARGS=--metrics-port * --metrics-host 127.0.0.1|courier"
  "traces and metrics by OTLP from the broker (nobody listening)|COURIER_BROKER_ARGS=--otlp http://127.0.0.1:9|courier"
  "the same, 1 % of traces (--trace-sample 0.01)|COURIER_BROKER_ARGS=--otlp http://127.0.0.1:9 --trace-sample 0.01|courier"
  "CURVE on every connection||courier-curve"
)

results=$(mktemp)
trap 'rm -f "$results"' EXIT
# shellcheck source=lib/rounds.sh
. "$here/lib/rounds.sh"
mapfile -t names < <(printf '%s\n' "${variants[@]}" | cut -d'|' -f1)

run_one() { # INDEX -> the JSON line of that variant's run
  local label assignment system
  IFS='|' read -r label assignment system <<<"${variants[$1]}"
  if [ -n "$assignment" ]; then env "$assignment" "$run" "$system" "${workload[@]}"; else "$run" "$system" "${workload[@]}"; fi
}

started=$(date '+%Y-%m-%d %H:%M')
run_rounds "$rounds" "$results" run_one

echo
echo "Workers: ${workload[0]}, connections × in flight: ${workload[1]} × ${workload[2]}, body: ${workload[4]} B," \
  "${workload[3]} s a run; median of $rounds alternated rounds, $started–$(date '+%H:%M %Z')."
echo
labels=$(printf '%s\n' "${names[@]}")
awk -v labels="$labels" -f "$here/lib/median.awk" -f /dev/stdin "$results" <<'AWK'
  END {
    n = split(labels, name, "\n")
    print "| variant | req/s | ÷ off | p50 µs | p99 µs | runs | errors |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    base = runs[0] ? median(rps[0]) : 0
    for (i = 0; i < n; i++) {
      if (!runs[i]) { printf "| %s | failed | | | | 0 | |\n", name[i + 1]; continue }
      r = median(rps[i])
      printf "| %s | %.0f | %s | %.0f | %.0f | %d | %d |\n", name[i + 1], r, ratio(r, base), median(p50[i]), median(p99[i]), runs[i], errors[i]
    }
  }
AWK
