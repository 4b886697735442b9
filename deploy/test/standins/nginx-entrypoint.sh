#!/bin/sh
# Stand-in only: what the official nginx image's entrypoint does that deploy/docker-compose.yml relies on: render
# each /etc/nginx/templates/NAME.template into $NGINX_ENVSUBST_OUTPUT_DIR/NAME, filling in the environment's variables.
set -eu
templates=/etc/nginx/templates
out=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
if [ -d "$templates" ] && [ "$1" = nginx ]; then
    if [ ! -w "$out" ]; then
        echo "$0: $out is not writable; templates not rendered" >&2
    else
        vars=$(env | cut -d= -f1 | sed 's/^/$/' | tr '\n' ' ')
        for t in "$templates"/*.template; do
            [ -e "$t" ] || continue
            name=$(basename "$t" .template)
            envsubst "$vars" <"$t" >"$out/$name"
        done
    fi
fi
exec "$@"
