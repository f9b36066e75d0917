//! Pins what every shipped hypernet materialises: a hash of its weights at the narrowest and the
//! widest trained width, with one and with several INR samples. A refactor of the INR evaluator,
//! the materialiser or the GEMM that changes a single bit fails here; a deliberate change of the
//! INR (a retrained model, a new format) updates the table below in the same commit.
//!
//! A slimmable file's member is a copy of its stored values, the same bits with either GEMM.
//! The portable GEMM (`--no-default-features`) is plain scalar f32 arithmetic, so its bits are
//! the same on every machine. `matrixmultiply` picks its kernel by CPU feature; its hashes are
//! pinned for the FMA kernel that every x86-64 machine we build on selects, and checked only there.

use metamorph::format;
use metamorph::materialise::Materialiser;
use std::path::Path;

/// FNV-1a over the little-endian bits of every weight.
fn fnv1a(values: &[f32]) -> u64 {
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// `(file, h, samples, hash)` with the portable GEMM.
#[cfg(not(feature = "matrixmultiply"))]
const PINNED: &[(&str, usize, u32, u64)] = &[
    ("mnist-mlp.mmh", 64, 1, 0xa3c281a8b0c4c015),
    ("mnist-mlp.mmh", 256, 1, 0x6d2f17aec6906a27),
    ("mnist-mlp.mmh", 128, 3, 0x8361157181d00bf0),
    ("mnist-mlp-shallow.mmh", 64, 1, 0x62ade6aef04842a6),
    ("mnist-mlp-shallow.mmh", 256, 1, 0x457a58f0b03f8ea4),
    ("mnist-lenet.mmh", 8, 1, 0xc02b6ea272985b71),
    ("mnist-lenet.mmh", 32, 1, 0x5ba11d25518ac5d3),
    ("mnist-lenet.mmh", 16, 3, 0xbc820d16fcc296df),
    ("mnist-mlp-slim.mmh", 64, 1, 0x5bb6acdc3d8218a0),
    ("mnist-mlp-slim.mmh", 256, 1, 0x2255a1eab49e9c),
    ("mnist-lenet-slim.mmh", 8, 1, 0x9903e16727ba5933),
    ("mnist-lenet-slim.mmh", 32, 1, 0xba23c5f84aec086f),
];

/// `(file, h, samples, hash)` with `matrixmultiply`'s FMA kernel.
#[cfg(feature = "matrixmultiply")]
const PINNED: &[(&str, usize, u32, u64)] = &[
    ("mnist-mlp.mmh", 64, 1, 0x0bdc71b1d99cdb39),
    ("mnist-mlp.mmh", 256, 1, 0x437165ad48d5e3d4),
    ("mnist-mlp.mmh", 128, 3, 0x504d2b17d5491481),
    ("mnist-mlp-shallow.mmh", 64, 1, 0xc1b3a5fa6da92b75),
    ("mnist-mlp-shallow.mmh", 256, 1, 0x90bcf759254d6e8b),
    ("mnist-lenet.mmh", 8, 1, 0x1c8c67e636fda947),
    ("mnist-lenet.mmh", 32, 1, 0xe0ee39dd5bc671c3),
    ("mnist-lenet.mmh", 16, 3, 0xb983009156c2a1a7),
    ("mnist-mlp-slim.mmh", 64, 1, 0x5bb6acdc3d8218a0),
    ("mnist-mlp-slim.mmh", 256, 1, 0x2255a1eab49e9c),
    ("mnist-lenet-slim.mmh", 8, 1, 0x9903e16727ba5933),
    ("mnist-lenet-slim.mmh", 32, 1, 0xba23c5f84aec086f),
];

/// Whether this build's GEMM is the one [`PINNED`] was recorded with.
fn pinned_kernel() -> bool {
    if cfg!(feature = "matrixmultiply") {
        // Without `std`, matrixmultiply cannot detect the CPU's features and keeps its SSE2 kernel.
        #[cfg(target_arch = "x86_64")]
        return cfg!(feature = "std")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("avx");
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    }
    true
}

#[test]
fn shipped_hypernets_materialise_bit_identically() {
    if !pinned_kernel() {
        eprintln!("skipped: matrixmultiply picks a kernel other than the pinned FMA one on this CPU");
        return;
    }
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut found = Vec::new();
    for &(file, h, samples, _) in PINNED {
        let bytes = std::fs::read(models.join(file)).unwrap();
        let net = format::read(&bytes).unwrap();
        let m = Materialiser::new(&net, h, samples, 0).unwrap();
        let (mut weights, mut scratch) = (vec![0.0; m.total_len()], vec![0.0; m.scratch_len()]);
        m.all(&mut weights, &mut scratch).unwrap();
        found.push((file, h, samples, fnv1a(&weights)));
    }
    let expected: Vec<_> = PINNED.to_vec();
    assert_eq!(found, expected, "materialised weights changed; found {found:#x?}");
}
