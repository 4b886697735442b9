#!/usr/bin/env bash
# CPU time per request by role and thread of any system of the bench-peers workload, Courier's and the peers' alike:
# where a system spends what it spends (a loop against the C peer's thread, libzmq's I/O threads of each side).
#   [COURIER=/path/to/courier] [TOPOLOGY=…] [WARMUP=2] benchmarks/cpu-per-thread.sh SYSTEM WORKERS CLIENTS INFLIGHT SECONDS SIZE
# Runs `benchmarks/peers/run` with those arguments (SECONDS at least 6) and reads /proc/<pid>/task/*/stat of every
# process the run started, twice, 3 s apart in the middle of the measured part. Prints the run's JSON line, then one
# row per role and thread name: µs of CPU (user + system) per request of the whole run, summed over the threads of
# that name (their count in brackets). Threads that start or end between the two readings are left out.
set -euo pipefail
[ $# -eq 6 ] || { sed -n '3,4p' "$0" >&2; exit 2; }
[ "$5" -ge 6 ] 2>/dev/null || { echo "SECONDS: 6 or more (3 s are sampled in the middle)" >&2; exit 2; }
peers=$(cd "$(dirname "$0")/peers" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$peers/run" "$@" >"$out/run" 2>&1 &
runner=$!

# Every process below the run, with a role read off its command line: the first argument that is no path and no
# option (`courier broker …` → broker, `libzmq-peer worker …` → worker, `python3 peer.py client …` → client).
descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do echo "$p"; descendants "$p"; done
}
snap() {
  local p t role
  for p in $(descendants "$runner"); do
    role=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | awk 'NR > 1 && !/\// && !/^-/ && !/\.py$/ {print; exit}') || continue
    [ -n "$role" ] || role=$(basename "$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n 1)")
    for t in /proc/"$p"/task/*; do
      # comm may hold spaces ("ZMQbg/IO/0", ".NET Tiered Com…"): the ticks follow the ')' that closes it in stat.
      echo "$role|$(tr ' ' _ <"$t/comm") ${t##*/} $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
    done 2>/dev/null
  done
}
sleep $((2 + ${WARMUP:-2})) # the processes' start and the load generator's warm-up (benchmarks/peers/run, WARMUP)
snap >"$out/a"
t0=$(date +%s.%N)
sleep 3
snap >"$out/b"
t1=$(date +%s.%N)
wait "$runner" || { cat "$out/run" >&2; exit 1; }
line=$(tail -n 1 "$out/run")
echo "$line"
rps=$(sed -E 's/.*"rps":([0-9.]+).*/\1/' <<<"$line")
awk -v hz="$(getconf CLK_TCK)" -v seconds="$(echo "$t1 - $t0" | bc)" -v rps="$rps" '
  NR == FNR { before[$2] = $3; next }
  ($2 in before) && $3 > before[$2] {
    us = ($3 - before[$2]) * 1e6 / hz / seconds / rps
    sum[$1] += us; threads[$1]++; total += us
  }
  END {
    printf "%-34s %10s\n", "role|thread", "µs/request"
    for (k in sum) printf "%-34s %10.2f  (%d)\n", k, sum[k], threads[k] | "sort"
    close("sort")
    printf "%-34s %10.2f\n", "total", total
  }' "$out/a" "$out/b"
