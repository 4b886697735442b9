#!/usr/bin/env bash
# Issue #13: a broker that sends a worker requests and never reads its replies. The worker's connection had no byte
# budget: its socket queued replies up to the high-water mark (10,000 messages of any size). Now it refuses past
# TransportOptions.MaxPendingBytesPerPeer (32 MiB), the worker holds up to as much again, then connects anew.
#   COURIER=/path/to/courier benchmarks/attacks/worker-unread-broker.sh [COUNT] [SIZE]
source "$(dirname "$0")/common.sh"
count=${1:-1000}
size=${2:-1048576}
port=$((30000 + RANDOM % 20000))
"${attack[@]}" unreadbroker "tcp://127.0.0.1:$port" "$count" "$size" 10 & a=$!
sleep 0.5
"$courier" worker --connect "tcp://127.0.0.1:$port" --protocol mdp --concurrency 100 >"$log.out" 2>"$log" & pid=$!; pids+=("$pid")
sleep 1; echo "== worker, $count requests of $size bytes from a broker that never reads: RSS $(rss "$pid")"
peak=$(peak_rss "$pid" "$a")
echo "   peak RSS $peak MiB, after the broker left $(rss "$pid"), $(alive "$pid"); log: $(wc -l <"$log") lines"
grep -m 2 -o "holds more bytes[^;]*" "$log" || true
