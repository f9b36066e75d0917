#!/usr/bin/env bash
# Reruns the INR-fitting experiments and writes their K = 1 test accuracies into docs/RESULTS.md.
#
#   scripts/experiments.sh          docs/experiments/digits-*.json, seed 0, into the
#                                   `<!-- experiments:digits -->` section (about a minute each)
#   scripts/experiments.sh levers   docs/experiments/levers/*.json, seeds 0, 1, 2 (SEEDS overrides),
#                                   mean and range over seeds, into `<!-- experiments:levers -->`
#                                   (1-2 min per run on 2 cores)
#   scripts/experiments.sh statistics   what per-width normalisation could buy the shipped files
#                                   (trainer/examples/width_statistics.rs), into
#                                   `<!-- experiments:statistics -->` (about 8 min)
#   scripts/experiments.sh bottleneck   which morphed tensor's INR holds mnist-mlp's full width back
#                                   (trainer/examples/inr_bottleneck.rs), into
#                                   `<!-- experiments:bottleneck -->` (about 10 min per row on 2
#                                   cores; BASE=FILE reuses a base network instead of training one)
#   scripts/experiments.sh seeds [PRESET]   the shipped mnist-mlp preset (or PRESET) over seeds
#                                   (SEEDS, default "0 1 2"), into `<!-- experiments:seeds -->`
#                                   (`<!-- experiments:seeds-NAME -->` for a PRESET; about 47 min a seed;
#                                   OUT=DIR keeps the fits there, and a seed already fitted there is
#                                   not fitted again, so a stopped run resumes)
#   scripts/experiments.sh extension    a stored core plus an INR extension against the slimmable
#                                   net cut to the same bytes (trainer/examples/inr_extension.rs),
#                                   into `<!-- experiments:extension -->` (7-11 min per row)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/lib/section.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
cargo build --release --workspace
cargo build --release -p metamorph-trainer --example width_statistics --example inr_bottleneck \
  --example inr_extension
mode="${1:-digits}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
# A copy, so that rebuilding the workspace while the experiments run cannot change the binary.
train="$out/metamorph-train"
cp "$CARGO_TARGET_DIR/release/metamorph-train" "$train"
bottleneck="$out/inr_bottleneck"
cp "$CARGO_TARGET_DIR/release/examples/inr_bottleneck" "$bottleneck"
extension="$out/inr_extension"
cp "$CARGO_TARGET_DIR/release/examples/inr_extension" "$extension"
section="$out/section.md"
# The block of docs/RESULTS.md that this mode rewrites.
marker="experiments:$mode"

# run PRESET SEED: fits, prints "acc|acc|acc|acc seconds bytes" (K = 1 accuracies in table order).
run() {
  local preset="$1" seed="$2" name log start
  name="$(basename "$preset" .json)-s$seed"
  log="$out/$name.log"
  start=$SECONDS
  "$train" fit --preset "$preset" --seed "$seed" -o "$out/$name.mmh" --quiet > "$log" 2>&1
  echo "$(accuracies "$log") $((SECONDS - start)) $(stat -c %s "$out/$name.mmh")"
}

# accuracies LOG: the K = 1 accuracies a fit's log ends with, as "acc|acc|acc|acc".
accuracies() { sed -n 's/^ *h = *[0-9]*: \([0-9.]*\)%$/\1/p' "$1" | paste -sd'|'; }

description() { sed -n 's/.*"description": "\(.*\)".*/\1/p' "$1"; }

# summarise RUNS: from lines of `run` (one per seed), prints "accs|bytes|seconds": per width the
# mean with the lowest and highest seed in brackets, the file bytes and the mean seconds per run.
summarise() {
  awk '{ n = split($1, a, "|"); for (i = 1; i <= n; i++) { s[i] += a[i]; if (NR == 1 || a[i] < lo[i]) lo[i] = a[i]; if (NR == 1 || a[i] > hi[i]) hi[i] = a[i] } t += $2; b = $3 }
    END { for (i = 1; i <= n; i++) printf "%s%.2f [%.2f, %.2f]", (i > 1 ? " / " : ""), s[i] / NR, lo[i], hi[i]; printf "|%s|%.0f\n", b, t / NR }' "$1"
}

# widths LOG: the widths of a fit's log, as "256/192/128/64".
widths() { sed -n 's/^ *h = *\([0-9]*\): .*/\1/p' "$1" | paste -sd/; }

# machine: what the seconds were measured on.
machine() { echo "$(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"; }

case "$mode" in
digits)
  {
    echo "<!-- experiments:digits -->"
    echo "## What we tried: INR fitting on digits-mlp"
    echo
    echo "Produced by \`scripts/experiments.sh\`: one \`metamorph-train fit --preset docs/experiments/NAME.json\` per row (seed 0), each the"
    echo "digits-mlp preset with the one change its \`description\` names. Test accuracy (%) of the exported file, K = 1;"
    echo "h = 8 (25 %) is outside the trained range [10, 32]. Single runs on 360 test images: differences under ~2 pt are noise."
    echo
    echo "| experiment | change | h = 32 | h = 24 | h = 16 | h = 8 (unseen) | file bytes |"
    echo "|---|---|---:|---:|---:|---:|"
  } > "$section"
  for preset in docs/experiments/digits-*.json; do
    read -r accs _ bytes < <(run "$preset" 0)
    echo "| $(basename "$preset" .json) | $(description "$preset") | ${accs//|/ | } | $bytes |" >> "$section"
    echo "$(basename "$preset" .json): $accs"
  done
  ;;
levers)
  read -r -a seeds <<< "${SEEDS:-0 1 2}"
  {
    echo "<!-- experiments:levers -->"
    echo "## Levers of issue 13, over seeds"
    echo
    echo "Produced by \`scripts/experiments.sh levers\`: \`metamorph-train fit --preset docs/experiments/levers/NAME.json --seed S\`"
    echo "for S in ${seeds[*]} (the seed also draws the base network). Each cell: mean test accuracy (%) of the exported"
    echo "files, K = 1, with the lowest and highest seed in brackets. The last column is the mean wall time of one run on"
    echo "this machine ($(machine)); it grows with whatever else runs there, so"
    echo "compare the cost of a step with \`cargo bench -p metamorph-trainer --bench fit_step\` instead."
    echo
    echo "| experiment | change | widths | accuracy per width, mean [min, max] | file bytes | s / run |"
    echo "|---|---|---|---|---:|---:|"
  } > "$section"
  for preset in docs/experiments/levers/*.json; do
    rows="$out/$(basename "$preset" .json).runs"
    : > "$rows"
    for seed in "${seeds[@]}"; do
      run "$preset" "$seed" >> "$rows"
      echo "$(basename "$preset" .json) seed $seed: $(tail -1 "$rows")"
    done
    IFS='|' read -r accs bytes secs <<< "$(summarise "$rows")"
    echo "| $(basename "$preset" .json) | $(description "$preset") | h = $(widths "$out/$(basename "$preset" .json)-s${seeds[0]}.log") | $accs | $bytes | $secs |" >> "$section"
  done
  ;;
statistics)
  {
    echo "<!-- experiments:statistics -->"
    echo "## Lever 4 of issue 13: what per-width statistics are worth"
    echo
    echo "Produced by \`scripts/experiments.sh statistics\`: \`cargo run --release -p metamorph-trainer --example width_statistics -- PRESET FILE REF\`"
    echo "on the shipped files. At each width, every morphed layer's per-channel mean and deviation before the ReLU, measured on"
    echo "2,000 training images, is mapped onto the reference width's corresponding channel (same relative coordinate in an INR"
    echo "file, same index in a slimmable one), layer by layer as a recalibrated BatchNorm would. Test accuracy (%), K = 1:"
    echo "plain, with one scale per layer, and with every channel's mean and deviation mapped. This uses data, which a device"
    echo "does not have, so it bounds what a data-free per-width normalisation could recover."
  } > "$section"
  for job in "mnist-mlp models/mnist-mlp.mmh 1" "mnist-lenet models/mnist-lenet.mmh 1" "mnist-lenet models/mnist-lenet.mmh 0.5" \
    "mnist-mlp models/mnist-mlp-slim.mmh 1" "mnist-lenet models/mnist-lenet-slim.mmh 1"; do
    read -r preset file ref <<< "$job"
    echo "$file, reference width $ref"
    {
      echo
      echo "### \`$file\`, reference width $ref"
      echo
      "$CARGO_TARGET_DIR/release/examples/width_statistics" "$preset" "$file" "$ref" | grep '^|'
    } >> "$section"
  done
  ;;
bottleneck)
  warmup=1000 steps=2000
  base="${BASE:-$out/base.safetensors}"
  [ -e "$base" ] || "$train" base --preset mnist-mlp -o "$base" --quiet
  {
    echo "<!-- experiments:bottleneck -->"
    echo "## Where mnist-mlp's INR loses accuracy"
    echo
    echo "Produced by \`scripts/experiments.sh bottleneck\`: \`cargo run --release -p metamorph-trainer --example inr_bottleneck --"
    echo "mnist-mlp BASE FREE $steps $warmup [LR]\`, BASE the preset's seed-0 base network. One width only, the full width: the INR"
    echo "reconstructs BASE for $warmup steps, then the INR and the tensors named FREE (trained directly, started at BASE's"
    echo "values) train on cross-entropy for $steps steps, batch 128, at peak rate LR (default the fit's classification"
    echo "rate, 3e-4), cosine-decayed to 5 %. No reconstruction anchor after the warm-up. Test accuracy (%), full test set."
    echo
    echo "| free tensors (not generated by the INR) | LR | BASE | after training | s |"
    echo "|---|---:|---:|---:|---:|"
  } > "$section"
  # LR "fit": the fit's own classification rate (the preset's lr · finetune_lr).
  for run in "none fit" "none 3e-5" "all fit" "layer3.weight fit" "layer3.weight 3e-5" "layer1.weight fit"; do
    read -r free lr <<< "$run"
    rate=()
    [ "$lr" = fit ] || rate=("$lr")
    row="$("$bottleneck" mnist-mlp "$base" "$free" "$steps" "$warmup" "${rate[@]}" 2> "$out/bottleneck-$free-$lr.log")"
    echo "$row" | tee -a "$section"
  done
  ;;
seeds)
  # One recipe over seeds: the shipped preset by default, or PRESET (its own section, so that a
  # lever's rows stand beside the shipped recipe's).
  preset="${2:-models/mnist-mlp.json}"
  name="$(basename "$preset" .json)"
  [ "$preset" = models/mnist-mlp.json ] || marker="experiments:seeds-$name"
  read -r -a seeds <<< "${SEEDS:-0 1 2}"
  {
    echo "<!-- $marker -->"
    if [ "$marker" = experiments:seeds ]; then
      echo "## The shipped mnist-mlp recipe over seeds"
      echo
      echo "Produced by \`scripts/experiments.sh seeds\`: \`metamorph-train fit --preset models/mnist-mlp.json --seed S\` for S in"
      echo "${seeds[*]} (the seed also draws the base network; seed 0 is the shipped file's command, rerun on this machine, whose"
      echo "GEMM kernels may give other bits than the machine that trained \`models/mnist-mlp.mmh\`)."
    else
      echo "## \`$name\` over seeds"
      echo
      echo "Produced by \`scripts/experiments.sh seeds $preset\`: \`metamorph-train fit --preset $preset --seed S\`"
      echo "for S in ${seeds[*]} (the seed also draws the base network). The preset: $(description "$preset")."
    fi
    echo "Each cell: mean test accuracy (%)"
    echo "of the exported files over the full test set, K = 1, with the lowest and highest seed in brackets; then each seed."
    echo "The last column is the mean time of one INR fit on this machine ($(machine)), as the fit reports it (the base"
    echo "network, trained before it, takes under a minute)."
    echo
    echo "| preset | widths | accuracy per width, mean [min, max] | seeds, one per line | file bytes | s / fit |"
    echo "|---|---|---|---|---:|---:|"
  } > "$section"
  rows="$out/$name.runs"
  : > "$rows"
  for seed in "${seeds[@]}"; do
    run_name="$name-s$seed"
    [ -s "$out/$run_name.mmh" ] || run "$preset" "$seed" > /dev/null
    # The INR fit's own seconds (its log's last timing line), so that a resumed script reports
    # the seeds it reuses too.
    secs="$(sed -n 's/^INR fitting: [0-9]* steps in \([0-9]*\) s.*/\1/p' "$out/$run_name.log")"
    echo "$(accuracies "$out/$run_name.log") $secs $(stat -c %s "$out/$run_name.mmh")" >> "$rows"
    echo "seed $seed: $(tail -1 "$rows")"
  done
  IFS='|' read -r accs bytes secs <<< "$(summarise "$rows")"
  each="$(paste -d' ' <(printf 'seed %s:\n' "${seeds[@]}") <(cut -d' ' -f1 "$rows" | tr '|' '/') | paste -sd';' | sed 's/;/<br>/g')"
  echo "| $name | h = $(widths "$out/$name-s${seeds[0]}.log") | $accs | $each | $bytes | $secs |" >> "$section"
  ;;
extension)
  {
    echo "<!-- experiments:extension -->"
    echo "## A stored core with an INR extension"
    echo
    echo "Produced by \`scripts/experiments.sh extension\`: \`cargo run --release -p metamorph-trainer --example inr_extension --"
    echo "PRESET models/mnist-mlp-slim.mmh K STEPS LR WARMUP\`. The core is the slimmable net's member at width K cut to int8 and"
    echo "frozen; above K an INR of PRESET's size (int8, quantisation-aware) generates every weight outside the core's block,"
    echo "trained on the full width and one random width per step (cross-entropy plus distillation from the slimmable net's"
    echo "full width, batch 128, AdamW at peak rate LR cosine-decayed to 5 %). With WARMUP = 0 the INR starts at a tenth of the"
    echo "core's weight scale; with WARMUP > 0 it starts at the ridge fit to the slimmable net's full width and first spends that"
    echo "fraction of the steps reconstructing the slimmable net's weights outside the core. \"Extension units active\": the share"
    echo "of the hidden units from K up that are positive after each ReLU at full width, on the last evaluated training batch"
    echo "(first / second hidden layer). Against it, in the same run: the slimmable net"
    echo "cut to the widest int8 member within the hybrid's bytes. Test accuracy (%), full test set, on both files' bytes,"
    echo "at h = 256 / 224 / 192 / 160 / 128 / 96 / 64."
    echo
    echo "| K | INR | LR | warm-up | steps | bytes: core + INR = hybrid | extension units active at the end | hybrid | cut: widest h (bytes) | cut | widths where hybrid ≥ cut | s |"
    echo "|---:|---|---:|---:|---:|---:|---|---|---|---|---|---:|"
  } > "$section"
  # Each row: the INR preset's suffix, K, steps, peak rate and warm-up fraction (0: the INR
  # starts near the core; > 0: it starts at, and first reconstructs, the slimmable net).
  # K stays within the slimmable file's trained widths, [64, 256]: `cut` refuses a narrower core.
  for run in "hidden16 64 3000 1e-3 0" "hidden32 64 3000 1e-3 0" "hidden32 64 3000 1e-3 0.3"; do
    read -r size k steps lr warmup <<< "$run"
    "$extension" "docs/experiments/mnist-mlp-extension-$size.json" models/mnist-mlp-slim.mmh "$k" "$steps" "$lr" \
      "$warmup" 2> "$out/extension-$size-$k-$warmup.log" | tee -a "$section"
  done
  ;;
*)
  echo "usage: scripts/experiments.sh [digits|levers|statistics|bottleneck|seeds|extension]" >&2
  exit 2
  ;;
esac
echo "<!-- /$marker -->" >> "$section"
replace_section docs/RESULTS.md "$marker" "$section"
echo "$marker -> docs/RESULTS.md"
