//! Random hypernets of real shapes, for tests, benchmarks and trying the CLI before training.

use anyhow::{Context, Result};
use metamorph::format::OwnedHypernet;
use metamorph::inr::InrConfig;
use metamorph::spec::{families, ArchSpec};

/// The `mnist-mlp` family (784-h-h-10, h 8..=256), as in `models/mnist-mlp.json`.
pub fn mnist_mlp() -> (ArchSpec, InrConfig) {
    (families::mnist_mlp(), InrConfig { bands: 6, hidden: 64, depth: 2, norm: 256.0 })
}

/// The `digits-mlp` family (64-h-h-10, h 2..=32), as in `models/digits-mlp.json`.
pub fn digits_mlp() -> (ArchSpec, InrConfig) {
    (families::digits_mlp(), InrConfig { bands: 6, hidden: 32, depth: 1, norm: 64.0 })
}

/// The `mnist-lenet` family (3 convolutions, pools, GAP, dense; h 2..=32), as in `models/mnist-lenet.json`.
pub fn mnist_lenet() -> (ArchSpec, InrConfig) {
    (families::mnist_lenet(), InrConfig { bands: 4, hidden: 48, depth: 2, norm: 128.0 })
}

/// [`OwnedHypernet::random`] of `arch` and `inr` (deterministic in `seed`), encoded as file bytes.
pub fn random_hypernet(arch: ArchSpec, inr: InrConfig, dataset: &str, seed: u64) -> Result<Vec<u8>> {
    OwnedHypernet::random(arch, inr, dataset, seed).and_then(|net| net.to_bytes()).context("building a random hypernet")
}
