#!/bin/sh
# Stand-in only: Debian's nginx with the stream module loaded, as the official image's nginx has it built in.
# nginx keeps only the last -g, so the module goes in front of the caller's own -g directives.
prev=""
load="load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
globals=""
for arg in "$@"; do
    shift
    if [ "$prev" = "-g" ]; then globals="$arg"; prev=""; continue; fi
    if [ "$arg" = "-g" ]; then prev="-g"; continue; fi
    set -- "$@" "$arg"
done
exec /usr/sbin/nginx -g "$load $globals" "$@"
