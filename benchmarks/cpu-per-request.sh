#!/usr/bin/env bash
# CPU time per request of every Courier process in the brokered bench-peers workload, by role. Steadier than req/s
# on a noisy machine, so it is what A/B comparisons of a change use (alternate the two builds, three runs each).
#   COURIER=/path/to/courier [WORKLOAD="2 4 100 6 64"] benchmarks/cpu-per-request.sh [LABEL]
# Runs `benchmarks/peers/run courier $WORKLOAD` (workers, clients, in flight, seconds, size) and samples /proc for 3 s
# in the middle of it.
set -euo pipefail
courier=${COURIER:?set COURIER to the courier executable (dotnet publish src/Courier.Cli -c Release -o DIR)}
peers=${PEERS:-$(cd "$(dirname "$0")/peers" && pwd)}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
read -ra workload <<<"${WORKLOAD:-2 4 100 6 64}"
(cd "$peers" && COURIER=$courier ./run courier "${workload[@]}" >"$out" 2>&1) &
runner=$!
ticks() { # CPU ticks (user + system) of all processes of one role
  local sum=0 p
  for p in $(pgrep -f "courier $1" || true); do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$sum"
}
sleep $((2 + ${WARMUP:-2})) # past the load generator's warm-up (benchmarks/peers/run, WARMUP)
b0=$(ticks broker); w0=$(ticks worker); c0=$(ticks bench); t0=$(date +%s.%N)
sleep 3
b1=$(ticks broker); w1=$(ticks worker); c1=$(ticks bench); t1=$(date +%s.%N)
wait "$runner"
rps=$(tail -n 1 "$out" | sed -E 's/.*"rps":([0-9.]+).*/\1/')
hz=$(getconf CLK_TCK)
awk -v b=$((b1 - b0)) -v w=$((w1 - w0)) -v c=$((c1 - c0)) -v t0="$t0" -v t1="$t1" -v rps="$rps" -v hz="$hz" -v label="${1:-}" 'BEGIN {
  k = 1e6 / hz / (t1 - t0) / rps
  printf "req/s %7.0f  CPU us/request: total %.1f  broker %.1f  workers %.1f  bench %.1f  %s\n", rps, (b + w + c) * k, b * k, w * k, c * k, label }'
