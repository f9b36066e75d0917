#!/usr/bin/env bash
# Reruns the INR-fitting experiments of docs/experiments/*.json (digits-mlp with one change each,
# seed 0) and writes their K = 1 test accuracies into the `<!-- experiments:digits -->` section of
# docs/RESULTS.md. About a minute per experiment on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/lib/section.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
cargo build --release --workspace
train="$CARGO_TARGET_DIR/release/metamorph-train"
out="$(mktemp -d)"
section="$out/section.md"
{
  echo "<!-- experiments:digits -->"
  echo "## What we tried: INR fitting on digits-mlp"
  echo
  echo "Produced by \`scripts/experiments.sh\`: one \`metamorph-train fit --preset docs/experiments/NAME.json\` per row (seed 0), each the"
  echo "digits-mlp preset with the one change its \`description\` names. Test accuracy (%) of the exported file, K = 1;"
  echo "h = 8 (25 %) is outside the trained range [10, 32]. Single runs on 360 test images: differences under ~2 pt are noise."
  echo
  echo "| experiment | change | h = 32 | h = 24 | h = 16 | h = 8 (unseen) | file bytes |"
  echo "|---|---|---:|---:|---:|---:|---:|"
} > "$section"
for preset in docs/experiments/digits-*.json; do
  name="$(basename "$preset" .json)"
  log="$out/$name.log"
  MALLOC_MMAP_THRESHOLD_=1000000000 "$train" fit --preset "$preset" -o "$out/$name.mmh" --quiet > "$log" 2>&1
  desc="$(sed -n 's/.*"description": "\(.*\)".*/\1/p' "$preset")"
  accs="$(sed -n 's/^ *h = *[0-9]*: \([0-9.]*\)%$/\1/p' "$log" | paste -sd'|' | sed 's/|/ | /g')"
  bytes="$(stat -c %s "$out/$name.mmh")"
  echo "| $name | $desc | $accs | $bytes |" >> "$section"
  echo "$name: $accs"
done
echo "<!-- /experiments:digits -->" >> "$section"
replace_section docs/RESULTS.md "experiments:digits" "$section"
echo "experiments -> docs/RESULTS.md"
