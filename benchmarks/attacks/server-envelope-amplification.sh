#!/usr/bin/env bash
# Issue #13: a client batch (CURB03) behind a 1 MiB envelope frame, 1,000 empty records. Each record's reply used to
# repeat the envelope: +1,001 MiB on the server, +1,002 MiB on the broker. Now the batch is dropped (its envelope copies
# would exceed 4x its size) and a frame longer than a routing id (255 bytes) never passes for one.
#   COURIER=/path/to/courier benchmarks/attacks/server-envelope-amplification.sh
source "$(dirname "$0")/common.sh"
for role in server broker; do
  serve "$role" # a broker gets an echo worker: the canary's requests need one
  echo "== $role: RSS before $(rss "$pid")"
  service=echo; [ "$role" = broker ] && service=$'bad\x01name'   # the broker answers invalid names itself: the attack needs no worker
  canary "$endpoint" 12 & c=$!
  "${attack[@]}" envelope "$endpoint" $((1024 * 1024)) 1000 "$service"
  wait "$c"
  echo "   RSS after $(rss "$pid"), $(alive "$pid")"
  kill -9 "$pid"
done
