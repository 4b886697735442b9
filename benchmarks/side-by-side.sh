#!/usr/bin/env bash
# Two courier builds measured at the same time, each on a CPU of its own, then with the CPUs swapped: the steadiest A/B
# this noisy 2-core machine allows. Alternated runs (compare.sh) see the machine change between them (one build's
# req/s moved 70–430 k in half an hour); run side by side, both builds see the same minutes, and the ratio B ÷ A of
# a build against itself stayed within 0.92–1.14 (median 0.98, 8 pairs, 2026-12-03). Each build runs the whole brokered workload (broker,
# workers, load generator) pinned to its CPU, so it measures the CPU each request costs, not the cross-CPU wake-ups
# that dominate the unpinned figures.
#   benchmarks/side-by-side.sh A_COURIER B_COURIER [ROUNDS=3] [WORKLOAD="2 4 100 6 64"]
# WORKLOAD is benchmarks/peers/run's WORKERS CLIENTS INFLIGHT SECONDS SIZE. Prints each pair and the median of B ÷ A.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a=${1:?usage: $0 A_COURIER B_COURIER [ROUNDS] [WORKLOAD]} b=${2:?usage: $0 A_COURIER B_COURIER [ROUNDS] [WORKLOAD]}
rounds=${3:-3}
read -ra workload <<<"${4:-2 4 100 6 64}"
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p" "$2" | tail -n 1; }
ratios=()
for r in $(seq "$rounds"); do
  for swap in 0 1; do
    (COURIER=$a taskset -c "$swap" "$here/peers/run" courier "${workload[@]}" >"$out/a" 2>&1) &
    (COURIER=$b taskset -c $((1 - swap)) "$here/peers/run" courier "${workload[@]}" >"$out/b" 2>&1) &
    wait
    ra=$(field rps "$out/a") rb=$(field rps "$out/b")
    [ -n "$ra" ] && [ -n "$rb" ] || { echo "a run failed:" >&2; tail -n 5 "$out/a" "$out/b" >&2; exit 1; }
    ratio=$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.3f", b / a }')
    ratios+=("$ratio")
    printf 'round %d  A on cpu%d: %7.0f req/s (p99 %6d us)   B: %7.0f req/s (p99 %6d us)   B/A %s\n' \
      "$r" "$swap" "$ra" "$(field p99_us "$out/a")" "$rb" "$(field p99_us "$out/b")" "$ratio"
  done
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "B/A median %.3f over %d pairs (%.3f to %.3f)\n", m, NR, v[1], v[NR] }'
