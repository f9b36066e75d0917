#!/usr/bin/env bash
# The project's test command: sets up the Python test oracles (onnx checker, ONNX Runtime's
# shared library) in .venv, then runs every Rust test, the core without std,
# scripts/nostd-proof.sh (thumb builds, the freestanding no_std proof and its negative controls) and
# scripts/firmware.sh (the Cortex-M4F firmware under QEMU against the host's engines).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import onnx, onnxruntime" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q onnx onnxruntime==1.20.1 numpy
fi
export METAMORPH_PYTHON="$root/.venv/bin/python"
ORT_DYLIB_PATH="$(ls "$root"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -1)"
export ORT_DYLIB_PATH
# Formatting and lints first: they fail fast and cost little once dependencies are checked.
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
# The runtime core without std (and so without matrixmultiply): its portable GEMM against the
# reference executor, and the plain no-feature build the README promises.
cargo test --release -p metamorph --no-default-features
cargo build -p metamorph --no-default-features
# Thumb builds, the freestanding no_std/no-alloc proof and its negative controls.
scripts/nostd-proof.sh
# The firmware on QEMU's Cortex-M4F board (installs qemu-system-arm when missing).
scripts/firmware.sh
# Miri on the core's unit tests (among them the matrixmultiply call, its one `unsafe` block) and
# its fast format and spec tests, where a nightly toolchain with miri and rust-src is installed;
# docs/RELIABILITY.md says which tests are left out and why.
if rustup +nightly component list --installed 2>/dev/null | grep -q '^miri' &&
  rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
  cargo +nightly miri test -p metamorph --features matrixmultiply --lib --test spec_counts --test format_round_trip \
    -- --skip random_configs_round_trip --skip quantised_round_trips_are_within_their_step \
    --skip kernels_match_reference
else
  echo "skipping Miri: no nightly toolchain with the miri and rust-src components" >&2
fi
# Each fuzz target for a few seconds (a smoke test that they build and run; the long runs are
# scripts/fuzz-long.sh, their figures in docs/RELIABILITY.md), where cargo-fuzz is installed. The
# reader and the pipeline start from the tiny committed seeds in fuzz/seeds; the ONNX and planner
# targets build their inputs from arbitrary bytes.
if command -v cargo-fuzz >/dev/null && cargo +nightly --version >/dev/null 2>&1; then
  for target in read pipeline onnx plan; do
    mkdir -p "fuzz/corpus/$target"
    seeds=()
    case "$target" in read | pipeline) seeds=(seeds) ;; esac
    (cd fuzz && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz" \
      cargo +nightly fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- -max_total_time=5)
  done
else
  echo "skipping the fuzz smoke test: no cargo-fuzz or no nightly toolchain" >&2
fi
