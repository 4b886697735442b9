#!/usr/bin/env bash
# The whole test suite, both transports (tests/Courier.Tests on libzmq, tests/Courier.Tests.Managed on NetMQ), on a
# fresh machine: ./setup.sh first puts what the tests need on it. Arguments go to `dotnet test`, e.g.
#   ./test.sh --filter "FullyQualifiedName~Broker"
# A test that makes no progress for 10 minutes (the packaging tests pack and build whole projects; the container
# tests build images) is stopped and named, with a minidump beside the test results; the managed threads' stacks in
# each such dump are then printed here, since a CI machine's dump files are not kept.
set -euo pipefail
cd "$(dirname "$0")"

./setup.sh
started=$(mktemp)
trap 'rm -f "$started"' EXIT
# -m:1: one test project at a time. Side by side on 2 cores the container tests (a dozen containers and three loads),
# the packaging tests (whole builds) and the process tests starved one another into timeouts.
status=0
dotnet test Courier.slnx -m:1 --blame-hang-timeout 10m --blame-hang-dump-type mini "$@" || status=$?

if [ "$status" -ne 0 ]; then
  mapfile -t dumps < <(find tests -path '*/TestResults/*' -name '*_hangdump.dmp' -newer "$started" 2>/dev/null)
  if [ "${#dumps[@]}" -gt 0 ]; then
    # dotnet-dump reads a dump's managed stacks; fetched only now, from the configured NuGet sources.
    tools=${TMPDIR:-/tmp}/courier-test-tools
    [ -x "$tools/dotnet-dump" ] || dotnet tool install dotnet-dump --tool-path "$tools" >/dev/null 2>&1 || true
    for dump in "${dumps[@]}"; do
      echo "=== managed stacks in $dump (threads with no managed frame left out) ==="
      if [ -x "$tools/dotnet-dump" ]; then
        timeout 300 "$tools/dotnet-dump" analyze "$dump" -c "clrstack -all" -c exit 2>&1 \
          | awk '/^OS Thread Id/ { head = $0; n = 0; next } /^ +Child SP/ { next } { if (!/DebuggerU2MCatchHandlerFrame/) { if (n++ == 0) print head; print } }' \
          | head -n 1500 || true
      else
        echo "(dotnet-dump could not be installed: the dump is not read)"
      fi
    done
  fi
fi

exit "$status"
