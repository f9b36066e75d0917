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

use crate::rng::mix64;

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
