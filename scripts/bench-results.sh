#!/usr/bin/env bash
# Runs `metamorph bench --markdown` on every shipped hypernet (models/*.mmh) and replaces its
# `<!-- bench:NAME -->` section of docs/RESULTS.md (appending it the first time). Run it on a
# quiet machine: the table reports medians, but other load still shifts them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
if [ -z "${ORT_DYLIB_PATH:-}" ] && ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* >/dev/null 2>&1; then
  ORT_DYLIB_PATH="$(ls "$root"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -1)"
  export ORT_DYLIB_PATH
fi
cargo build --release --workspace
results=docs/RESULTS.md
for model in models/*.mmh; do
  name="$(basename "$model" .mmh)"
  section="$(mktemp)"
  "$CARGO_TARGET_DIR/release/metamorph" bench "$model" --reps "${REPS:-9}" --markdown > "$section"
  next="$(mktemp)"
  if grep -q "^<!-- bench:$name -->\$" "$results"; then
    awk -v start="<!-- bench:$name -->" -v end="<!-- /bench:$name -->" -v file="$section" '
      $0 == start { while ((getline line < file) > 0) print line; skip = 1; next }
      $0 == end { skip = 0; next }
      !skip { print }' "$results" > "$next"
  else
    { cat "$results"; echo; cat "$section"; } > "$next"
  fi
  mv "$next" "$results"
  rm -f "$section"
  echo "bench section for $name -> $results"
done
