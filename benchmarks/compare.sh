#!/usr/bin/env bash
# Runs one workload on several systems, alternated over ROUNDS rounds, and prints the Markdown table that
# docs/performance.md shows: per system the median req/s, p50 and p99 over the rounds, the ratios to libzmq, and the
# median share of the machine's CPU time that the hypervisor stole during the runs (peers/run's steal_pct); then the
# median req/s of the quiet runs alone, those with steal under QUIET_STEAL % (default 5), and its ratio to libzmq's; and
# the req/s at no steal of a least-squares line through each system's runs (req/s against steal %), with its ratio:
# where the hypervisor leaves no sitting quiet, the runs at different steal still say where each system stands.
#   [ROUNDS=3] [SYSTEMS="libzmq pyzmq nats netmq courier"] [TOPOLOGY=brokered|direct|nginx] [COURIER=...] [COURIER_BEFORE=...] \
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
topology=${TOPOLOGY:-brokered} # passed on to peers/run: brokered, direct or nginx
if [ "$topology" != brokered ]; then
  kept=()
  for s in "${systems[@]}"; do [ "$s" = nats ] || kept+=("$s"); done # NATS has no broker-less form
  systems=("${kept[@]}")
fi
if [ -n "${COURIER_BEFORE:-}" ] && [[ " ${systems[*]} " != *" courier-before "* ]]; then
  systems+=(courier-before)
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
# shellcheck source=lib/rounds.sh
. "$here/lib/rounds.sh"
names=("${systems[@]}")

run_one() { # INDEX -> the JSON line of that system's run
  if [ "${systems[$1]}" = courier-before ]; then
    COURIER=${COURIER_BEFORE:?courier-before needs COURIER_BEFORE=/path/to/courier} "$run" courier "${workload[@]}"
  else
    "$run" "${systems[$1]}" "${workload[@]}"
  fi
}

started=$(date '+%Y-%m-%d %H:%M')
run_rounds "$rounds" "$results" run_one

# The table: medians per system (in the order of SYSTEMS), ratios against libzmq's medians when libzmq ran.
echo
echo "Topology: $topology; workers (servers behind nginx): ${workload[0]}, connections × in flight: ${workload[1]} × ${workload[2]}, body: ${workload[4]} B," \
  "${workload[3]} s a run; median of $rounds alternated rounds, $started–$(date '+%H:%M %Z')."
echo
base=-1
for i in "${!systems[@]}"; do [ "${systems[i]}" = libzmq ] && base=$i; done
quiet=${QUIET_STEAL:-5}
awk -v order="${systems[*]}" -v base="$base" -v quiet="$quiet" -f "$here/lib/median.awk" -f /dev/stdin "$results" <<'AWK'
  END {
    print "| system | req/s | req/s ÷ libzmq | p50 µs | p50 ÷ libzmq | p99 µs | runs | errors | steal % | quiet req/s | ÷ libzmq | quiet runs | fit at no steal | ÷ libzmq |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    base_rps = runs[base] ? median(rps[base]) : 0
    base_p50 = runs[base] ? median(p50[base]) : 0
    base_quiet = quiet_runs[base] ? median(quiet_rps[base]) : 0
    base_fit = runs[base] ? fit_at_no_steal(base) : 0
    n = split(order, names, " ")
    for (i = 0; i < n; i++) {
      s = names[i + 1]
      if (!runs[i]) { printf "| %s | failed | | | | | 0 | | | | | | | |\n", s; continue }
      r = median(rps[i]); p = median(p50[i]); q = quiet_runs[i] ? median(quiet_rps[i]) : 0; f = fit_at_no_steal(i)
      printf "| %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s | %d | %s | %s |\n", s, thousands(r), ratio(r, base_rps), thousands(p),
        ratio(p, base_p50), thousands(median(p99[i])), runs[i], errors[i], steal[i] == "" ? "–" : sprintf("%.0f", median(steal[i])),
        q ? thousands(q) : "–", q ? ratio(q, base_quiet) : "–", quiet_runs[i], f ? thousands(f) : "–", f ? ratio(f, base_fit) : "–"
    }
  }
AWK
