#!/usr/bin/env bash
# Runs the Metamorph firmware (runtime/firmware) on QEMU's Cortex-M4F board and checks it:
#   1. the image fixture is the first 32 MNIST test images of data/mnist;
#   2. builds the firmware for thumbv7em-none-eabihf and prints its flash and RAM sections;
#   3. boots it in qemu-system-arm (mps2-an386, installed from Debian when missing) with a timeout;
#   4. every step's arena high-water mark is within its budget, and its width, mode (whole or
#      streamed layer by layer) and 32 predictions equal the host's native executor and tract at
#      the same budget (example `mcu-expected`).
# Exits nonzero if any check fails. The step lines are the figures in docs/RESULTS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fw="$root/runtime/firmware"
thumb=thumbv7em-none-eabihf
fw_target="${METAMORPH_FIRMWARE_TARGET_DIR:-$HOME/.cache/metamorph-target-firmware}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-target}"
fail() { echo "firmware: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! command -v qemu-system-arm >/dev/null; then
  step "apt-get install qemu-system-arm"
  apt-get install -y qemu-system-arm >/dev/null || { apt-get update >/dev/null && apt-get install -y qemu-system-arm >/dev/null; }
fi
if ! rustup target list --installed | grep -qx "$thumb"; then
  rustup target add "$thumb"
fi

step "fixture: first 32 MNIST test images and labels"
n=32
zcat "$root/data/mnist/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((n * 784)) > "$tmp/images.u8" || true
zcat "$root/data/mnist/t10k-labels-idx1-ubyte.gz" | tail -c +9 | head -c $n > "$tmp/labels.u8" || true
cmp -s "$tmp/images.u8" "$fw/fixture/images.u8" && cmp -s "$tmp/labels.u8" "$fw/fixture/labels.u8" \
  || fail "runtime/firmware/fixture differs from data/mnist (regenerate with the zcat lines in this script)"

step "build the firmware ($thumb, release)"
(cd "$fw" && CARGO_TARGET_DIR="$fw_target" cargo build -q --release) || fail "firmware does not build"
elf="$fw_target/$thumb/release/metamorph-firmware"
llvm-size -A "$elf" | awk '$1 ~ /^\.(vector_table|text|rodata|data|bss|uninit)$/ { printf "   %-14s %8d bytes\n", $1, $2 }'

step "run under QEMU (mps2-an386, -icount shift=0: one instruction per virtual ns)"
set +e
timeout 300 qemu-system-arm -machine mps2-an386 -nographic -icount shift=0 \
  -semihosting-config enable=on,target=native -kernel "$elf" > "$tmp/fw.out" 2>&1
status=$?
set -e
cat "$tmp/fw.out"
[ "$status" -eq 0 ] || fail "QEMU exited with status $status"
grep -q '^firmware: done$' "$tmp/fw.out" || fail "firmware did not finish"

step "high-water mark within budget at every step"
awk '$1 == "step" {
       n++; budget = $4; planned = $10; reserved = $12; touched = $14;
       if (!(touched <= reserved && reserved <= planned && planned <= budget)) {
         printf "step %s: touched %s, reserved %s, planned %s, budget %s\n", $2, touched, reserved, planned, budget; bad = 1 }
     }
     END { if (n == 0) { print "no step lines"; exit 1 } exit bad }' "$tmp/fw.out" || fail "arena high-water mark above budget"

step "widths and predictions equal the host's (native executor and tract)"
budgets=$(awk '$1 == "step" { printf "%s ", $4 }' "$tmp/fw.out")
awk '$1 == "step" { print "step", $2, "budget", $4, "h", $6, "mode", $8, "pred", $NF }' "$tmp/fw.out" > "$tmp/device"
# shellcheck disable=SC2086
(cd "$root" && cargo run -q --release -p metamorph-cli --example mcu-expected -- \
  models/mnist-lenet.mmh runtime/firmware/fixture $budgets) > "$tmp/host" || fail "host expectations failed"
for backend in Native Tract; do
  grep "^$backend " "$tmp/host" | cut -d' ' -f2- > "$tmp/expected"
  [ -s "$tmp/expected" ] || fail "no $backend lines from mcu-expected"
  diff "$tmp/expected" "$tmp/device" >&2 || fail "firmware differs from the host's $backend engine (expected < > firmware)"
  echo "   equal to $backend"
done
step "figures (markdown; QEMU is not cycle-accurate, see docs/RESULTS.md)"
# Under -icount shift=0 every instruction advances virtual time by 1 ns, and SysTick counts the
# modelled 25 MHz core clock in virtual time: instructions = cycles · 40. Two Cortex-M7 (216 MHz)
# estimates: from the MAC counts at an assumed 0.5 f32 MAC per cycle (108 M MAC/s), and from the
# instruction counts at one instruction per cycle.
awk -v rate=108e6 '$1 == "step" {
  if (!header++) {
    print "| step | budget (B) | h | held | RAM high-water (B) | MACs / inference | INR MACs (materialise) | QEMU instructions: materialise / 1 inference | M7 216 MHz, 0.5 MAC/cycle: materialise / 1 inference | M7 216 MHz, 1 instruction/cycle: materialise / 1 inference | correct |"
    print "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  }
  printf "| %s | %s | %s | %s | %s | %s | %s | %.1f M / %.2f M | %.1f ms / %.2f ms | %.0f ms / %.1f ms | %s |\n", $2, $4, $6, $8, $14, $16, $18,
    $20 * 40 / 1e6, $22 * 40 / 1e6, $18 / rate * 1e3, $16 / rate * 1e3, $20 * 40 / 216e3, $22 * 40 / 216e3, $24
}' "$tmp/fw.out"
echo "firmware: all checks passed"
