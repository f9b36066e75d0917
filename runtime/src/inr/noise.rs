//! Deterministic, counter-based coordinate noise.
//!
//! The noise of `(seed, sample, tensor, row, axis)` is a pure function of those five numbers
//! (SplitMix64 finaliser over a packed key), so it does not depend on evaluation order or batch
//! size and the trainer reproduces it by calling the same function.
//!
//! ```
//! use metamorph::inr::noise::symmetric;
//! let a = symmetric(7, 1, 0, 42, 1);
//! assert_eq!(a, symmetric(7, 1, 0, 42, 1));
//! assert!((-1.0..1.0).contains(&a));
//! assert_ne!(a, symmetric(7, 2, 0, 42, 1));
//! ```

/// SplitMix64 finaliser.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in `[0, 1)` with 24 random bits, from the key
/// `mix64(seed ^ mix64(sample << 40 | tensor << 32 | axis << 28) ^ row)`.
pub fn uniform(seed: u64, sample: u32, tensor: u32, row: u64, axis: u32) -> f32 {
    let key = ((sample as u64) << 40) | ((tensor as u64 & 0xFF) << 32) | ((axis as u64 & 0xF) << 28);
    let bits = mix64(seed ^ mix64(key) ^ row);
    (bits >> 40) as f32 / (1u64 << 24) as f32
}

/// Uniform in `[-1, 1)`: `2 · uniform − 1`.
pub fn symmetric(seed: u64, sample: u32, tensor: u32, row: u64, axis: u32) -> f32 {
    2.0 * uniform(seed, sample, tensor, row, axis) - 1.0
}
