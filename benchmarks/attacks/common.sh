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
  for _ in $(seq 600); do grep -q "listening on" "$log.out" 2>/dev/null && break; sleep 0.1; done
  endpoint=$(grep -o 'tcp://[0-9.]*:[0-9]*' "$log.out" | head -n 1)
}

# serve ROLE: a `courier server` or `courier broker` on a loopback port (with one worker for a broker), as start does.
serve() {
  start "$1" --bind "tcp://127.0.0.1:*"
  if [ "$1" = broker ]; then
    "$courier" worker --connect "$endpoint" >/dev/null 2>&1 & pids+=($!)
    sleep 2
  fi
}

# peak_rss PID WHILE: the largest resident set of PID, in MiB, sampled every 0.2 s while process WHILE runs.
peak_rss() {
  local peak=0 now
  while kill -0 "$2" 2>/dev/null; do
    now=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status" 2>/dev/null || echo 0)
    (( now > peak )) && peak=$now
    sleep 0.2
  done
  echo "$peak"
}

rss() { awk '/VmRSS/ {print int($2/1024) " MiB"}' "/proc/$1/status" 2>/dev/null || echo "dead"; }
alive() { kill -0 "$1" 2>/dev/null && echo alive || echo "DEAD"; }

# canary ENDPOINT SECONDS: one request at a time for SECONDS; prints its errors.
canary() {
  "$courier" bench --connect "$1" --clients 1 --inflight 1 --duration "${2}s" --size 64 --json | tail -n 1 |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print("canary: %d requests, %d errors" % (r["requests"], r["errors"]))'
}
