#!/usr/bin/env bash
# Issue #13: a client asks for COUNT echoes of SIZE bytes (default 500 × 1 MiB) and never reads one. The high-water mark
# bounds messages (10,000), not bytes: the server, or the broker, held every reply. Now what one peer leaves unwritten is
# bounded by TransportOptions.MaxPendingBytesPerPeer (32 MiB; native transport); the rest is dropped and logged.
#   COURIER=/path/to/courier benchmarks/attacks/transport-unread-replies.sh [COUNT] [SIZE]
source "$(dirname "$0")/common.sh"
count=${1:-500}
size=${2:-1048576}
for role in server broker; do
  start "$role" --bind "tcp://127.0.0.1:0"
  if [ "$role" = broker ]; then
    "$courier" worker --connect "$endpoint" >/dev/null 2>&1 & pids+=($!)
    sleep 2
  fi
  echo "== $role: RSS before $(rss "$pid")"
  canary "$endpoint" 20 & c=$!
  out=$(mktemp)
  "${attack[@]}" noread "$endpoint" "$count" "$size" 25 >"$out" & a=$!
  for _ in $(seq 600); do grep -q holding "$out" && break; sleep 0.1; done
  cat "$out"
  peak=0
  for _ in $(seq 20); do # 10 s while the attacker holds on, never reading
    now=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.5
  done
  echo "   RSS peak while it held on ${peak} MiB, $(alive "$pid")"
  wait "$c"
  wait "$a"
  echo "   RSS after it left $(rss "$pid"); $(grep -c 'has not read' "$log" || true) over-budget log lines"
  kill -9 "$pid"
  [ "$role" = broker ] && kill -9 "${pids[-1]}" 2>/dev/null || true
done
