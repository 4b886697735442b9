#!/usr/bin/env bash
# The whole test suite, both transports (tests/Courier.Tests on libzmq, tests/Courier.Tests.Managed on NetMQ), on a
# fresh machine: ./setup.sh first puts what the tests need on it. Arguments go to `dotnet test`, e.g.
#   ./test.sh --filter "FullyQualifiedName~Broker"
# A test that makes no progress for 10 minutes (the packaging tests pack and build whole projects; the container
# tests build images) is stopped and named, with a minidump beside the test results.
set -euo pipefail
cd "$(dirname "$0")"

./setup.sh
# -m:1: one test project at a time. Side by side on 2 cores the container tests (a dozen containers and three loads),
# the packaging tests (whole builds) and the process tests starved one another into timeouts.
exec dotnet test Courier.slnx -m:1 --blame-hang-timeout 10m --blame-hang-dump-type mini "$@"
