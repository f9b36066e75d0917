#!/usr/bin/env bash
# Proves the runtime core needs neither std nor alloc:
#   1. builds the core for thumbv7em-none-eabihf (no features, then each no_std-compatible feature);
#   2. builds and runs the freestanding proof binary (no libc, no start files), expecting exit 0;
#   3. negative controls: the proof built with `std` (or the allocating GEMM) pulled in must fail;
#   4. prints the .text size of the whole device pipeline built for thumb.
# Exits nonzero if any check misbehaves.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${METAMORPH_NOSTD_TARGET_DIR:-$HOME/.cache/metamorph-target-nostd}"
thumb=thumbv7em-none-eabihf
fail() { echo "nostd-proof: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

if ! rustup target list --installed | grep -qx "$thumb"; then
  rustup target add "$thumb"
fi

cd "$root"
for features in "" "alloc"; do
  step "cargo build -p metamorph --no-default-features --target $thumb ${features:+--features $features}"
  cargo build -q -p metamorph --no-default-features --target "$thumb" ${features:+--features "$features"} \
    || fail "core does not build for $thumb (features: '${features}')"
done

cd "$root/runtime/nostd-proof"
if [ "$(uname -sm)" = "Linux x86_64" ]; then
  step "build and run the freestanding proof binary"
  cargo build -q --release --bin metamorph-nostd-proof || fail "proof binary does not build"
  bin="$CARGO_TARGET_DIR/release/metamorph-nostd-proof"
  if command -v nm >/dev/null && [ -n "$(nm -u "$bin")" ]; then
    fail "proof binary has undefined symbols: $(nm -u "$bin" | tr '\n' ' ')"
  fi
  set +e
  "$bin"
  status=$?
  set -e
  [ "$status" -eq 0 ] || fail "proof binary exited with status $status"

  for control in pull-std:std pull-alloc:"global memory allocator"; do
    feature="${control%%:*}"
    reason="${control#*:}"
    step "negative control: --features $feature must fail to build"
    if log=$(cargo build --release --bin metamorph-nostd-proof --features "$feature" 2>&1); then
      fail "negative control '$feature' built: the proof would not notice $reason sneaking in"
    fi
    echo "$log" | grep -q "$reason" || { echo "$log" >&2; fail "negative control '$feature' failed for another reason"; }
    echo "   failed as expected: $(echo "$log" | grep -m1 '^error')"
  done
else
  echo "nostd-proof: not on x86_64 Linux, skipping the freestanding binary and its controls"
fi

step ".text of read + plan + materialise + execute for $thumb (LTO staticlib, opt-level s)"
cargo rustc -q --lib --release --target "$thumb" --features panic-halt --crate-type staticlib \
  || fail "proof library does not build for $thumb"
lib="$CARGO_TARGET_DIR/$thumb/release/libmetamorph_nostd_proof.a"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && ar x "$lib")
obj="$(ls "$tmp"/metamorph_nostd_proof-*.o)"
size_tool="$(command -v llvm-size || command -v size)"
"$size_tool" -A "$obj" | awk '
  $1 ~ /^\.text/   { text += $2 }
  $1 ~ /^\.rodata/ { ro += $2 }
  END { printf "   .text %d bytes, .rodata %d bytes (incl. the embedded hypernet, CRC and libm tables)\n", text, ro;
        if (text == 0) exit 1 }' || fail "could not measure .text"
echo "nostd-proof: all checks passed"
