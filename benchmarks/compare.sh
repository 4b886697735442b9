#!/usr/bin/env bash
# Runs one workload on several systems, alternated over ROUNDS rounds, and prints the Markdown table that
# docs/performance.md shows: per system the median req/s, p50 and p99 over the rounds, and the ratios to libzmq.
#   [ROUNDS=3] [SYSTEMS="libzmq pyzmq nats netmq courier"] [COURIER=...] [COURIER_BEFORE=...] \
#     benchmarks/compare.sh [WORKERS CLIENTS INFLIGHT SECONDS SIZE]      (default: 2 4 100 5 64)
# COURIER_BEFORE=/path/to/courier adds "courier-before", a second courier build run in the same rounds, so that a
# change is measured against its baseline in one sitting. Each run's JSON line goes to stderr as it comes.
# Needs benchmarks/peers/build first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=$here/peers/run
workload=("${1:-2}" "${2:-4}" "${3:-100}" "${4:-5}" "${5:-64}")
rounds=${ROUNDS:-3}
read -ra systems <<<"${SYSTEMS:-libzmq pyzmq nats netmq courier}"
if [ -n "${COURIER_BEFORE:-}" ] && [[ " ${systems[*]} " != *" courier-before "* ]]; then
  systems+=(courier-before)
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT

run_one() { # SYSTEM -> its JSON line
  if [ "$1" = courier-before ]; then
    COURIER=${COURIER_BEFORE:?courier-before needs COURIER_BEFORE=/path/to/courier} "$run" courier "${workload[@]}"
  else
    "$run" "$1" "${workload[@]}"
  fi
}
field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p"; } # FIELD < JSON line

started=$(date '+%Y-%m-%d %H:%M')
for r in $(seq "$rounds"); do
  # Even rounds run the systems in reverse order: a drift over a round (another build starting, the machine
  # warming up) then favours none of them.
  order=("${systems[@]}")
  if [ $((r % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#systems[@]} - 1; i >= 0; i--)); do order+=("${systems[i]}"); done
  fi
  for s in "${order[@]}"; do
    if line=$(run_one "$s"); then
      echo "round $r $s $line" >&2
      echo "$s $(field rps <<<"$line") $(field p50_us <<<"$line") $(field p99_us <<<"$line") $(field errors <<<"$line")" >>"$results"
    else
      echo "round $r $s FAILED (left out of the table)" >&2
    fi
  done
done

# The table: medians per system (in the order of SYSTEMS), ratios against libzmq's medians when libzmq ran.
echo
echo "Workers: ${workload[0]}, connections × in flight: ${workload[1]} × ${workload[2]}, body: ${workload[4]} B," \
  "${workload[3]} s a run; median of $rounds alternated rounds, $started–$(date '+%H:%M %Z')."
echo
awk -v order="${systems[*]}" '
  function median(list,   v, n, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function thousands(x,   s) { # mawk has no %'"'"'d
    s = sprintf("%.0f", x)
    while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
    return s
  }
  function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "–" }
  { rps[$1] = rps[$1] " " $2; p50[$1] = p50[$1] " " $3; p99[$1] = p99[$1] " " $4; errors[$1] += $5; runs[$1]++ }
  END {
    print "| system | req/s | req/s ÷ libzmq | p50 µs | p50 ÷ libzmq | p99 µs | runs | errors |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    base_rps = runs["libzmq"] ? median(rps["libzmq"]) : 0
    base_p50 = runs["libzmq"] ? median(p50["libzmq"]) : 0
    n = split(order, names, " ")
    for (i = 1; i <= n; i++) {
      s = names[i]
      if (!runs[s]) { printf "| %s | failed | | | | | 0 | |\n", s; continue }
      r = median(rps[s]); p = median(p50[s])
      printf "| %s | %s | %s | %s | %s | %s | %d | %d |\n", s, thousands(r), ratio(r, base_rps), thousands(p),
        ratio(p, base_p50), thousands(median(p99[s])), runs[s], errors[s]
    }
  }' "$results"
