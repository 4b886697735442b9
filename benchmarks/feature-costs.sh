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
  "CURVE on every connection||courier-curve"
)

results=$(mktemp)
trap 'rm -f "$results"' EXIT
field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p"; }

started=$(date '+%Y-%m-%d %H:%M')
for r in $(seq "$rounds"); do
  order=("${!variants[@]}")
  if [ $((r % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("$i"); done
  fi
  for i in "${order[@]}"; do
    IFS='|' read -r label assignment system <<<"${variants[i]}"
    if line=$(if [ -n "$assignment" ]; then env "$assignment" "$run" "$system" "${workload[@]}"; else "$run" "$system" "${workload[@]}"; fi); then
      echo "round $r [$label] $line" >&2
      echo "$i $(field rps <<<"$line") $(field p50_us <<<"$line") $(field p99_us <<<"$line") $(field errors <<<"$line")" >>"$results"
    else
      echo "round $r [$label] FAILED" >&2
    fi
  done
done

echo
echo "Workers: ${workload[0]}, connections × in flight: ${workload[1]} × ${workload[2]}, body: ${workload[4]} B," \
  "${workload[3]} s a run; median of $rounds alternated rounds, $started–$(date '+%H:%M %Z')."
echo
labels=$(printf '%s\n' "${variants[@]}" | cut -d'|' -f1)
awk -v labels="$labels" '
  function median(list,   v, n, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  { rps[$1] = rps[$1] " " $2; p50[$1] = p50[$1] " " $3; p99[$1] = p99[$1] " " $4; errors[$1] += $5; runs[$1]++ }
  END {
    n = split(labels, name, "\n")
    print "| variant | req/s | ÷ off | p50 µs | p99 µs | runs | errors |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    base = runs[0] ? median(rps[0]) : 0
    for (i = 0; i < n; i++) {
      if (!runs[i]) { printf "| %s | failed | | | | 0 | |\n", name[i + 1]; continue }
      r = median(rps[i])
      ratio = base > 0 ? sprintf("%.2f", r / base) : "–"
      printf "| %s | %.0f | %s | %.0f | %.0f | %d | %d |\n", name[i + 1], r, ratio, median(p50[i]), median(p99[i]), runs[i], errors[i]
    }
  }' "$results"
