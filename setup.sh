#!/usr/bin/env bash
# Puts on this machine what Courier's tests need beyond the .NET SDK; installs only what is missing.
#
#   ./setup.sh            as root: apt-get installs what is missing; otherwise prints the command to run, exits 1
#   ./setup.sh --check    installs nothing: lists what is missing and exits 1 if anything is
#
# ./test.sh runs it first. The demo (`dotnet run --project src/Courier.Cli -- demo`) needs none of it: without
# libzmq5 it runs on the managed transport (NetMQ).
set -euo pipefail

# The Debian packages the tests need: the one list. Add new ones here, with what needs them.
packages=(
    libzmq5             # the native transport: tests/Courier.Tests runs every test on it and may not fall back in CI
    python3-zmq         # pyzmq, the stock libzmq peers of the interop tests (run with /usr/bin/python3)
    nginx               # the real TCP load balancer in front of `courier server`s (tests/Courier.Tests/Deploy)
    libnginx-mod-stream # nginx's stream {} module, which carries ZMTP
    docker-compose      # runs deploy/docker-compose.yml for real (tests/Courier.Tests.Containers, deploy/test/stack.sh)
    podman              # the container engine when no Docker engine answers: real containers, no daemon to install
    runc                # podman's runtime here (crun refuses some hosts' cgroup layout)
    catatonit           # the init of the pause container that `podman kube play` builds for each pod
    netavark            # podman's networks, with aardvark-dns: containers reach each other by service name
    aardvark-dns
    debootstrap         # the Debian base of the stand-in images, when no registry serves the images FROM lines name
    curl                # deploy/test/stack.sh asks the engine's socket whether it answers
    nodejs              # validates deploy/k8s against the Kubernetes API schemas (npm's kubernetes-models,
    npm                 #   deploy/test/k8s/validate.mjs)
    prometheus          # a real Prometheus server scrapes `courier broker --metrics-port` (tests/Courier.Tests/Cli)
    tmux                # `courier top` is watched in a real terminal (tests/Courier.Tests/Cli)
)

check_only=false
case ${1:-} in
    --check) check_only=true ;;
    '') ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# Packages whose command may come from elsewhere: Node.js built outside Debian (e.g. NodeSource's) bundles npm without
# always saying so in its Provides, and Debian's npm cannot be installed beside it ("held broken packages").
declare -A commands=([nodejs]=node [npm]=npm)

installed() { # package: installed, provided by an installed package, or its command is on PATH
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ] \
        || dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null | grep -Eq "^ii +(.*, )?$1( \(|,|$)" \
        || { [ -n "${commands[$1]:-}" ] && command -v "${commands[$1]}" >/dev/null; }
}

missing_packages() {
    local p
    for p in "${packages[@]}"; do
        installed "$p" || echo "$p"
    done
}

if ! command -v dotnet >/dev/null; then
    echo "setup: the .NET SDK is missing: install .NET 10 (global.json names the feature band, 10.0.4xx)." >&2
    exit 1
fi
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    echo "setup: this script installs with Debian's apt; elsewhere install the equivalents of: ${packages[*]}" >&2
    exit 1
fi

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

install="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if $check_only; then
    echo "setup: missing: ${missing[*]}; to install them, as root: $install" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "setup: the tests need ${missing[*]}; install them as root, then run this again:" >&2
    echo "  sudo sh -c '$install'" >&2
    exit 1
fi

echo "setup: installing ${missing[*]}" >&2
# Other apt users (an unattended upgrade, a parallel set-up) hold the lock for a while: wait for it rather than fail.
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >/dev/null; }
if ! apt_install "${missing[@]}"; then
    # One package apt cannot place (a conflict with something installed from elsewhere) must not keep out the rest:
    # install them one by one, then name what is still missing.
    for p in "${missing[@]}"; do
        apt_install "$p" || echo "setup: apt-get could not install $p" >&2
    done
fi
mapfile -t still < <(missing_packages)
if [ ${#still[@]} -ne 0 ]; then
    echo "setup: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
