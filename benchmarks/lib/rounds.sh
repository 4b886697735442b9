# Sourced by the benchmark scripts that measure several variants in alternated rounds (compare.sh, feature-costs.sh).
#
# run_rounds ROUNDS RESULTS RUN_ONE: runs "RUN_ONE i" for every index i of the caller's `names` array, round after
# round; even rounds go in reverse order, so that a drift over a round (another build starting, the machine warming up)
# favours no variant. RUN_ONE prints one JSON line of benchmarks/peers/run; each goes to stderr as it comes, and
# "i rps p50_us p99_us errors steal_pct" is appended to RESULTS (steal_pct -1 when the line has none). A failed run is reported and left out.
# The table's medians: `awk -f "$lib/median.awk" -f /dev/stdin RESULTS <<'AWK' ... AWK`.

field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p"; } # FIELD < JSON line

run_rounds() {
  local rounds=$1 results=$2 run_one=$3 r i line order steal
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 0 ]; then order=$(seq $((${#names[@]} - 1)) -1 0); else order=$(seq 0 $((${#names[@]} - 1))); fi
    for i in $order; do
      if line=$("$run_one" "$i"); then
        echo "round $r [${names[i]}] $line" >&2
        steal=$(field steal_pct <<<"$line")
        echo "$i $(field rps <<<"$line") $(field p50_us <<<"$line") $(field p99_us <<<"$line") $(field errors <<<"$line") ${steal:--1}" >>"$results"
      else
        echo "round $r [${names[i]}] FAILED (left out of the table)" >&2
      fi
    done
  done
}
