#!/usr/bin/env bash
# Issue #13: every dropped message logged a warning: 1 M one-byte messages wrote 127 MB of log. Now the first 10 of a
# kind per minute are logged, then one summary line per minute with exact counts.
#   COURIER=/path/to/courier benchmarks/attacks/server-log-flood.sh [MESSAGES]
source "$(dirname "$0")/common.sh"
count=${1:-1000000}
start server --bind "tcp://127.0.0.1:*"
echo "== server: RSS before $(rss "$pid")"
canary "$endpoint" 10 & c=$!
"${attack[@]}" junk "$endpoint" "$count"
wait "$c"
echo "   RSS after $(rss "$pid"), $(alive "$pid"); log: $(wc -c <"$log") bytes, $(wc -l <"$log") lines"
