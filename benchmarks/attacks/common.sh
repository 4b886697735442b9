# Shared by benchmarks/attacks/*.sh: a courier process to attack, its RSS, and a canary that must see no errors.
#   COURIER=/path/to/courier (dotnet publish src/Courier.Cli -c Release -o DIR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
courier=${COURIER:?set COURIER to the courier executable (dotnet publish src/Courier.Cli -c Release -o DIR)}
attack=(/usr/bin/python3 "$here/attack.py")
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null || true' EXIT
log=$(mktemp)

# start ROLE ARGS…: starts `courier ROLE ARGS…` (its log in $log), sets $pid and $endpoint.
start() {
  "$courier" "$@" >"$log.out" 2>"$log" & pid=$!; pids+=("$pid")
  for _ in $(seq 100); do grep -q "listening on" "$log.out" 2>/dev/null && break; sleep 0.1; done
  endpoint=$(grep -o 'tcp://[0-9.]*:[0-9]*' "$log.out" | head -n 1)
}

rss() { awk '/VmRSS/ {print int($2/1024) " MiB"}' "/proc/$1/status" 2>/dev/null || echo "dead"; }
alive() { kill -0 "$1" 2>/dev/null && echo alive || echo "DEAD"; }

# canary ENDPOINT SECONDS: one request at a time for SECONDS; prints its errors.
canary() {
  "$courier" bench --connect "$1" --clients 1 --inflight 1 --duration "${2}s" --size 64 --json | tail -n 1 |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print("canary: %d requests, %d errors" % (r["requests"], r["errors"]))'
}
