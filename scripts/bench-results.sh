#!/usr/bin/env bash
# Runs `metamorph bench --markdown` on every shipped hypernet (models/*.mmh), or on the ones named
# as arguments, and replaces its `<!-- bench:NAME -->` section of docs/RESULTS.md (appending it the
# first time). Run it on a quiet machine: the table reports medians, but other load still shifts them.
#
#   scripts/bench-results.sh                         # every models/*.mmh
#   scripts/bench-results.sh models/mnist-lenet.mmh  # just this one
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/lib/section.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
if [ -z "${ORT_DYLIB_PATH:-}" ] && ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* >/dev/null 2>&1; then
  ORT_DYLIB_PATH="$(ls "$root"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -1)"
  export ORT_DYLIB_PATH
fi
cargo build --release --workspace
results=docs/RESULTS.md
if [ "$#" -eq 0 ]; then
  set -- models/*.mmh
fi
for model in "$@"; do
  [ -f "$model" ] || { echo "no such hypernet: $model" >&2; exit 1; }
  name="$(basename "$model" .mmh)"
  section="$(mktemp)"
  "$CARGO_TARGET_DIR/release/metamorph" bench "$model" --reps "${REPS:-9}" --markdown > "$section"
  replace_section "$results" "bench:$name" "$section"
  rm -f "$section"
  echo "bench section for $name -> $results"
done
