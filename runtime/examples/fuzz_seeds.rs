//! Writes the fuzz targets' seed corpus: tiny hypernets (a few hundred bytes to a few kB) shaped
//! like the shipped ones (the MLP and LeNet families, a residual conv net; INR and slimmable
//! generators; f32, f16 and int8 blobs), so each fuzz execution checksums and decodes little.
//! The shipped files in `models/` are 109 kB–1 MB, which held the reader to about 1k executions
//! a second.
//!
//! ```text
//! cargo run -p metamorph --features std --example fuzz_seeds -- fuzz/seeds
//! ```
//!
//! Deterministic: rerunning it rewrites the same bytes.

use metamorph::format::{AccuracyRow, DType, OwnedHypernet};
use metamorph::inr::InrConfig;
use metamorph::spec::{families, ArchSpec, Dim, Layer};
use std::path::PathBuf;

/// Small enough that a seed stays a few kB, large enough to have every INR segment.
const INR: InrConfig = InrConfig { bands: 1, hidden: 6, depth: 1, norm: 8.0 };

/// Conv → relu → save → conv → relu → add-scaled → pool → dense: the residual and scale paths.
fn residual() -> ArchSpec {
    let conv = |kernel, pad| Layer::Conv2d { out: Dim::Width(1), kernel, stride: 1, pad };
    ArchSpec::new(
        "residual",
        [1, 6, 6],
        3,
        1,
        &[
            conv(3, 1),
            Layer::Relu,
            Layer::Save,
            conv(3, 1),
            Layer::Relu,
            Layer::AddScaled,
            Layer::AvgPool { kernel: 2, stride: 2 },
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(3) },
        ],
    )
    .expect("a valid spec")
}

fn with_accuracy(mut net: OwnedHypernet) -> OwnedHypernet {
    net.accuracy = vec![
        AccuracyRow { h: net.arch.h_min, samples: 1, accuracy: 0.5 },
        AccuracyRow { h: net.arch.h_max, samples: 4, accuracy: 0.75 },
    ];
    net
}

fn inr(arch: ArchSpec, seed: u64) -> OwnedHypernet {
    with_accuracy(OwnedHypernet::random(arch, INR, "seed", seed).expect("a valid INR hypernet"))
}

/// Every full-width parameter from a seeded generator, as a trained slimmable file would hold.
fn slimmable(arch: ArchSpec, seed: u64) -> OwnedHypernet {
    let mut rng = metamorph::rng::Rng::new(seed);
    let full =
        arch.params(arch.h_max as usize).map(|p| (0..p.len()).map(|_| rng.uniform(-0.5, 0.5)).collect()).collect();
    with_accuracy(OwnedHypernet::slimmable(arch, full, "seed").expect("a valid slimmable hypernet"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: fuzz_seeds OUT_DIR")?);
    let mlp = || families::mlp("digits-mlp", [1, 8, 8], 10, 8, 2).expect("a valid spec");
    let lenet = || families::lenet("mnist-lenet", [1, 8, 8], 10, 2, 1).expect("a valid spec");
    let seeds = [
        ("mlp-inr-f32", inr(mlp(), 1), DType::F32),
        ("mlp-inr-f16", inr(mlp(), 2), DType::F16),
        ("mlp-inr-i8", inr(mlp(), 3), DType::I8),
        ("mlp-slim-f32", slimmable(families::mlp("mlp", [1, 4, 4], 10, 4, 1)?, 4), DType::F32),
        ("lenet-inr-f16", inr(lenet(), 5), DType::F16),
        ("lenet-slim-i8", slimmable(lenet(), 6), DType::I8),
        ("residual-inr-f32", inr(residual(), 7), DType::F32),
        ("residual-slim-f16", slimmable(residual(), 8), DType::F16),
    ];
    for (name, net, dtype) in seeds {
        let path = dir.join(format!("{name}.mmh"));
        let bytes = net.to_bytes_as(dtype)?;
        std::fs::write(&path, &bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("{} {} bytes", path.display(), bytes.len());
    }
    Ok(())
}
