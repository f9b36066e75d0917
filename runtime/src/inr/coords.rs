//! Raw and normalised coordinates of a morphed tensor's rows, with optional noise.

use super::noise;
use crate::spec::{Morph, Query};

/// Which of the six coordinates receive noise: `l, i, C_out` always; `j, C_in` only for
/// [`Query::Pair`] weights (for biases and whole-row queries they are placeholders).
pub fn noisy_axes(morph: &Morph, is_bias: bool) -> [bool; 6] {
    let pair_weight = morph.query == Query::Pair && !is_bias;
    [true, true, pair_weight, false, true, pair_weight]
}

/// The raw coordinate `[l, i, j, L, C_out, C_in]` of row `r` (no noise).
pub fn raw(morph: &Morph, total: usize, r: usize, is_bias: bool) -> [f32; 6] {
    let (i, j, c_in) = match (morph.query, is_bias) {
        (Query::Pair, false) => (r / morph.c_in, r % morph.c_in, morph.c_in),
        (Query::Pair, true) => (r, 0, 1),
        (Query::Row, _) => (r, 0, morph.c_in),
    };
    [morph.index as f32, i as f32, j as f32, total as f32, morph.c_out as f32, c_in as f32]
}

/// The raw coordinate of row `r` with the noise of `sample` (sample 0 is noise-free).
/// `amplitude` is the half-width of the uniform noise (`min(σ/2, 0.49)`).
pub fn noisy(morph: &Morph, total: usize, r: usize, is_bias: bool, sample: u32, seed: u64, amplitude: f32) -> [f32; 6] {
    let mut c = raw(morph, total, r, is_bias);
    if sample == 0 || amplitude == 0.0 {
        return c;
    }
    for (axis, on) in noisy_axes(morph, is_bias).into_iter().enumerate() {
        if on {
            c[axis] += amplitude * noise::symmetric(seed, sample, morph.index as u32, r as u64, axis as u32);
        }
    }
    c
}

/// Normalises a raw coordinate: `[l/L, i/C_out, j/C_in, L/N, C_out/N, C_in/N]`.
pub fn normalise(raw: [f32; 6], norm: f32) -> [f32; 6] {
    let [l, i, j, total, c_out, c_in] = raw;
    [l / total, i / c_out, j / c_in, total / norm, c_out / norm, c_in / norm]
}

/// Noise amplitude for a training noise width σ: `min(σ/2, 0.49)`, so a noisy index never
/// crosses half-way to its neighbour.
pub fn amplitude(sigma: f32) -> f32 {
    (sigma * 0.5).clamp(0.0, 0.49)
}
