//! Owned hypernet → bytes → `read` → owned again, at every storage dtype; golden header bytes.
#![cfg(feature = "alloc")]

mod common;

use common::{random_hypernet, random_slimmable, tiny_conv, tiny_mlp, SMALL_INR};
use metamorph::format::{
    self, DType, Generator, OwnedGenerator, OwnedHypernet, HEADER_LEN, MAGIC, TRAILER_LEN, VERSION,
};
use metamorph::inr::InrConfig;
use proptest::prelude::*;

#[test]
fn f32_round_trip_is_exact() {
    let inr = [(tiny_mlp(), 1), (tiny_conv(), 2)].map(|(arch, seed)| random_hypernet(arch, SMALL_INR, seed));
    let slim = [(tiny_mlp(), 1), (tiny_conv(), 2)].map(|(arch, seed)| random_slimmable(arch, seed));
    for owned in inr.into_iter().chain(slim) {
        let bytes = owned.to_bytes().unwrap();
        let net = format::read(&bytes).unwrap();
        assert_eq!(OwnedHypernet::from_hypernet(&net).unwrap(), owned);
        // Re-encoding the decoded file gives the same bytes.
        let mut buf = vec![0u8; bytes.len()];
        assert_eq!(format::write(&net, &mut buf).unwrap(), &bytes[..]);
    }
}

#[test]
fn write_into_a_short_buffer_is_an_error() {
    let bytes = random_hypernet(tiny_mlp(), SMALL_INR, 3).to_bytes().unwrap();
    let net = format::read(&bytes).unwrap();
    for len in [0, HEADER_LEN, bytes.len() - 1] {
        let mut buf = vec![0u8; len];
        assert!(format::write(&net, &mut buf).is_err(), "len {len}");
    }
}

/// Values before and after a round trip, and the ranges that share an int8 scale.
type Scaled = (Vec<f32>, Vec<f32>, Vec<std::ops::Range<usize>>);

fn assert_close(owned: &OwnedHypernet, back: &OwnedHypernet, dtype: DType) {
    assert_eq!(back.arch, owned.arch);
    assert_eq!(back.frozen, owned.frozen, "frozen tensors are always f32");
    assert_eq!((back.sigma, &back.accuracy, &back.dataset), (owned.sigma, &owned.accuracy, &owned.dataset));
    // The ranges that share an int8 scale: an MLP's layout segments, or a whole slimmable tensor.
    let segments: Vec<Scaled> = match (&owned.generator, &back.generator) {
        (OwnedGenerator::Inr { config, mlps: a }, OwnedGenerator::Inr { mlps: b, .. }) => a
            .iter()
            .zip(b)
            .map(|((out_a, a), (out_b, b))| {
                assert_eq!(out_a, out_b);
                (a.clone(), b.clone(), config.segments(*out_a).map(|s| s.range()).collect())
            })
            .collect(),
        (OwnedGenerator::Slimmable { tensors: a }, OwnedGenerator::Slimmable { tensors: b }) => {
            a.iter().zip(b).map(|(a, b)| (a.clone(), b.clone(), std::iter::once(0..a.len()).collect())).collect()
        }
        _ => panic!("the generator kind changed"),
    };
    for (a, b, ranges) in segments {
        for range in ranges {
            let (a, b) = (&a[range.clone()], &b[range]);
            let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(b) {
                let tol = match dtype {
                    DType::F32 => 0.0,
                    DType::F16 => x.abs() * 2f32.powi(-11) + 6e-8,
                    // Half a quantisation step of the segment's scale, plus rounding slack.
                    DType::I8 => max / 127.0 * 0.5 * (1.0 + 1e-5),
                };
                assert!((x - y).abs() <= tol, "{dtype:?}: {x} vs {y} (tol {tol})");
            }
        }
    }
}

#[test]
fn quantised_round_trips_are_within_their_step() {
    for dtype in [DType::F32, DType::F16, DType::I8] {
        let owned = random_hypernet(tiny_conv(), SMALL_INR, 4);
        let bytes = owned.to_bytes_as(dtype).unwrap();
        let net = format::read(&bytes).unwrap();
        let Generator::Inr { tensors, .. } = &net.generator else { panic!("an INR file") };
        assert!(tensors.iter().all(|t| t.params.dtype == dtype));
        assert_eq!(
            net.generator_bytes(),
            net.generator_params() * dtype.size()
                + if dtype == DType::I8 { tensors.len() * SMALL_INR.segment_count() * 4 } else { 0 }
        );
        assert_close(&owned, &OwnedHypernet::from_hypernet(&net).unwrap(), dtype);

        let slim = random_slimmable(tiny_conv(), 5);
        let net_bytes = slim.to_bytes_as(dtype).unwrap();
        let net = format::read(&net_bytes).unwrap();
        assert_eq!((net.kind(), net.dtype()), ("slimmable", Some(dtype)));
        let scales = if dtype == DType::I8 { 4 * net.generated_count() } else { 0 };
        assert_eq!(net.generator_bytes(), net.generator_params() * dtype.size() + scales);
        assert_close(&slim, &OwnedHypernet::from_hypernet(&net).unwrap(), dtype);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_configs_round_trip(seed in any::<u64>(), bands in 0u8..4, hidden in 1u16..6, depth in 0u8..3, dtype in 0usize..3) {
        let dtype = [DType::F32, DType::F16, DType::I8][dtype];
        let inr = InrConfig { bands, hidden, depth, norm: 6.0 };
        let owned = random_hypernet(tiny_conv(), inr, seed);
        let bytes = owned.to_bytes_as(dtype).unwrap();
        let net = format::read(&bytes).unwrap();
        assert_close(&owned, &OwnedHypernet::from_hypernet(&net).unwrap(), dtype);
    }
}

/// The file of an all-zero `tiny` hypernet, pinned byte for byte: header, postcard varints, CRC.
/// A version-1 file of the same hypernet still reads, and re-encodes as this version-2 file.
#[test]
fn golden_bytes_of_a_tiny_zero_hypernet() {
    let inr = InrConfig { bands: 0, hidden: 1, depth: 0, norm: 4.0 };
    let owned = OwnedHypernet::zeros(tiny_mlp(), inr, "none").unwrap();
    let bytes = owned.to_bytes().unwrap();
    // Header: magic, version 2 (u16 LE), reserved 0, body length (u32 LE).
    assert_eq!(&bytes[..4], b"MMHN");
    assert_eq!(MAGIC, *b"MMHN");
    assert_eq!(VERSION, 2);
    let body_len = bytes.len() - HEADER_LEN - TRAILER_LEN;
    assert_eq!(&bytes[4..12], &[2, 0, 0, 0, body_len as u8, 0, 0, 0]);
    assert_eq!(hex(&bytes), GOLDEN);

    let v1 = unhex(GOLDEN_V1);
    let net = format::read(&v1).unwrap();
    assert_eq!(OwnedHypernet::from_hypernet(&net).unwrap(), owned);
    let mut buf = vec![0u8; bytes.len()];
    assert_eq!(format::write(&net, &mut buf).unwrap(), &bytes[..]);
}

/// The version-2 file: as [`GOLDEN_V1`] but `0200` version 2, body length `c2000000` (194), and one
/// more body byte after the layers: `00`, the generator kind `Inr`, before the INR's fields; a new
/// CRC.
const GOLDEN: &str = concat!(
    "4d4d484e02000000c20000000474696e7901020204010406000101020000020000010000008040030400003c00000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000001000024000000000000000000000000000000000000000000000000000000000000000000000000",
    "010000240000000000000000000000000000000000000000000000000000000000000000000000000108000000000000",
    "0000046e6f6e650104000000000080711524",
);

/// Decoded: `4d4d484e` "MMHN" · `0100` version 1 · `0000` reserved · `c1000000` body length 193 ·
/// body: `04 74696e79` name "tiny" · `01 02 02` input · `04 01` h_max, h_min · `04` layers: `06`
/// Flatten, `00 01 01` Dense Width(1), `02` Relu, `00 00 02` Dense Fixed(2) · INR `00 01 00
/// 00008040` (bands, hidden, depth, norm 4.0) · `03` INR tensors, the first `04 00 00 3c …`
/// (out_size 4, F32, no scales, 60 data bytes) · … · `04 6e6f6e65` dataset "none" · `01 04`
/// trained_h · `00000000` σ · `00` accuracy rows · trailer `8e1b6485` CRC-32.
const GOLDEN_V1: &str = concat!(
    "4d4d484e01000000c10000000474696e79010202040104060001010200000200010000008040030400003c0000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000100002400000000000000000000000000000000000000000000000000000000000000000000000001",
    "000024000000000000000000000000000000000000000000000000000000000000000000000000010800000000000000",
    "00046e6f6e65010400000000008e1b6485",
);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
