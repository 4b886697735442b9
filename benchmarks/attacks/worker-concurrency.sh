#!/usr/bin/env bash
# Issue #13: a hostile or third-party broker sent 200 k REQUESTs to `courier worker --concurrency 10 --delay 1s`; all ran
# at once (RSS 45 -> 193 MB). Now the worker runs 10 and answers the rest 503 at once.
#   COURIER=/path/to/courier benchmarks/attacks/worker-concurrency.sh [REQUESTS]
source "$(dirname "$0")/common.sh"
requests=${1:-200000}
port=$((30000 + RANDOM % 20000))
"${attack[@]}" broker "tcp://127.0.0.1:$port" "$requests" & a=$!
sleep 0.5
"$courier" worker --connect "tcp://127.0.0.1:$port" --protocol mdp --concurrency 10 --delay 1s >"$log.out" 2>"$log" & pid=$!; pids+=("$pid")
sleep 1; echo "== worker: RSS $(rss "$pid")"
wait "$a"
echo "   RSS after $(rss "$pid"), $(alive "$pid"); warnings logged: $(wc -l <"$log") lines"
