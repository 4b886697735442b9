# Sourced by the scripts that run Debian's nginx in front of courier processes on loopback (deploy/local-stack.sh,
# benchmarks/peers/run): finding nginx and its stream module, picking a port, and rendering the stream template that
# the nginx container uses too (courier-stream.conf.template), with loopback addresses. Each function prints what it
# found, or says why not on stderr and fails.

nginx_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

nginx_binary() {
    local nginx
    nginx=$(command -v nginx || true)
    [ -n "$nginx" ] || { [ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx; } || true
    [ -n "$nginx" ] || { echo "nginx is not installed: apt-get install -y nginx libnginx-mod-stream" >&2; return 1; }
    echo "$nginx"
}

# The main-context line that loads the stream module, or nothing when nginx has it built in.
nginx_stream_module() { # NGINX
    # Debian builds the stream module as a loadable module (package libnginx-mod-stream).
    local m
    for m in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
        [ -f "$m" ] && { echo "load_module $m;"; return; }
    done
    "$1" -V 2>&1 | grep -q -- '--with-stream\b' && return
    echo "nginx has no stream module: apt-get install -y libnginx-mod-stream" >&2
    return 1
}

# nginx cannot bind port 0 and tell which port it got, so a port is picked for it: below the kernel's ephemeral range,
# which the kernel never hands out (not to a `*` bind, not to an outgoing connection) and where the servers' own ports
# (bound `*`) are not. Left: a process that binds that very port by number at that moment; then nginx fails to bind.
nginx_pick_port() {
    local low high
    read -r low high </proc/sys/net/ipv4/ip_local_port_range
    if [ "$low" -gt 11000 ]; then
        echo $((10000 + RANDOM % (low - 10000)))
    elif [ "$high" -lt 64535 ]; then
        echo $((high + 1 + RANDOM % (65535 - high)))
    else
        echo "the ephemeral port range ($low-$high) leaves no room to pick a port for nginx; pass one" >&2
        return 1
    fi
}

# The stream block for UPSTREAMS (`server HOST:PORT …;` lines) listening on LISTEN, from the shared template.
nginx_render_stream() { # UPSTREAMS LISTEN PROXY_TIMEOUT
    sed -e "s|\${COURIER_RESOLVER}||" \
        -e "s|\${COURIER_UPSTREAM_SERVERS}|$1|" \
        -e "s|\${COURIER_LISTEN}|$2|" \
        -e "s|\${COURIER_PROXY_TIMEOUT}|$3|" \
        "$nginx_here/courier-stream.conf.template"
}
