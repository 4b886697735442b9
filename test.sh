#!/usr/bin/env bash
# The whole test suite, both transports (tests/Courier.Tests on libzmq, tests/Courier.Tests.Managed on NetMQ), on a
# fresh machine: ./setup.sh first puts what the tests need on it. Arguments go to `dotnet test`, e.g.
#   ./test.sh --filter "FullyQualifiedName~Broker"
# A test that makes no progress for 3 minutes is stopped and named, with a minidump beside the test results.
set -euo pipefail
cd "$(dirname "$0")"

./setup.sh
exec dotnet test Courier.slnx --blame-hang-timeout 3m --blame-hang-dump-type mini "$@"
