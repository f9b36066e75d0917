//! Random hypernets of real shapes, for tests, benchmarks and trying the CLI before training.

use anyhow::{Context, Result};
use metamorph::format::OwnedHypernet;
use metamorph::inr::InrConfig;
use metamorph::spec::{ArchSpec, Dim, Layer};

/// The `mnist-mlp` family (784-h-h-10, h 8..=256), as in `models/mnist-mlp.json`.
pub fn mnist_mlp() -> (ArchSpec, InrConfig) {
    let arch = ArchSpec::new("mnist-mlp", [1, 28, 28], 256, 8, &mlp_layers()).expect("valid spec");
    (arch, InrConfig { bands: 8, hidden: 48, depth: 2, norm: 256.0 })
}

/// The `digits-mlp` family (64-h-h-10, h 2..=32), as in `models/digits-mlp.json`.
pub fn digits_mlp() -> (ArchSpec, InrConfig) {
    let arch = ArchSpec::new("digits-mlp", [1, 8, 8], 32, 2, &mlp_layers()).expect("valid spec");
    (arch, InrConfig { bands: 6, hidden: 32, depth: 1, norm: 64.0 })
}

/// The `mnist-lenet` family (3 convolutions, pools, GAP, dense; h 2..=32), as in `models/mnist-lenet.json`.
pub fn mnist_lenet() -> (ArchSpec, InrConfig) {
    let conv = |m, kernel, pad| Layer::Conv2d { out: Dim::Width(m), kernel, stride: 1, pad };
    let pool = Layer::MaxPool { kernel: 2, stride: 2 };
    let layers = [
        conv(1, 3, 1), Layer::Relu, pool,
        conv(2, 5, 2), Layer::Relu, pool,
        conv(4, 5, 2), Layer::Relu,
        Layer::GlobalAvgPool, Layer::Flatten, Layer::Dense { out: Dim::Fixed(10) },
    ];
    let arch = ArchSpec::new("mnist-lenet", [1, 28, 28], 32, 2, &layers).expect("valid spec");
    (arch, InrConfig { bands: 6, hidden: 48, depth: 2, norm: 128.0 })
}

fn mlp_layers() -> [Layer; 6] {
    [
        Layer::Flatten,
        Layer::Dense { out: Dim::Width(1) },
        Layer::Relu,
        Layer::Dense { out: Dim::Width(1) },
        Layer::Relu,
        Layer::Dense { out: Dim::Fixed(10) },
    ]
}

/// A hypernet of `arch` with uniform random INR and frozen parameters (deterministic in `seed`),
/// encoded as file bytes.
pub fn random_hypernet(arch: ArchSpec, inr: InrConfig, dataset: &str, seed: u64) -> Result<Vec<u8>> {
    let mut net = OwnedHypernet::zeros(arch, inr, dataset).context("building a zero hypernet")?;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    for (_, params) in &mut net.mlps {
        params.iter_mut().for_each(|v| *v = next() * 0.5);
    }
    for t in &mut net.frozen {
        t.iter_mut().for_each(|v| *v = next() * 0.2);
    }
    net.sigma = 0.5;
    net.to_bytes().context("encoding the random hypernet")
}
