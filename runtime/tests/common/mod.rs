//! Tiny specs and seeded random hypernets shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "alloc")]
use metamorph::format::{AccuracyRow, OwnedHypernet};
use metamorph::inr::InrConfig;
use metamorph::spec::{ArchSpec, Dim, Layer};

/// SplitMix64: a tiny seeded generator so tests need no rand crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[-a, a)`.
    pub fn sym(&mut self, a: f32) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

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
/// A hypernet of `arch` with every parameter uniform in `[-0.5, 0.5)` and some metadata.
pub fn random_hypernet(arch: ArchSpec, inr: InrConfig, seed: u64) -> OwnedHypernet {
    let mut rng = Rng(seed);
    let mut net = OwnedHypernet::zeros(arch, inr, "test").unwrap();
    for (_, v) in &mut net.mlps {
        v.iter_mut().for_each(|x| *x = rng.sym(0.5));
    }
    for f in &mut net.frozen {
        f.iter_mut().for_each(|x| *x = rng.sym(0.5));
    }
    net.sigma = 1.0;
    net.accuracy = vec![
        AccuracyRow { h: net.arch.h_min, samples: 1, accuracy: 0.5 },
        AccuracyRow { h: net.arch.h_max, samples: 4, accuracy: 0.75 },
    ];
    net
}
