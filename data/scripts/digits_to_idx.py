"""Convert the UCI optical digits CSV (from scikit-learn's wheel) into gzip IDX files.

Run once from the repository root: python3 data/scripts/digits_to_idx.py
The first 1437 rows become the training split, the last 360 the test split (an 80/20 cut
in file order). Pixel values stay 0..16 as in the source; the trainer divides by 16.
"""
import gzip
import struct

rows = [list(map(int, line.split(","))) for line in gzip.open("data/digits/digits.csv.gz", "rt") if line.strip()]
assert len(rows) == 1797, len(rows)
splits = {"train": rows[:1437], "t10k": rows[1437:]}
for name, part in splits.items():
    images = bytes(v for r in part for v in r[:64])
    labels = bytes(r[64] for r in part)
    with gzip.GzipFile(f"data/digits/{name}-images-idx3-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">IIII", 0x803, len(part), 8, 8) + images)
    with gzip.GzipFile(f"data/digits/{name}-labels-idx1-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">II", 0x801, len(part)) + labels)
