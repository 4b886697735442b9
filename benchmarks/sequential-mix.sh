#!/usr/bin/env bash
# Which part of a one-request-at-a-time round trip costs what: libzmq's C peers and Courier, mixed.
#   [CPUS=0] COURIER=/path/to/courier benchmarks/sequential-mix.sh [ROUNDS]
# Each round runs, alternated, 4 s of one request in flight with one worker, and prints the load generator's p50:
#   c/c            lb_bench client -> lb_bench broker (zmq_proxy) -> lb_bench worker (REP)
#   c/courier      lb_bench client -> courier broker -> courier worker (the C client's "", body is a stock REQ request)
#   courier/courier  courier bench -> courier broker -> courier worker
# lb_bench is ../shared/bench-peers' libzmq program, built into /tmp/peers by its `build`. CPUS confines every process
# to those CPUs (taskset), as in sequential-pairs.sh.
set -euo pipefail
courier=${COURIER:?set COURIER to the courier executable (dotnet publish src/Courier.Cli -c Release -o DIR)}
lb=${LB_BENCH:-/tmp/peers/lb_bench}
rounds=${1:-5}
pin=()
[ -n "${CPUS:-}" ] && pin=(taskset -c "$CPUS")
[ -x "$lb" ] || { echo "no $lb: run ../shared/bench-peers/build first" >&2; exit 2; }

run() { # CLIENT BROKER -> p50 in microseconds
  local fe=$((40000 + RANDOM % 10000)) pids=() out
  if [ "$2" = c ]; then
    "${pin[@]}" "$lb" broker "$fe" $((fe + 1)) & pids+=($!); sleep 0.3
    "${pin[@]}" "$lb" worker $((fe + 1)) & pids+=($!)
  else
    "${pin[@]}" "$courier" broker --bind "tcp://127.0.0.1:$fe" >/dev/null 2>&1 & pids+=($!); sleep 0.5
    "${pin[@]}" "$courier" worker --connect "tcp://127.0.0.1:$fe" >/dev/null 2>&1 & pids+=($!)
  fi
  sleep 1
  if [ "$1" = c ]; then
    out=$("${pin[@]}" "$lb" client "$fe" 1 1 4 64)
  else
    out=$("${pin[@]}" "$courier" bench --connect "tcp://127.0.0.1:$fe" --clients 1 --inflight 1 --duration 4s --size 64 --json | tail -n 1)
  fi
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  sed -E 's/.*"p50_us": ?([0-9.]+).*/\1/' <<<"$out"
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for r in $(seq "$rounds"); do
  for pair in "c c" "c courier" "courier courier"; do
    set -- $pair
    p50=$(run "$1" "$2")
    echo "round $r  $1/$2  p50 $p50 us"
    echo "$1/$2 $p50" >>"$results"
  done
done
awk '{s[$1] += $2; n[$1]++} END {for (k in s) printf "mean %-16s p50 %.1f us\n", k, s[k] / n[k]}' "$results" | sort
