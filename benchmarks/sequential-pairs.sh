#!/usr/bin/env bash
# Sequential p50 (one request in flight, one worker) of libzmq's C peers and of one or more Courier builds, alternated
# round by round, with each round's Courier / libzmq ratio and, at the end, the mean and median ratio per build.
#   [CPUS=0] benchmarks/sequential-pairs.sh ROUNDS COURIER [COURIER...]
# CPUS confines every process to those CPUs (taskset). With CPUS=0 every hand-off is a same-CPU switch, which takes
# the machine's cost of waking an idle vCPU (tens of µs here) out of the figure: what is left is the software's own.
# Runs benchmarks/peers/run libzmq|courier 1 1 1 SECONDS 64 (SECONDS from $SECONDS_PER_RUN, default 4); odd rounds
# run libzmq first, even rounds last.
set -euo pipefail
rounds=${1:?usage: [CPUS=0] sequential-pairs.sh ROUNDS COURIER [COURIER...]}
shift
[ $# -gt 0 ] || { echo "name at least one courier executable" >&2; exit 2; }
peers=${PEERS:-$(cd "$(dirname "$0")/peers" && pwd)}
seconds=${SECONDS_PER_RUN:-4}
pin=()
[ -n "${CPUS:-}" ] && pin=(taskset -c "$CPUS")
p50() { sed -E 's/.*"p50_us": ?([0-9.]+).*/\1/'; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
run_one() { # SYSTEM -> p50 in microseconds; SYSTEM is libzmq or a courier executable
  if [ "$1" = libzmq ]; then
    (cd "$peers" && "${pin[@]}" ./run libzmq 1 1 1 "$seconds" 64 | tail -n 1 | p50)
  else
    (cd "$peers" && COURIER=$1 "${pin[@]}" ./run courier 1 1 1 "$seconds" 64 | tail -n 1 | p50)
  fi
}
for r in $(seq "$rounds"); do
  # Odd rounds run libzmq first, even rounds last: a drift within a round does not favour either side.
  order=(libzmq "$@")
  if [ $((r % 2)) -eq 0 ]; then
    order=()
    for ((i = $#; i >= 1; i--)); do order+=("${!i}"); done
    order+=(libzmq)
  fi
  declare -A p50s=()
  for s in "${order[@]}"; do p50s[$s]=$(run_one "$s"); done
  base=${p50s[libzmq]}
  line="round $r  libzmq $base us"
  for c in "$@"; do
    ratio=$(awk -v a="${p50s[$c]}" -v b="$base" 'BEGIN { printf "%.3f", a / b }')
    line="$line | $c ${p50s[$c]} us ($ratio)"
    echo "$c $ratio" >>"$results"
  done
  echo "$line"
  unset p50s
done
for c in "$@"; do
  grep -F "$c " "$results" | awk '{print $2}' | sort -n | awk -v c="$c" '
    { v[NR] = $1; s += $1 }
    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%s: Courier / libzmq over %d rounds: mean %.3f, median %.3f (%.3f-%.3f)\n", c, NR, s / NR, m, v[1], v[NR] }'
done
