#!/usr/bin/env bash
# libzmq bounds a frame's size, never how many frames a message has, and holds each frame in a 64-byte slot: a client
# asking for echoes of bodies of many empty frames, and never reading one, made a server or broker hold 32 bytes for
# each byte it sent, uncounted against TransportOptions.MaxPendingBytesPerPeer (each reply was "small"). Now frames count
# 64 bytes each against that budget, and a message of more than TransportOptions.MaxFramesPerMessage (1,024) is
# dropped whole.
#   COURIER=/path/to/courier benchmarks/attacks/transport-many-frames.sh [COUNT] [FRAMES]
source "$(dirname "$0")/common.sh"
count=${1:-10000}
frames=${2:-990}
for role in server broker; do
  start "$role" --bind "tcp://127.0.0.1:*"
  if [ "$role" = broker ]; then
    "$courier" worker --connect "$endpoint" >/dev/null 2>&1 & pids+=($!)
    sleep 2
  fi
  echo "== $role: RSS before $(rss "$pid")"
  canary "$endpoint" 20 & c=$!
  out=$(mktemp)
  "${attack[@]}" frames "$endpoint" "$count" "$frames" 10 >"$out" & a=$!
  peak=0
  while kill -0 "$a" 2>/dev/null; do
    now=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.2
  done
  cat "$out"
  echo "   RSS peak while it sent and held on ${peak} MiB, $(alive "$pid")"
  wait "$c"
  sleep 1
  echo "   RSS after it left $(rss "$pid"); $(grep -c 'has not read' "$log" || true) over-budget log lines, $(grep -c 'Dropped a message of' "$log" || true) too-many-frames lines"
  kill -9 "$pid"
  [ "$role" = broker ] && kill -9 "${pids[-1]}" 2>/dev/null || true
done
