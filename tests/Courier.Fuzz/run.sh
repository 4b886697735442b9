#!/usr/bin/env bash
# Fuzzes one of Courier's engines or file parsers with afl++ for a bounded time, from the seed corpus in corpus/TARGET.
#
#   tests/Courier.Fuzz/run.sh TARGET [SECONDS]     TARGET: server | broker | worker | certificate | policy   (SECONDS: 60 by default)
#
# Builds courier-fuzz in Release, instruments Courier.dll with SharpFuzz (in the publish folder only), and runs
# afl-fuzz until SECONDS have passed. Findings land in artifacts/fuzz/TARGET/default/crashes (and hangs); replay one
# with `dotnet run --project tests/Courier.Fuzz -- TARGET FILE` (the instrumented copy in $out/bin dies outside afl). Needs Debian's afl++ (`apt-get install afl++`; the test suite does not: it replays the corpus without afl).
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: run.sh TARGET [SECONDS]}
seconds=${2:-60}
root=$(cd ../.. && pwd)
out=$root/artifacts/fuzz
bin=$out/bin
tools=$out/tools

command -v afl-fuzz >/dev/null || { echo "run.sh: afl-fuzz is missing: apt-get install afl++" >&2; exit 1; }
[ -x "$tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null

# SharpFuzz instruments in place and refuses to do it twice: publish a fresh copy each time.
rm -f "$bin/Courier.dll"
dotnet publish . -c Release -o "$bin" --nologo -v quiet
"$tools/sharpfuzz" "$bin/Courier.dll"

mkdir -p "$out/$target"
# afl++ checks its target is an instrumented ELF binary; ours is `dotnet courier-fuzz.dll`, instrumented by SharpFuzz.
# A fuzzing run on a shared machine: no CPU pinning, no core-dump or governor checks.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1
echo "run.sh: fuzzing $target for $seconds s (afl's output: $out/$target.log)" >&2
# A dictionary (dict/TARGET.dict) gives afl the tokens of a format whose parser it cannot see (System.Text.Json).
dictionary=()
[ -f "dict/$target.dict" ] && dictionary=(-x "dict/$target.dict")
afl-fuzz -i "corpus/$target" -o "$out/$target" "${dictionary[@]}" -V "$seconds" -t 5000 -m none -- dotnet "$bin/courier-fuzz.dll" "$target" \
    >"$out/$target.log" 2>&1 || { tail -20 "$out/$target.log" >&2; exit 1; }

stats=$out/$target/default/fuzzer_stats
[ -f "$stats" ] || { echo "run.sh: afl-fuzz wrote no statistics" >&2; exit 1; }
grep -E "^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|run_time) " "$stats"
crashes=$(find "$out/$target/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
if [ "$crashes" -ne 0 ]; then
    echo "run.sh: $crashes crashing inputs in $out/$target/default/crashes" >&2
    exit 1
fi
