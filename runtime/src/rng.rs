//! The one seeded generator of the project: SplitMix64.
//!
//! [`mix64`] is the SplitMix64 finaliser, a pure function that the coordinate noise of
//! [`crate::inr::noise`] is built on; [`Rng`] is the SplitMix64 stream over it. The trainer
//! (initialisation, shuffling, width sampling), the host tooling and every test draw from [`Rng`],
//! so a seed means the same thing everywhere and on every platform. `no_std`, no allocation.
//!
//! ```
//! use metamorph::rng::Rng;
//! let (mut a, mut b) = (Rng::new(7), Rng::new(7));
//! assert_eq!(a.next_u64(), b.next_u64());
//! assert!(a.below(10) < 10);
//! assert!((-0.5..0.5).contains(&a.uniform(-0.5, 0.5)));
//! ```

/// The SplitMix64 finaliser: a bijective mix of `z + φ·2⁶⁴`.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `φ · 2⁶⁴`, the SplitMix64 increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64: 64-bit state, one [`mix64`] per output.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed` (any value, including 0).
    pub fn new(seed: u64) -> Self {
        Rng { state: seed ^ 0x853c_49e6_748f_ea9b }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let z = mix64(self.state);
        self.state = self.state.wrapping_add(GOLDEN);
        z
    }

    /// Uniform in `[0, 1)` with 24 bits of precision.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// Uniform integer in `0..n` (`n > 0`; the modulo bias is below 2⁻³² for `n < 2³²`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fisher–Yates shuffle of `items`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
