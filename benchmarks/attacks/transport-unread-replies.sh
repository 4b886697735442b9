#!/usr/bin/env bash
# Issue #13: a client asks for COUNT echoes of SIZE bytes (default 500 × 1 MiB) and never reads one. The high-water mark
# bounds messages (10,000), not bytes: the server, or the broker, held every reply. Now what one peer leaves unwritten is
# bounded by TransportOptions.MaxPendingBytesPerPeer (32 MiB; both transports: for the managed one, COURIER names a
# script that runs courier with --transport managed added); the rest is dropped and logged.
# PACE seconds between requests (default 0.02) keep the inbound queue empty: the RSS then shows what is held outbound.
#   COURIER=/path/to/courier benchmarks/attacks/transport-unread-replies.sh [COUNT] [SIZE] [PACE]
source "$(dirname "$0")/common.sh"
count=${1:-500}
size=${2:-1048576}
pace=${3:-0.02}
for role in server broker; do
  serve "$role"
  echo "== $role: RSS before $(rss "$pid")"
  canary "$endpoint" 20 & c=$!
  out=$(mktemp)
  "${attack[@]}" noread "$endpoint" "$count" "$size" 25 "$pace" >"$out" & a=$!
  peak=0
  for _ in $(seq 1200); do # while the attacker sends, and 10 s while it holds on, never reading
    grep -q holding "$out" && [ "${held:=0}" -ge 20 ] && break
    grep -q holding "$out" && held=$((held + 1))
    now=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.5
  done
  unset held
  cat "$out"
  echo "   RSS peak while it sent and held on ${peak} MiB, $(alive "$pid")"
  wait "$c"
  wait "$a"
  echo "   RSS after it left $(rss "$pid"); $(grep -c 'has not read' "$log" || true) over-budget log lines"
  kill -9 "$pid"
  [ "$role" = broker ] && kill -9 "${pids[-1]}" 2>/dev/null || true
done
