#!/usr/bin/env bash
# Issue #13: at the descriptor limit libzmq's I/O thread spun on accept4 = EMFILE and the runtime aborted ("Out of
# memory.") after ~1,036 connections under ulimit -n 1024. Now a listener holds at most MaxConnections, never more than
# 3/4 of RLIMIT_NOFILE (768 here); past it new connections are closed at once, and idle ones after the 10 s handshake
# timeout.
#   COURIER=/path/to/courier benchmarks/attacks/transport-connections.sh [CONNECTIONS]
source "$(dirname "$0")/common.sh"
count=${1:-2000}
courier_real=$courier
courier=$(mktemp); printf '#!/usr/bin/env bash\nulimit -n 1024; exec %q "$@"\n' "$courier_real" >"$courier"; chmod +x "$courier"
start server --bind "tcp://127.0.0.1:*" --transport native
courier=$courier_real
echo "== server under ulimit -n 1024: RSS before $(rss "$pid"), fds $(ls /proc/$pid/fd | wc -l)"
canary "$endpoint" 15 & c=$!
port=${endpoint##*:}
"${attack[@]}" connections 127.0.0.1 "$port" "$count" 5 &
a=$!
sleep 4; echo "   during: fds $(ls /proc/$pid/fd 2>/dev/null | wc -l), RSS $(rss "$pid"), $(alive "$pid")"
wait "$a"; wait "$c"
echo "   after: RSS $(rss "$pid"), $(alive "$pid"); refusals logged: $(grep -c 'limit of' "$log" || true) lines"
canary "$endpoint" 2
