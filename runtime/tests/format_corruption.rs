//! Corrupted, truncated and hostile inputs give typed errors from `read`, never a panic or `Ok`.
#![cfg(feature = "alloc")]

mod common;

use common::{random_hypernet, random_slimmable, tiny_conv, tiny_mlp, SMALL_INR};
use metamorph::format::{self, DType, HEADER_LEN, TRAILER_LEN, VERSION};
use metamorph::materialise::Materialiser;
use metamorph::Error;
use proptest::prelude::*;

fn small_file(dtype: DType) -> Vec<u8> {
    random_hypernet(tiny_mlp(), SMALL_INR, 11).to_bytes_as(dtype).unwrap()
}

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Replaces the body (keeping a correct header length and CRC) so decoding gets past the checksum.
fn with_body(body: &[u8]) -> Vec<u8> {
    let mut f = b"MMHN".to_vec();
    f.extend_from_slice(&VERSION.to_le_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&(body.len() as u32).to_le_bytes());
    f.extend_from_slice(body);
    let crc = CRC.checksum(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn every_single_bit_flip_is_detected() {
    for dtype in [DType::F32, DType::I8] {
        for file in [small_file(dtype), random_slimmable(tiny_mlp(), 14).to_bytes_as(dtype).unwrap()] {
            assert!(format::read(&file).is_ok());
            for byte in 0..file.len() {
                for bit in 0..8 {
                    let mut bad = file.clone();
                    bad[byte] ^= 1 << bit;
                    let r = format::read(&bad);
                    assert!(r.is_err(), "flip of byte {byte} bit {bit} was accepted");
                }
            }
        }
    }
}

#[test]
fn the_right_error_for_each_header_field() {
    let file = small_file(DType::F32);
    let flip = |i: usize| {
        let mut b = file.clone();
        b[i] ^= 1;
        format::read(&b).unwrap_err()
    };
    assert_eq!(flip(0), Error::BadMagic);
    assert_eq!(flip(4), Error::UnsupportedVersion(VERSION ^ 1));
    assert!(matches!(flip(6), Error::Invalid(_)));
    assert!(matches!(flip(8), Error::Truncated { .. } | Error::Invalid(_)));
    assert!(matches!(flip(HEADER_LEN + 3), Error::ChecksumMismatch { .. }));
    assert!(matches!(flip(file.len() - 1), Error::ChecksumMismatch { .. }));
    let mut longer = file.clone();
    longer.push(0);
    assert!(matches!(format::read(&longer), Err(Error::Invalid(_))));
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let file = random_hypernet(tiny_conv(), SMALL_INR, 12).to_bytes_as(DType::F16).unwrap();
    for len in 0..file.len() {
        let r = format::read(&file[..len]);
        assert!(matches!(r, Err(Error::Truncated { .. })), "truncated to {len}: {r:?}");
    }
}

#[test]
fn hostile_lengths_are_errors() {
    // Body length claims 4 GiB.
    let mut f = b"MMHN\x01\x00\x00\x00\xff\xff\xff\xff".to_vec();
    f.extend_from_slice(&[0; 8]);
    assert!(matches!(format::read(&f), Err(Error::Truncated { .. })));
    // Valid CRC around a body whose first byte-string length varint claims 2^63 bytes.
    let body = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, b'x'];
    assert_eq!(format::read(&with_body(&body)), Err(Error::Malformed));
    // Valid CRC, well-formed postcard, but a body whose lengths disagree with its spec.
    let file = small_file(DType::F32);
    let body_len = file.len() - HEADER_LEN - TRAILER_LEN;
    let mut body = file[HEADER_LEN..HEADER_LEN + body_len].to_vec();
    body[0] = 3; // name "tin": every later field shifts by one
    assert!(format::read(&with_body(&body)).is_err());
    assert!(format::read(&with_body(&[])).is_err());
}

/// Decodes `bytes`; anything accepted must also materialise (or error) without panicking.
fn read_and_use(bytes: &[u8]) {
    if let Ok(net) = format::read(bytes) {
        let h = net.arch.h_min as usize;
        let samples = if net.kind() == "slimmable" { 1 } else { 2 };
        if let Ok(m) = Materialiser::new(&net, h, samples, 0) {
            if m.total_len() < 1 << 16 && m.scratch_len() < 1 << 20 {
                let _ = m.to_vec();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(format::read(&bytes).is_err());
        read_and_use(&with_body(&bytes));
    }

    #[test]
    fn random_header_lengths_never_panic(len in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut f = b"MMHN\x01\x00\x00\x00".to_vec();
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&tail);
        prop_assert!(format::read(&f).is_err());
    }

    /// Mutations of a valid body behind a recomputed CRC reach postcard and `validate`.
    #[test]
    fn mutated_bodies_with_valid_crc_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        slimmable in any::<bool>(),
    ) {
        let file = if slimmable {
            random_slimmable(tiny_conv(), 15).to_bytes_as(DType::I8).unwrap()
        } else {
            random_hypernet(tiny_conv(), SMALL_INR, 13).to_bytes_as(DType::I8).unwrap()
        };
        let mut body = file[HEADER_LEN..file.len() - TRAILER_LEN].to_vec();
        for (at, v) in edits {
            let i = at.index(body.len());
            body[i] = v;
        }
        if truncate {
            body.truncate(cut.index(body.len()));
        }
        read_and_use(&with_body(&body));
    }
}
