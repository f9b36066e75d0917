//! Owned hypernet → bytes → `read` → owned again, at every storage dtype; golden header bytes.
#![cfg(feature = "alloc")]

mod common;

use common::{random_hypernet, tiny_conv, tiny_mlp, SMALL_INR};
use metamorph::format::{self, DType, OwnedHypernet, HEADER_LEN, MAGIC, TRAILER_LEN, VERSION};
use metamorph::inr::InrConfig;
use proptest::prelude::*;

#[test]
fn f32_round_trip_is_exact() {
    for (arch, seed) in [(tiny_mlp(), 1), (tiny_conv(), 2)] {
        let owned = random_hypernet(arch, SMALL_INR, seed);
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

fn assert_close(owned: &OwnedHypernet, back: &OwnedHypernet, dtype: DType) {
    assert_eq!(back.arch, owned.arch);
    assert_eq!(back.frozen, owned.frozen, "frozen tensors are always f32");
    assert_eq!((back.sigma, &back.accuracy, &back.dataset), (owned.sigma, &owned.accuracy, &owned.dataset));
    for ((out_a, a), (out_b, b)) in owned.mlps.iter().zip(&back.mlps) {
        assert_eq!(out_a, out_b);
        for seg in owned.inr.segments(*out_a) {
            let (a, b) = (&a[seg.range()], &b[seg.range()]);
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
        assert!(net.tensors.iter().all(|t| t.params.dtype == dtype));
        assert_eq!(
            net.inr_bytes(),
            net.inr_params() * dtype.size()
                + if dtype == DType::I8 { net.tensors.len() * SMALL_INR.segment_count() * 4 } else { 0 }
        );
        assert_close(&owned, &OwnedHypernet::from_hypernet(&net).unwrap(), dtype);
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
#[test]
fn golden_bytes_of_a_tiny_zero_hypernet() {
    let inr = InrConfig { bands: 0, hidden: 1, depth: 0, norm: 4.0 };
    let bytes = OwnedHypernet::zeros(tiny_mlp(), inr, "none").unwrap().to_bytes().unwrap();
    // Header: magic, version 1 (u16 LE), reserved 0, body length (u32 LE).
    assert_eq!(&bytes[..4], b"MMHN");
    assert_eq!(MAGIC, *b"MMHN");
    assert_eq!(VERSION, 1);
    let body_len = bytes.len() - HEADER_LEN - TRAILER_LEN;
    assert_eq!(&bytes[4..12], &[1, 0, 0, 0, body_len as u8, 0, 0, 0]);
    assert_eq!(hex(&bytes), GOLDEN);
}

/// Decoded: `4d4d484e` "MMHN" · `0100` version 1 · `0000` reserved · `c1000000` body length 193 ·
/// body: `04 74696e79` name "tiny" · `01 02 02` input · `04 01` h_max, h_min · `04` layers: `06`
/// Flatten, `00 01 01` Dense Width(1), `02` Relu, `00 00 02` Dense Fixed(2) · INR `00 01 00
/// 00008040` (bands, hidden, depth, norm 4.0) · `03` INR tensors, the first `04 00 00 3c …`
/// (out_size 4, F32, no scales, 60 data bytes) · … · `04 6e6f6e65` dataset "none" · `01 04`
/// trained_h · `00000000` σ · `00` accuracy rows · trailer `8e1b6485` CRC-32.
const GOLDEN: &str = concat!(
    "4d4d484e01000000c10000000474696e79010202040104060001010200000200010000008040030400003c0000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000100002400000000000000000000000000000000000000000000000000000000000000000000000001",
    "000024000000000000000000000000000000000000000000000000000000000000000000000000010800000000000000",
    "00046e6f6e65010400000000008e1b6485",
);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
