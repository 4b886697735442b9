#!/usr/bin/env bash
# What idle connections cost a server or a broker: its memory with N idle clients connected (each asked once, so the
# process knows the peer), and the throughput of ACTIVE busy clients with and without them. Every process on 127.0.0.1.
#   [COURIER=/path/to/courier] benchmarks/connections/run.sh server|broker [N=10000] [ACTIVE=100]
# The descriptor limit is raised to the hard limit for the processes it starts; the idle clients are spread over
# processes of 4,000 (a libzmq socket holds two descriptors). A listener takes at most TransportOptions.MaxConnections
# (10,000) connections, and at most 3/4 of its own descriptor limit: N + ACTIVE must fit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
role=${1:?server or broker}
n=${2:-10000}
active=${3:-100}
courier=${COURIER:-$here/../peers/out/courier/courier}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
gcc -O2 -o "$work/idle-clients" "$here/idle-clients.c" -lzmq

rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$1/status"; }
port=$((20000 + RANDOM % 10000))
endpoint=tcp://127.0.0.1:$port
"$courier" "$role" --bind "$endpoint" >"$work/$role.log" 2>&1 &
target=$!
pids+=("$target")
if [ "$role" = broker ]; then
  "$courier" worker --connect "$endpoint" --service echo --concurrency 200 >"$work/worker.log" 2>&1 &
  pids+=("$!")
fi
sleep 2
bench() { "$courier" bench --connect "$endpoint" --service echo --clients "$active" --inflight 10 --duration 5s --json 2>/dev/null | tail -n 1; }

before=$(rss "$target")
alone=$(bench)
chunks=0
for ((left = n; left > 0; left -= 4000)); do
  "$work/idle-clients" "$endpoint" "$((left < 4000 ? left : 4000))" 600 >"$work/idle.$chunks.out" 2>&1 &
  pids+=("$!")
  chunks=$((chunks + 1))
done
ready() { cat "$work"/idle.*.out 2>/dev/null | awk '/^ready/ {sum += $2} END {print sum + 0}'; }
for _ in $(seq 120); do [ "$(ready)" -ge "$n" ] && break; sleep 1; done
[ "$(ready)" -ge "$n" ] || { echo "only $(ready) of $n idle clients were answered: $(cat "$work"/idle.*.out)" >&2; exit 1; }
with_idle=$(rss "$target")
fds=$(ls "/proc/$target/fd" | wc -l)
loaded=$(bench)
field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p"; }
echo "$role: RSS ${before} MiB alone, ${with_idle} MiB with $n idle connections" \
  "($(awk -v a="$before" -v b="$with_idle" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }') KiB each), $fds descriptors"
echo "$active active clients × 10 in flight: $(field rps <<<"$alone") req/s (p99 $(field p99_us <<<"$alone") us) alone," \
  "$(field rps <<<"$loaded") req/s (p99 $(field p99_us <<<"$loaded") us) beside $n idle connections; errors $(field errors <<<"$alone")/$(field errors <<<"$loaded")"
