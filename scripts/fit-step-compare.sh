#!/usr/bin/env bash
# One INR-fitting step of mnist-mlp in candle (`trainer/benches/fit_step.rs`, what `metamorph-train
# fit` runs) against the same step written in PyTorch (`scripts/fit_step_torch.py`), on this CPU,
# with the same thread count; writes both and their ratio into the `<!-- fit-step -->` section of
# docs/RESULTS.md. PyTorch comes from PyPI into .venv-torch (several GB; never a test dependency).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/lib/section.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
venv="${TORCH_VENV:-$root/.venv-torch}"
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch numpy
fi
threads="$(nproc)"
out="$(mktemp -d)"
cargo bench -p metamorph-trainer --bench fit_step -- mnist-mlp | grep '^fit step' > "$out/mlp"
# The PyTorch twin is the plain f32 step; the int8-aware rows are listed on their own.
grep 'int8_aware=false' "$out/mlp" > "$out/candle"
cargo bench -p metamorph-trainer --bench fit_step -- mnist-lenet | grep '^fit step' > "$out/lenet"
"$venv/bin/python" scripts/fit_step_torch.py models/mnist-mlp.json "$threads" > "$out/torch"
cat "$out/mlp" "$out/lenet" "$out/torch"
ms() { sed -n "s/.* h=$2 .*: \([0-9.]*\) ms.*/\1/p" "$1"; }
section="$out/section.md"
{
  echo "<!-- fit-step -->"
  echo "## One fitting step: candle against PyTorch"
  echo
  echo "Produced by \`scripts/fit-step-compare.sh\` on this machine ($threads CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)):"
  echo "one \`fit\` step of mnist-mlp (member generated from the INR, loss on a batch of 128, backward, AdamW, EMA),"
  echo "median of 15, in candle (\`cargo bench -p metamorph-trainer --bench fit_step\`) and written the same way in"
  echo "PyTorch (\`scripts/fit_step_torch.py\`, $("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'), $threads threads)."
  echo
  echo "| width | candle (ms) | PyTorch (ms) | candle / PyTorch |"
  echo "|---|---:|---:|---:|"
  for h in 256 128; do
    c="$(ms "$out/candle" $h)"
    t="$(ms "$out/torch" $h)"
    echo "| h = $h | $c | $t | $(awk -v c="$c" -v t="$t" 'BEGIN { printf "%.2f", c / t }')× |"
  done
  echo
  echo "The shipped mnist-mlp preset fits quantisation-aware, which adds the int8 round trip of the INR's"
  echo "parameters to every step, and mnist-lenet has no PyTorch twin here; their candle steps (same bench):"
  echo
  grep 'int8_aware=true' "$out/mlp" | sed 's/^/- /'
  sed 's/^/- /' "$out/lenet"
  echo "<!-- /fit-step -->"
} > "$section"
replace_section docs/RESULTS.md "fit-step" "$section"
echo "fit-step -> docs/RESULTS.md"
