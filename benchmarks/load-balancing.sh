#!/usr/bin/env bash
# Reproduces docs/load-balancing.md: nginx (per-connection) vs the broker (per-request) with one instance 10x slower.
#   COURIER=/path/to/courier [COURIER_WORKER_ARGS='--prefetch 0'] benchmarks/load-balancing.sh [SECONDS]
# Three instances, each handling 8 requests at once: two answer after 5 ms, one after 50 ms. The same
# `courier bench` load (6 connections x 20 in flight) goes through each front.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
courier=${COURIER:?set COURIER to the courier executable (dotnet publish src/Courier.Cli -c Release -o DIR)}
seconds=${1:-10}
load=(--clients 6 --inflight 20 --duration "${seconds}s" --size 64 --json)
port=$((30000 + RANDOM % 20000))

echo "== nginx in front of 3 servers (delays 5ms, 5ms, 50ms)"
export COURIER_STACK_DIR; COURIER_STACK_DIR=$(mktemp -d)
COURIER_SERVER_ARGS_1="--delay 5ms --concurrency 8" COURIER_SERVER_ARGS_2="--delay 5ms --concurrency 8" COURIER_SERVER_ARGS_3="--delay 50ms --concurrency 8" \
  COURIER="$courier" "$here/../deploy/local-stack.sh" up --servers 3 --port "$port" >/dev/null
trap '"$here/../deploy/local-stack.sh" down >/dev/null' EXIT
"$courier" bench --connect "tcp://127.0.0.1:$port" "${load[@]}" | tail -n 1
"$here/../deploy/local-stack.sh" down >/dev/null
trap - EXIT

echo "== broker with 3 workers (delays 5ms, 5ms, 50ms)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
"$courier" broker --bind "tcp://127.0.0.1:$port" >/dev/null & pids+=($!)
read -ra worker_args <<<"${COURIER_WORKER_ARGS:-}" # added to each worker's command, e.g. --prefetch 0
for d in 5ms 5ms 50ms; do "$courier" worker --connect "tcp://127.0.0.1:$port" --delay "$d" --concurrency 8 ${worker_args[@]+"${worker_args[@]}"} >/dev/null & pids+=($!); done
sleep 2
"$courier" bench --connect "tcp://127.0.0.1:$port" "${load[@]}" | tail -n 1
