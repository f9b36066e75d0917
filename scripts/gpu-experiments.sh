#!/usr/bin/env bash
# One call to a GPU machine for what this 2-core CPU cannot afford: issue 13's larger and longer
# INR fits of mnist-mlp, and issue 14's question of what is deterministic on CUDA.
#
#   scripts/cuda-proof.sh build                     # here: the cuda binary, into .cuda/
#   OUT=DIR LIMIT=480 bash scripts/gpu-experiments.sh   # there, in the repository root
#
# 1. One full-width base network (mnist-mlp preset, seed 0) trained twice on CUDA: are the two
#    files identical? Every fit below starts from the first one, so they differ only in the preset.
# 2. Five fits at once on the one GPU (each process mostly waits on kernel launches, so they share
#    it well), each `metamorph-train fit --preset docs/experiments/NAME.json --base B --device cuda`
#    with the same seed: the in-run reference `mnist-mlp-warmup02`, INRs of hidden 128 and of
#    NeuMeta's size class (hidden 256, 3 layers, at two learning rates), and the reference at
#    twice the steps. Beside them, determinism: digits-mlp `fit` twice, mnist-lenet `base` twice,
#    a 300-step mnist-mlp `fit` twice; equal files print equal sha256 sums.
# Every job stops at LIMIT seconds after the fits start (default 480). What comes back under
# $OUT: gpu.log (everything printed, each line tagged with its job), exported.tar (the base network
# and the exported files) and checkpoints.tar (the small INRs' checkpoints of any fit that did not
# finish, so that it can be resumed with the same command).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${OUT:-$root/.cuda/out}" work=/tmp/gpu-experiments bin=/tmp/metamorph-train
mkdir -p "$out" "$work"
exec > >(tee "$out/gpu.log") 2>&1
. scripts/lib/cuda-device.sh
cuda_device_setup "$bin"
# The processes share 16 cores; their CPU work is data loading and kernel launches.
export RAYON_NUM_THREADS=3
# job NAME ARGS...: runs the binary, its output tagged with NAME, and prints its wall time.
job() {
  local name="$1" t0=$SECONDS
  shift
  if [ $((deadline - SECONDS)) -lt 5 ]; then
    echo "[$name] skipped: out of time"
    return
  fi
  timeout "$((deadline - SECONDS))" "$bin" "$@" --quiet 2>&1 | sed -u "s/^/[$name] /"
  echo "[$name] TIME rc=${PIPESTATUS[0]} $((SECONDS - t0)) s"
}
deadline=$((SECONDS + 300))
# The first CUDA process JIT-compiles candle's PTX; the driver caches it for the later ones.
job warmup base --preset digits-mlp --max-steps 5 --device cuda -o "$work/warmup.safetensors"
grep -q '^\[warmup\] TIME rc=0 ' "$out/gpu.log" || { echo "the first CUDA run failed: stopping"; exit 1; }
for run in a b; do
  job "base-$run" base --preset mnist-mlp --device cuda -o "$work/base-$run.safetensors"
done
base="$work/base-a.safetensors"
deadline=$((SECONDS + ${LIMIT:-480}))
fit() { # fit NAME: the preset docs/experiments/NAME.json from the shared base network
  job "$1" fit --preset "docs/experiments/$1.json" --base "$base" --device cuda -o "$work/$1.mmh" \
    --checkpoint "$work/$1.ckpt" --checkpoint-every 600
}
for name in mnist-mlp-warmup02 mnist-mlp-warmup02-hidden128 mnist-mlp-warmup02-hidden256-depth3 \
  mnist-mlp-warmup02-hidden256-depth3-lr001 mnist-mlp-warmup02-steps14400; do
  fit "$name" &
  pids="${pids:-} $!"
done
determinism() {
  for run in a b; do
    job "digits-fit-$run" fit --preset digits-mlp --device cuda -o "$work/digits-$run.mmh"
  done
  for run in a b; do
    job "lenet-base-$run" base --preset mnist-lenet --max-steps 100 --device cuda -o "$work/lenet-$run.safetensors"
  done
  for run in a b; do
    job "mlp-fit300-$run" fit --preset mnist-mlp --steps 300 --base "$base" --device cuda -o "$work/mlp300-$run.mmh"
  done
}
determinism &
pids="$pids $!"
for t in 60 240; do
  sleep "$t"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader | sed "s/^/[gpu after ${t}s more] /"
done
# Not a bare `wait`: that would wait for the `tee` of the log too.
wait $pids
echo "=== sha256 (equal sums: bit-identical runs)"
(cd "$work" && sha256sum base-*.safetensors digits-*.mmh lenet-*.safetensors mlp300-*.mmh)
# What comes back: the exported files and the base network, and the checkpoints of the small INRs
# whose fit did not finish (a few MB each; those of hidden 256 exceed what a call returns).
tar -C "$work" -cf "$out/exported.tar" base-a.safetensors $(cd "$work" && ls mnist-mlp-*.mmh 2>/dev/null)
ckpts=""
for name in mnist-mlp-warmup02 mnist-mlp-warmup02-hidden128 mnist-mlp-warmup02-steps14400; do
  [ -f "$work/$name.ckpt" ] && [ ! -f "$work/$name.mmh" ] && ckpts="$ckpts $name.ckpt"
done
[ -n "$ckpts" ] && tar -C "$work" -cf "$out/checkpoints.tar" $ckpts
ls -l "$out"
