#!/usr/bin/env bash
# Fetch Fashion-MNIST (gzip IDX, MIT licence, Zalando SE) from Debian's `dataset-fashion-mnist`
# package into data/fashion-mnist/. Idempotent; needs only apt's package download (no root).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/data/fashion-mnist"
if [ -f "$dest/t10k-labels-idx1-ubyte.gz" ]; then echo "fashion-mnist already in $dest"; exit 0; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download dataset-fashion-mnist || { apt-get update -qq && apt-get download dataset-fashion-mnist; }
dpkg-deb -x dataset-fashion-mnist_*_all.deb x
mkdir -p "$dest"
cp x/usr/share/datasets/fashion-mnist/*-ubyte.gz "$dest/"
echo "fashion-mnist -> $dest"; ls -l "$dest"
