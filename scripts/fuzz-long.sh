#!/usr/bin/env bash
# Long fuzz runs, one target at a time on one worker under `nice`, each until RUNS executions or
# MAX_TIME seconds (0: no time cap), whichever comes first. Prints per target the executions,
# exec/s, coverage from the seeds alone and at the end (libFuzzer's `cov:` edges and `ft:`
# features), new inputs and crashes; docs/RELIABILITY.md records the figures.
#
#   scripts/fuzz-long.sh                      # every target, 10 million executions each
#   RUNS=1000000 MAX_TIME=600 scripts/fuzz-long.sh read plan
#   SANITIZER=none scripts/fuzz-long.sh plan  # no AddressSanitizer: for code without `unsafe`
#
# Builds with cargo-fuzz's default profile: optimised, with debug assertions and overflow checks,
# under AddressSanitizer (SANITIZER overrides it with any `cargo fuzz --sanitizer` value; `none`
# drops ASan's instrumentation and still catches every panic, overflow and failed assertion, but
# not an out-of-bounds access inside `unsafe` code). New inputs go to fuzz/corpus/<target> (not
# committed); read and pipeline also start from the committed seeds in fuzz/seeds (tiny files, see
# runtime/examples/fuzz_seeds.rs).
# A crash stops its target and leaves the input in fuzz/artifacts/<target>.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
# The fuzz build's own target folder (sanitizer flags); FUZZ_TARGET_DIR overrides it.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}/fuzz}"
runs="${RUNS:-10000000}"
max_time="${MAX_TIME:-0}"
sanitizer="${SANITIZER:-address}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(read pipeline onnx plan)
logs="$(mktemp -d)"
nice -n 19 cargo +nightly fuzz build --sanitizer "$sanitizer"
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  case "$t" in read | pipeline) seeds=(seeds) ;; esac
  crashes_before=$(find "artifacts/$t" -type f | wc -l)
  start=$(date +%s)
  status=0
  nice -n 19 cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" "${seeds[@]}" -- \
    -runs="$runs" -max_total_time="$max_time" -print_final_stats=1 >"$logs/$t.log" 2>&1 || status=$?
  secs=$(($(date +%s) - start))
  crashes=$(($(find "artifacts/$t" -type f | wc -l) - crashes_before))
  final_stat() { grep -m1 "^stat::$1:" "$logs/$t.log" | awk '{print $2}'; }
  # libFuzzer's status line: "#<n> <event> cov: <edges> ft: <features> corp: <inputs>/<size> …".
  coverage() { grep -E "^#[0-9]+[[:space:]]+$1" "$logs/$t.log" | tail -1 | grep -oE "(cov|ft): [0-9]+" | tr '\n' ' '; }
  line="$t ($sanitizer sanitizer): $(final_stat number_of_executed_units) executions in ${secs} s, $(final_stat average_exec_per_sec) exec/s;"
  line+=" seeds alone: $(coverage INITED); end: $(coverage '[A-Z]+'); new inputs $(final_stat new_units_added),"
  line+=" peak RSS $(final_stat peak_rss_mb) MB, crashes $crashes, exit $status"
  echo "$line"
  summary+=("$line")
  if [ "$status" -ne 0 ]; then
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$logs/$t.log" | head -8
  fi
done
echo
printf '%s\n' "${summary[@]}"
echo "logs: $logs"
