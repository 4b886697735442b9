#!/usr/bin/env bash
# At-most-once keys a client picks to collide: request ids (k << 32) | k all hashed alike under the generated record
# hash, so every reply the broker remembered for a repeat went into one bucket of its ledger, each insert walking all
# the others on the broker's loop. Now the key's 192 bits go through the process's seeded HashCode.
#   COURIER=/path/to/courier benchmarks/attacks/broker-ledger-collisions.sh [REQUESTS] [PER_BATCH]
source "$(dirname "$0")/common.sh"
count=${1:-60000}
per_batch=${2:-2000}
start broker --bind "tcp://127.0.0.1:*"
broker=$pid
# --record: the service has an effect, so it is not idempotent and the broker remembers each reply for a repeat.
"$courier" worker --connect "$endpoint" --service echo --record /dev/null >/dev/null 2>&1 & pids+=($!)
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(ticks "$broker")
echo "== broker: RSS before $(rss "$broker")"
canary "$endpoint" 20 & c=$!
"${attack[@]}" collide "$endpoint" "$count" "$per_batch"
used=$(( $(ticks "$broker") - before ))
wait "$c"
echo "   broker CPU during the attack: $((used * 1000 / $(getconf CLK_TCK))) ms; RSS after $(rss "$broker"), $(alive "$broker")"
