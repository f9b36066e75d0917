#!/usr/bin/env bash
# Builds metamorph-train with `--features cuda` on a machine with no GPU and no CUDA toolkit, and
# runs it against the CPU on a machine with an NVIDIA GPU. Two halves:
#
#   scripts/cuda-proof.sh build    # on the build machine (x86-64, cargo, g++, pip; no GPU needed)
#   scripts/cuda-proof.sh device   # on the GPU machine, in the repository root (no cargo needed)
#
# build: installs nvcc 13.0 and the CUDA headers and libraries from PyPI into a venv outside the
# repository ($CUDA_PYPI, default ~/.cache/cuda-pypi), makes the unversioned link names and a stub
# libcuda.so (the driver library, which no wheel ships; the real one is loaded at run time), builds
# into its own target dir ($CARGO_TARGET_DIR, default ~/.cache/metamorph-cuda-target) and copies the
# binary to .cuda/ (ignored through .git/info/exclude). nvcc 13.0, not a newer one: the kernels ship
# as PTX, which a driver JIT-compiles only if it is no newer than the driver (580 = CUDA 13.0).
# CUDA_COMPUTE_CAP (default 90: H100/H200) picks the architecture of the statically built kernels.
#
# device: needs the NVIDIA driver and, somewhere under /opt or /usr/local, libcublas.so.13,
# libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13 and libcudart.so.13 (a CUDA 13 toolkit or
# PyTorch's nvidia-* wheels). Runs the same commands with --device cuda and --device cpu, prints
# `TIME <label> rc=<exit> <seconds> s` after each, and writes outputs under $OUT (default .cuda/out).
# Each run stops after STEP_LIMIT seconds (default 120), all of them after TOTAL_LIMIT (default 400);
# on an H200 machine with 16 cores the whole sequence took about 320 s. Copy .cuda/ along with the
# checkout, then: `bash scripts/cuda-proof.sh device 2>&1 | tee "$OUT/device.log"`.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

build() {
  set -e
  local pypi="${CUDA_PYPI:-$HOME/.cache/cuda-pypi}"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metamorph-cuda-target}"
  if [ ! -x "$pypi/venv/bin/pip" ]; then
    python3 -m venv "$pypi/venv"
  fi
  # One CUDA release throughout (13.0); nvidia-nvvm must be pinned too, pip would take the newest.
  "$pypi/venv/bin/pip" install -q nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88 \
    nvidia-curand==10.4.0.35 nvidia-cublas==13.0.2.14
  local cuda
  cuda="$(echo "$pypi"/venv/lib/python3*/site-packages/nvidia/cu13)"
  # Link names for the libraries cudarc links (-lcublas ...): the wheels ship only the sonames.
  for l in cublas cublasLt cudart nvrtc; do ln -sf "lib$l.so.13" "$cuda/lib/lib$l.so"; done
  ln -sf libcurand.so.10 "$cuda/lib/libcurand.so"
  # Stub driver library: every cu* function cudarc declares, soname libcuda.so.1. cudarc's source
  # is read from the registry, so it must be unpacked there first (a fresh machine has none).
  if [ ! -f "$cuda/lib/stubs/libcuda.so" ]; then
    cargo fetch --quiet
    mkdir -p "$cuda/lib/stubs"
    local sys
    sys="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.10/src/driver/sys/mod.rs | head -1)"
    grep -oE '^pub unsafe fn cu[A-Za-z0-9_]+' "$sys" | awk '{print "void " $4 "(void) {}"}' | sort -u >"$pypi/cuda_stub.c"
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$cuda/lib/stubs/libcuda.so" "$pypi/cuda_stub.c"
  fi
  export PATH="$cuda/bin:$PATH" CUDA_ROOT="$cuda" CUDA_HOME="$cuda" CUDA_PATH="$cuda" NVCC_CCBIN="${NVCC_CCBIN:-g++}"
  export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-2}"
  nvcc --version | tail -2
  nice -n 19 cargo build --release -p metamorph-trainer --features cuda --bin metamorph-train
  mkdir -p .cuda
  grep -qx '/.cuda/' .git/info/exclude 2>/dev/null || echo '/.cuda/' >>.git/info/exclude
  # Stripped and xz-compressed (about 6 MB instead of 55) so that it travels with the working tree.
  cp "$CARGO_TARGET_DIR/release/metamorph-train" "$pypi/metamorph-train"
  strip "$pypi/metamorph-train"
  nice -n 19 xz -T1 -6 -c "$pypi/metamorph-train" >.cuda/metamorph-train.xz
  # The binary finds models/ and data/ through the path it was built in (CARGO_MANIFEST_DIR).
  echo "$root" >.cuda/BUILT_ROOT
  # What was built: HEAD plus a hash of any uncommitted changes to the crates.
  { git rev-parse HEAD; git diff HEAD -- trainer runtime | sha256sum; } >.cuda/BUILD_INFO
  ls -l .cuda/metamorph-train.xz
}

device() {
  local out="${OUT:-$root/.cuda/out}" bin=/tmp/metamorph-train limit="${STEP_LIMIT:-120}"
  mkdir -p "$out"
  . scripts/lib/cuda-device.sh
  cuda_device_setup "$bin"
  local deadline=$((SECONDS + ${TOTAL_LIMIT:-400}))
  step() { # step LABEL ARGS...: runs the binary with a time limit and prints its wall time
    local label="$1" t0 t1 left=$((deadline - SECONDS))
    shift
    if [ "$left" -lt 15 ]; then
      echo "=== $label: skipped (TOTAL_LIMIT reached)"
      rc=125
      return
    fi
    echo "=== $label: metamorph-train $*"
    t0="$(date +%s.%N)"
    timeout "$((left < limit ? left : limit))" "$bin" "$@"
    rc=$?
    t1="$(date +%s.%N)"
    echo "TIME $label rc=$rc $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
  }
  # First use of the GPU: the driver JIT-compiles candle's PTX (cached under ~/.nv for later runs).
  step "warmup-cuda" base --preset digits-mlp --max-steps 5 --device cuda -o /tmp/warmup.safetensors
  if [ "$rc" -ne 0 ]; then
    echo "the first CUDA run failed (exit $rc): stopping"
    return 1
  fi
  step "digits-mlp-fit-cuda" fit --preset digits-mlp --device cuda -o "$out/digits-mlp-cuda.mmh"
  step "digits-mlp-fit-cpu" fit --preset digits-mlp --device cpu -o "$out/digits-mlp-cpu.mmh"
  for d in cuda cpu; do
    step "mnist-mlp-base-1epoch-$d" base --preset mnist-mlp --epochs 1 --device "$d" -o "/tmp/mnist-mlp-$d.safetensors"
  done
  for d in cuda cpu; do
    step "mnist-lenet-base-100steps-$d" base --preset mnist-lenet --max-steps 100 --device "$d" -o "/tmp/mnist-lenet-$d.safetensors"
  done
  for d in cuda cpu; do
    step "mnist-mlp-fit-300steps-$d" fit --preset mnist-mlp --steps 300 --device "$d" -o "/tmp/mnist-mlp-$d.mmh" \
      --checkpoint "/tmp/mnist-mlp-$d.ckpt" --checkpoint-every 100
  done
  # CUDA only: base training alone takes minutes per epoch on the CPU.
  step "mnist-lenet-fit-100steps-cuda" fit --preset mnist-lenet --steps 100 --device cuda -o /tmp/mnist-lenet-cuda.mmh
  nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv
}

case "${1:-}" in
  build) build ;;
  device) device ;;
  *)
    echo "usage: $0 build|device" >&2
    exit 2
    ;;
esac
