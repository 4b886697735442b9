#!/usr/bin/env bash
# deploy/docker-compose.yml on real containers, as the test suite runs it (tests/Courier.Tests.Containers) and as a
# person can run it by hand:
#
#   deploy/test/stack.sh start             an engine (a Docker engine if one answers, else podman behind a socket of
#                                          its own), the images deploy/Dockerfile and the compose file name, the build
#   deploy/test/stack.sh compose ARGS…     docker-compose with deploy/docker-compose.yml and this folder's override
#   deploy/test/stack.sh engine ARGS…      the engine's own CLI (docker or podman), on the same engine
#   deploy/test/stack.sh stop              compose down (every profile), then stop what `start` started
#
# e.g.  deploy/test/stack.sh start && deploy/test/stack.sh compose up -d server nginx &&
#       deploy/test/stack.sh compose run --rm -T client request --connect tcp://nginx:5555 --service whoami
#
# Images that no registry here serves are replaced by local stand-ins (standins/, test fixtures, never shipped), built
# on a Debian base made with debootstrap; each is built once and kept, labelled with a hash of what made it, and
# rebuilt only when that changes. With podman there is no systemd to run HEALTHCHECKs: `start` runs them in a loop.
# State (the engine's socket, pids, logs) lives in $COURIER_CONTAINERS_DIR (default /tmp/courier-containers).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${COURIER_CONTAINERS_DIR:-/tmp/courier-containers}
project=${COMPOSE_PROJECT_NAME:-courier-test}
key_label=courier.test.inputs

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*" >&2; }

# ---- the engine ------------------------------------------------------------------------------------------------

# Written by `start`: ENGINE (docker|podman), DOCKER_HOST, CONTAINERS_CONF.
write_env() {
    printf 'ENGINE=%s\nDOCKER_HOST=%s\nCONTAINERS_CONF=%s\n' "$1" "$DOCKER_HOST" "${CONTAINERS_CONF:-}" >"$state/env"
}

load_env() {
    [ -f "$state/env" ] || die "not started: run $0 start first"
    # shellcheck disable=SC1091
    . "$state/env"
    export DOCKER_HOST CONTAINERS_CONF
    # docker-compose 1.x builds through the engine's API (podman serves no BuildKit).
    export COMPOSE_PROJECT_NAME=$project DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
}

engine() {
    if [ "$ENGINE" = podman ]; then podman "$@"; else docker "$@"; fi
}

compose() {
    local cmd=(docker-compose)
    command -v docker-compose >/dev/null || cmd=(docker compose)
    "${cmd[@]}" -f "$root/deploy/docker-compose.yml" -f "$here/docker-compose.override.yml" "$@"
}

start_podman() {
    command -v podman >/dev/null || die "neither a Docker engine nor podman: ./setup.sh installs podman"
    # The engine's defaults that this kind of machine cannot honour: its default ulimits cannot be set, and crun
    # refuses a hybrid cgroup layout (runc does not); netavark (with aardvark's DNS: containers find each other by
    # service name), not CNI, even where CNI's configuration is left over.
    cat >"$state/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
EOF
    CONTAINERS_CONF=$state/containers.conf
    DOCKER_HOST=unix://$state/podman.sock
    export CONTAINERS_CONF DOCKER_HOST
    CONTAINERS_CONF=$CONTAINERS_CONF setsid podman system service --time=0 "$DOCKER_HOST" \
        >"$state/podman-service.log" 2>&1 </dev/null &
    echo $! >"$state/podman-service.pid"
    local deadline=$((SECONDS + 60))
    until [ -S "$state/podman.sock" ] && docker_api_answers; do
        [ $SECONDS -lt $deadline ] || die "podman's socket did not answer; see $state/podman-service.log"
        sleep 0.2
    done
    # No systemd here, so nothing runs the HEALTHCHECKs: this loop does, every 2 s for a container not yet healthy
    # and every 10 s (the images' interval) for one that is. It reads the engine's settings from $state/env, written
    # first: written after, a loop that started faster than this script went on died at once ("not started"), and no
    # container ever turned healthy (seen once in CI on a loaded machine).
    write_env podman
    setsid "$0" health-loop >"$state/health-loop.log" 2>&1 </dev/null &
    echo $! >"$state/health-loop.pid"
}

docker_api_answers() {
    curl -fsS --max-time 2 --unix-socket "${DOCKER_HOST#unix://}" http://d/_ping >/dev/null 2>&1
}

# One check: its container's HEALTHCHECK, once; a slow one is logged.
health_check() {
    local started=$SECONDS rc=0
    timeout 30 podman healthcheck run "$1" >/dev/null 2>&1 || rc=$?
    [ $((SECONDS - started)) -lt 5 ] || echo "health-loop: $1 took $((SECONDS - started)) s (exit $rc)"
}

health_loop() {
    local pass=0 name status due
    declare -A checking=() # container → pid of its check in progress
    declare -A last=()     # container → when its last check started
    while true; do
        for name in "${!checking[@]}"; do
            kill -0 "${checking[$name]}" 2>/dev/null || unset 'checking[$name]'
        done
        # One listing for all containers (a podman call per container took seconds a pass on a loaded machine): the
        # status ends in "(starting)", "(healthy)" or "(unhealthy)" for a container with a HEALTHCHECK.
        due=()
        while read -r name status; do
            case $status in
                *'(healthy)') [ $((pass % 5)) -eq 0 ] || continue ;;
                *'(starting)' | *'(unhealthy)') ;;
                *) continue ;;
            esac
            [ -z "${checking[$name]:-}" ] || continue
            due+=("${last[$name]:-0} $name")
        done < <(podman ps --format '{{.Names}} {{.Status}}' 2>/dev/null)
        # Each check runs on its own, so a slow one holds back only its container's next; the longest unchecked first,
        # a few side by side (each is a process start in its container), not all: on a starved machine a check slower
        # than its timeout counts as failed.
        while read -r _ name; do
            [ -n "$name" ] || continue
            [ ${#checking[@]} -lt 3 ] || break
            health_check "$name" &
            checking[$name]=$!
            last[$name]=$SECONDS
        done < <(printf '%s\n' "${due[@]}" | sort -n)
        pass=$((pass + 1))
        sleep 2
    done
}

start() {
    mkdir -p "$state"
    [ ! -f "$state/env" ] || { say "already started (state in $state); stopping that first"; stop; }
    if docker info >/dev/null 2>&1; then
        ENGINE=docker
        DOCKER_HOST=${DOCKER_HOST:-}
    else
        ENGINE=podman
        start_podman
    fi
    write_env "$ENGINE"
    load_env
    say "engine: $ENGINE${DOCKER_HOST:+ at $DOCKER_HOST}"
    base_images
    local t=$SECONDS before
    before=$(engine image inspect --format '{{.Id}}' courier:latest 2>/dev/null || true)
    compose build >"$state/build.log" 2>&1 || { tail -40 "$state/build.log" >&2; die "the image did not build"; }
    say "built deploy/Dockerfile in $((SECONDS - t)) s"
    if [ -n "$before" ] && [ "$before" != "$(engine image inspect --format '{{.Id}}' courier:latest)" ]; then
        remove_earlier_builds
    fi
    echo "image courier:latest $(engine image inspect --format '{{.Size}}' courier:latest) bytes"
}

# After a rebuild: the earlier builds' images, untagged now, go (1.5 GB or more each, the build stage's layers). Only
# untagged ones made from the stand-ins (they carry their label), older than the new image, and none this build used
# (its log names every image it made or took from the cache: the build stage's last one has no tag, and nothing else
# refers to it). Removing one removes its untagged parents that nothing else uses.
remove_earlier_builds() {
    local used id
    used=" $(grep -oE '[0-9a-f]{12,64}' "$state/build.log" | cut -c1-12 | sort -u | tr '\n' ' ') "
    for id in $(engine images -q --filter dangling=true --filter "label=$key_label" --filter before=courier:latest); do
        case $used in *" ${id:0:12} "*) continue ;; esac
        engine rmi "$id" >/dev/null 2>&1 || true # in use by a container, or already gone with another
    done
}

stop_pid() { # file
    local pid
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    # Each was started with setsid: its process group is its own.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$1"
}

stop() {
    [ -f "$state/env" ] || return 0
    load_env
    compose --profile broker down --volumes --remove-orphans --timeout 5 >"$state/down.log" 2>&1 \
        || { cat "$state/down.log" >&2; say "compose down failed"; }
    stop_pid "$state/health-loop.pid"
    stop_pid "$state/podman-service.pid"
    rm -f "$state/env" "$state/podman.sock"
}

# ---- images that no registry here serves -------------------------------------------------------------------------

image_key() { # image
    engine image inspect --format "{{ index .Config.Labels \"$key_label\" }}" "$1" 2>/dev/null || true
}

# The FROM lines' images: present, pulled, or (when nothing can be pulled) a stand-in built here.
base_images() {
    local sdk runtime nginx
    sdk=$(from_image build)
    runtime=$(from_image final)
    nginx=$(awk '/^ *image: *nginx/ {print $2; exit}' "$root/deploy/docker-compose.yml")
    ensure_image "$sdk" sdk
    ensure_image "$runtime" "$(standin_for "$runtime")"
    ensure_image "docker.io/library/$nginx" nginx
}

# The image a stage of deploy/Dockerfile starts FROM (`build`, or `final` for the last stage), ARGs filled in.
from_image() {
    awk -v want="$1" '
        /^ARG [A-Z_]+=/ { split($2, kv, "="); arg[kv[1]] = kv[2] }
        /^FROM / {
            image = $2
            for (k in arg) gsub("\\$\\{" k "\\}", arg[k], image)
            if (want == "build" && $4 == "build") { print image; exit }
            last = image
        }
        END { if (want == "final") print last }' "$root/deploy/Dockerfile"
}

standin_for() { # image
    case $1 in
        */runtime-deps:*) echo runtime-deps ;;
        */runtime:*) echo runtime ;;
        *) die "no stand-in for $1" ;;
    esac
}

ensure_image() { # image standin
    local image=$1 standin=$2 key
    key=$(standin_key "$standin")
    case $(image_key "$image") in
        "$key") return ;;                                  # our stand-in, made from these very inputs
        '') engine image inspect "$image" >/dev/null 2>&1 && return ;; # the real image
    esac
    if timeout 120 "${ENGINE}" pull -q "$image" >/dev/null 2>&1; then
        say "pulled $image"
        return
    fi
    build_standin "$image" "$standin" "$key"
}

# What made a stand-in: its files, the base's recipe and, for the .NET ones, this machine's .NET.
standin_key() { # standin
    {
        declare -f debian_base build_standin
        cat "$here/standins/$1".* "$here"/standins/"$1"-*.sh 2>/dev/null || true
        case $1 in
            sdk) ls /usr/share/dotnet/sdk /usr/share/dotnet/shared/*; cat /usr/local/share/ca-certificates/* 2>/dev/null || true ;;
            runtime) ls /usr/share/dotnet/shared/Microsoft.NETCore.App ;;
        esac
    } | sha256sum | cut -c1-16
}

debian_base() {
    local image=localhost/courier-test/debian:bookworm key mirror rootfs
    key=$(declare -f debian_base | sha256sum | cut -c1-16)
    if [ "$(image_key "$image")" = "$key" ]; then
        echo "$image"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap is missing: ./setup.sh installs it"
    # The machine's own Debian mirror, read now (it is never written down).
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list.d/debian.sources"
    rootfs=$state/rootfs
    rm -rf "$rootfs"
    local t=$SECONDS
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
        || { tail -20 "$state/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | engine import --change "LABEL $key_label=$key" - "$image" >/dev/null
    rm -rf "$rootfs"
    say "made the Debian base $image with debootstrap in $((SECONDS - t)) s"
    echo "$image"
}

build_standin() { # image standin key
    local image=$1 standin=$2 key=$3 ctx base t=$SECONDS
    base=$(debian_base)
    ctx=$state/context-$standin
    rm -rf "$ctx"
    mkdir -p "$ctx/ca-certificates"
    cp "$here/standins/$standin".Containerfile "$ctx/Containerfile"
    cp "$here"/standins/"$standin"-*.sh "$ctx/" 2>/dev/null || true
    case $standin in
        sdk)
            cp -al /usr/share/dotnet "$ctx/dotnet" 2>/dev/null || cp -a /usr/share/dotnet "$ctx/dotnet"
            cp /usr/local/share/ca-certificates/*.crt "$ctx/ca-certificates/" 2>/dev/null || true ;;
        runtime)
            mkdir -p "$ctx/dotnet/shared"
            cp -a /usr/share/dotnet/dotnet /usr/share/dotnet/host "$ctx/dotnet/"
            cp -a /usr/share/dotnet/shared/Microsoft.NETCore.App "$ctx/dotnet/shared/" ;;
    esac
    engine build -q -f "$ctx/Containerfile" --build-arg "BASE=$base" \
        --build-arg "NUGET_CERT_REVOCATION_MODE=${NUGET_CERT_REVOCATION_MODE:-online}" \
        --label "$key_label=$key" -t "$image" "$ctx" >"$state/standin-$standin.log" 2>&1 \
        || { tail -20 "$state/standin-$standin.log" >&2; die "the $standin stand-in did not build"; }
    rm -rf "$ctx"
    say "built a stand-in for $image in $((SECONDS - t)) s"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    compose) shift; load_env; compose "$@" ;;
    engine) shift; load_env; engine "$@" ;;
    health-loop) load_env; health_loop ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
