#!/usr/bin/env bash
# The docker-compose topology as real processes on loopback: N `courier server`s behind Debian's nginx, rendered
# from the same stream template as the nginx container (deploy/nginx/courier-stream.conf.template).
#
#   deploy/local-stack.sh up [--servers N] [--port P] [--proxy-timeout 60s] [--secure]   start; one line per process
#                       (--secure: CURVE keys by `courier keygen` into $COURIER_STACK_DIR/keys, servers admit the client key)
#                                                  (--port 0: nginx on a port the script picks, printed with it)
#   deploy/local-stack.sh down                                               stop exactly what `up` started
#
# The courier executable is $COURIER when set, else built from this checkout. State (pids, logs, the rendered nginx
# config, nginx's own prefix) lives in $COURIER_STACK_DIR (default /tmp/courier-local-stack), never in /etc/nginx.
# COURIER_SERVER_ARGS_<i> adds arguments to server i (from 1), e.g. COURIER_SERVER_ARGS_3="--delay 10ms".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=nginx/stream.sh
. "$here/nginx/stream.sh"
state=${COURIER_STACK_DIR:-/tmp/courier-local-stack}

die() { echo "local-stack: $*" >&2; exit 1; }

# The state directory holds the keys, the courier it builds and the pids `down` signals: it must be this user's alone.
# The default sits in /tmp, where another local user could make it first (with a key of theirs in the allow-list, or
# links where this script writes).
own_state() {
    [ -e "$state" ] || [ -L "$state" ] || mkdir -p -m 0700 "$state" || die "cannot create $state"
    [ -d "$state" ] && [ ! -L "$state" ] || die "$state is not a directory (a link is refused): remove it or set COURIER_STACK_DIR"
    local owner mode
    owner=$(stat -c %u "$state")
    mode=$(stat -c %a "$state")
    [ "$owner" = "$(id -u)" ] || die "$state belongs to uid $owner, not to you: remove it or set COURIER_STACK_DIR"
    (((8#$mode & 8#022) == 0)) || die "$state is writable by others (mode $mode): chmod go-w it, or set COURIER_STACK_DIR"
}

# Whether a pid from the pids file is still the process `up` started: after a crash or a reboot the number may belong
# to anything else. A server writes its output to this stack's log; nginx's master names this stack's config.
ours() { # role pid
    case $1 in
        nginx) [[ $(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) == *"$state/nginx.conf"* ]] ;;
        *) [[ $(readlink "/proc/$2/fd/1" 2>/dev/null) == "$state/logs/"* ]] ;;
    esac
}

courier_exe() {
    if [ -n "${COURIER:-}" ]; then
        [ -x "$COURIER" ] || die "COURIER=$COURIER is not executable"
        echo "$COURIER"
        return
    fi
    dotnet build "$root/src/Courier.Cli" -c Release -o "$state/bin" >"$state/build.log" 2>&1 \
        || die "building courier failed; see $state/build.log"
    echo "$state/bin/courier"
}

wait_for_line() { # file pattern seconds
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

wait_for_port() { # port seconds
    local deadline=$((SECONDS + $2))
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

up() {
    local servers=3 port=5555 proxy_timeout=60s secure=false
    while [ $# -gt 0 ]; do
        case $1 in
            --servers) servers=$2; shift 2 ;;
            --port) port=$2; shift 2 ;;
            --proxy-timeout) proxy_timeout=$2; shift 2 ;;
            --secure) secure=true; shift ;;
            *) die "unknown option $1 (usage: up [--servers N] [--port P] [--proxy-timeout 60s] [--secure])" ;;
        esac
    done
    [[ $servers =~ ^[1-9][0-9]*$ ]] || die "--servers takes a positive number"
    [[ $port =~ ^[0-9]+$ ]] && [ "$port" -le 65535 ] || die "--port takes a port number (0: pick one)"
    own_state
    [ ! -e "$state/pids" ] || die "a stack is already up (state in $state); run: $0 down"
    local nginx load
    nginx=$(nginx_binary) || exit 1
    load=$(nginx_stream_module "$nginx") || exit 1
    mkdir -p "$state/logs"
    : >"$state/pids"
    local courier upstreams="" i security=""
    courier=$(courier_exe)
    if $secure; then
        # CURVE (docs/security.md): one key pair for every replica (clients check one server key), one client pair in
        # the allow-list. nginx passes TCP and never holds a key: encryption runs end to end, client to server.
        rm -rf "$state/keys/allow" # only the key generated now is admitted
        mkdir -p "$state/keys/allow"
        "$courier" keygen --out "$state/keys/server" --force >/dev/null || die "courier keygen failed"
        "$courier" keygen --out "$state/keys/client" --force >/dev/null || die "courier keygen failed"
        cp "$state/keys/client.key" "$state/keys/allow/"
        security="--curve-secret $state/keys/server.key_secret --curve-allow $state/keys/allow"
        echo "keys $state/keys client flags: --curve-secret $state/keys/client.key_secret --curve-server $state/keys/server.key"
    fi
    for i in $(seq "$servers"); do
        local log="$state/logs/server-$i.log"
        local extra_var="COURIER_SERVER_ARGS_$i"
        # shellcheck disable=SC2086 # word splitting of the extra arguments is intended
        setsid "$courier" server --bind 'tcp://127.0.0.1:*' --name "server-$i" $security ${!extra_var:-} >"$log" 2>&1 </dev/null &
        local pid=$!
        echo "server $pid" >>"$state/pids"
        wait_for_line "$log" "listening on" 30 || { down; die "server-$i did not start; see $log"; }
        local endpoint
        endpoint=$(grep -o 'listening on tcp://[^ ]*' "$log" | head -n 1 | cut -d' ' -f3)
        upstreams+="server ${endpoint#tcp://} max_fails=2 fail_timeout=2s; "
        echo "server $pid $endpoint"
    done

    local pick=false attempt
    [ "$port" != 0 ] || pick=true
    for attempt in 1 2 3 4 5; do
        # If something still holds a picked port, nginx fails to bind it and the next attempt picks another.
        ! $pick || port=$(nginx_pick_port) || exit 1
        # The shared template: the same file the nginx container uses, with loopback addresses.
        nginx_render_stream "$upstreams" "127.0.0.1:$port" "$proxy_timeout" >"$state/courier-stream.conf"
        cat >"$state/nginx.conf" <<CONF
$load
daemon on;
pid $state/nginx.pid;
error_log $state/logs/nginx-error.log notice;
events { worker_connections 4096; }
include $state/courier-stream.conf;
CONF
        "$nginx" -t -q -p "$state" -c "$state/nginx.conf" 2>"$state/logs/nginx-test.log" \
            || { down; die "nginx rejected the rendered config: $(cat "$state/logs/nginx-test.log")"; }
        if "$nginx" -p "$state" -c "$state/nginx.conf" 2>"$state/logs/nginx-start.log"; then
            break
        fi
        cat "$state/logs/nginx-start.log" >>"$state/logs/nginx-error.log"
        if ! $pick || [ "$attempt" -eq 5 ] || ! grep -q "Address already in use" "$state/logs/nginx-start.log"; then
            down
            die "nginx did not start; see $state/logs/nginx-error.log"
        fi
    done
    wait_for_port "$port" 30 || { down; die "nginx does not listen on 127.0.0.1:$port"; }
    echo "nginx $(cat "$state/nginx.pid")" >>"$state/pids"
    echo "nginx $(cat "$state/nginx.pid") tcp://127.0.0.1:$port"
}

down() {
    own_state
    [ -e "$state/pids" ] || { echo "local-stack: nothing is up" >&2; return 0; }
    local role pid
    local -a mine=()
    while read -r role pid; do
        [[ $pid =~ ^[0-9]+$ ]] && ours "$role" "$pid" || { echo "local-stack: $role $pid is gone or not ours: left alone" >&2; continue; }
        mine+=("$role $pid")
    done <"$state/pids"
    for entry in "${mine[@]}"; do
        read -r role pid <<<"$entry"
        if [ "$role" = nginx ]; then
            # nginx's master takes its workers down with it.
            kill -QUIT "$pid" 2>/dev/null || true
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    local deadline=$((SECONDS + 15))
    for entry in "${mine[@]}"; do
        read -r role pid <<<"$entry"
        while kill -0 "$pid" 2>/dev/null; do
            if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
            sleep 0.1
        done
    done
    rm -f "$state/pids" "$state/nginx.pid"
    echo "local-stack: down"
}

case ${1:-} in
    up) shift; up "$@" ;;
    down) shift; down ;;
    *) echo "usage: $0 up [--servers N] [--port P (0: pick one)] [--proxy-timeout 60s] [--secure] | down" >&2; exit 2 ;;
esac
