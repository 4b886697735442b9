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
  serve "$role"
  echo "== $role: RSS before $(rss "$pid")"
  canary "$endpoint" 20 & c=$!
  out=$(mktemp)
  "${attack[@]}" frames "$endpoint" "$count" "$frames" 10 >"$out" & a=$!
  peak=$(peak_rss "$pid" "$a")
  cat "$out"
  echo "   RSS peak while it sent and held on ${peak} MiB, $(alive "$pid")"
  wait "$c"
  sleep 1
  echo "   RSS after it left $(rss "$pid"); $(grep -c 'has not read' "$log" || true) over-budget log lines, $(grep -c 'Dropped a message of' "$log" || true) too-many-frames lines"
  kill -9 "$pid"
  [ "$role" = broker ] && kill -9 "${pids[-1]}" 2>/dev/null || true
done
