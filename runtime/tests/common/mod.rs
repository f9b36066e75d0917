//! Tiny specs and seeded random hypernets shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "alloc")]
use metamorph::format::{AccuracyRow, OwnedHypernet};
use metamorph::inr::InrConfig;
use metamorph::spec::{ArchSpec, Dim, Layer};

/// 2×2 input → dense h → relu → dense 2 (4 tensors: Row weight, bias, Pair weight, frozen bias).
pub fn tiny_mlp() -> ArchSpec {
    ArchSpec::new(
        "tiny",
        [1, 2, 2],
        4,
        1,
        &[Layer::Flatten, Layer::Dense { out: Dim::Width(1) }, Layer::Relu, Layer::Dense { out: Dim::Fixed(2) }],
    )
    .unwrap()
}

/// A small conv net with a residual block: every query layout (Row weight, Pair weight, Pair
/// bias, frozen bias, frozen scale) appears.
pub fn tiny_conv() -> ArchSpec {
    let conv = |out, kernel, pad| Layer::Conv2d { out, kernel, stride: 1, pad };
    ArchSpec::new(
        "tiny-conv",
        [2, 5, 5],
        6,
        1,
        &[
            conv(Dim::Width(1), 3, 1),
            Layer::Relu,
            Layer::Save,
            conv(Dim::Width(1), 3, 1),
            Layer::Relu,
            Layer::AddScaled,
            Layer::MaxPool { kernel: 2, stride: 2 },
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(3) },
        ],
    )
    .unwrap()
}

pub const SMALL_INR: InrConfig = InrConfig { bands: 2, hidden: 8, depth: 2, norm: 8.0 };

#[cfg(feature = "alloc")]
/// [`OwnedHypernet::random`] with an accuracy table, as a trained file would carry.
pub fn random_hypernet(arch: ArchSpec, inr: InrConfig, seed: u64) -> OwnedHypernet {
    let mut net = OwnedHypernet::random(arch, inr, "test", seed).unwrap();
    net.accuracy = vec![
        AccuracyRow { h: net.arch.h_min, samples: 1, accuracy: 0.5 },
        AccuracyRow { h: net.arch.h_max, samples: 4, accuracy: 0.75 },
    ];
    net
}

#[cfg(feature = "alloc")]
/// A slimmable hypernet of `arch`: every full-width parameter uniform in `[-0.5, 0.5)`.
pub fn random_slimmable(arch: ArchSpec, seed: u64) -> OwnedHypernet {
    let mut rng = metamorph::rng::Rng::new(seed);
    let full =
        arch.params(arch.h_max as usize).map(|p| (0..p.len()).map(|_| rng.uniform(-0.5, 0.5)).collect()).collect();
    let mut net = OwnedHypernet::slimmable(arch, full, "test").unwrap();
    net.accuracy = vec![AccuracyRow { h: net.arch.h_max, samples: 1, accuracy: 0.9 }];
    net
}
