#!/usr/bin/env python3
"""How large the gradients were that AdamW saw, from two `metamorph-train fit` checkpoints.

    python3 scripts/checkpoint_moments.py BEFORE.ckpt AFTER.ckpt

For each INR variable i it prints the root of the mean of the bias-corrected second moment
(adam_v.i / (1 - 0.999^t), t the checkpoint's update count) in both checkpoints and their ratio,
then the smallest, median and largest ratio. A ratio far above 1 between a checkpoint before the
switch to classification and one after it means the classification gradients are far larger than
the reconstruction gradients that the moments were sized to. Standard library only.
"""
import array
import json
import math
import struct
import sys

BETA2 = 0.999  # AdamWConfig::default() in trainer/src/adamw.rs


def read(path):
    """The checkpoint's tensors, f32 and i64 only, as flat arrays."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        code = {"F32": "f", "I64": "q"}.get(info["dtype"])
        if code is None:
            continue
        values = array.array(code)
        values.frombytes(data[8 + n + start : 8 + n + end])
        tensors[name] = values
    return tensors


def rms_moments(path):
    """Step, and per variable index the root of the mean bias-corrected second moment."""
    t = read(path)
    step, updates = t["counters"]
    correction = 1.0 - BETA2**updates
    out = {}
    for name, v in t.items():
        if name.startswith("adam_v."):
            out[int(name.split(".")[1])] = (len(v), math.sqrt(sum(v) / len(v) / correction))
    return step, out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (s0, before), (s1, after) = rms_moments(sys.argv[1]), rms_moments(sys.argv[2])
    print(f"variable | values | sqrt(mean v) at step {s0} | at step {s1} | ratio")
    ratios = []
    for i in sorted(before):
        n, a = before[i]
        b = after[i][1]
        ratios.append(b / a)
        print(f"{i} | {n} | {a:.3e} | {b:.3e} | {b / a:.2f}")
    ratios.sort()
    print(f"ratio: smallest {ratios[0]:.2f}, median {ratios[len(ratios) // 2]:.2f}, largest {ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
