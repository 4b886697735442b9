#!/usr/bin/env bash
# libzmq bounds frames, not messages, and keeps every frame until a message's last: empty frames flagged "more" cost it
# 64 bytes of memory for 2 sent. A server held 1.2 GB after 55 MB of them (and would have grown until the host ran
# out). Now, past TransportOptions.NativeHeapBudget (a quarter of the memory available, at most 1 GiB), the listener
# closes the connections that sent the most without finishing a message, and gives the memory back.
#   COURIER=/path/to/courier benchmarks/attacks/transport-unfinished-message.sh [MEGABYTES] [SECONDS]
source "$(dirname "$0")/common.sh"
megabytes=${1:-100}
seconds=${2:-30}
start server --bind "tcp://127.0.0.1:*"
echo "== server: RSS before $(rss "$pid")"
canary "$endpoint" "$((seconds / 2))" & c=$!
port=${endpoint##*:}
"${attack[@]}" unfinished 127.0.0.1 "$port" "$megabytes" "$seconds" & a=$!
peak=$(peak_rss "$pid" "$a")
wait "$c"
sleep 2
echo "   RSS peak ${peak} MiB, after $(rss "$pid"), $(alive "$pid"); $(grep -c 'without finishing a message' "$log" || true) connection(s) closed for it"
