//! Raw and normalised coordinates of a morphed tensor's rows, with optional noise.

use super::features::fourier_reusing;
use super::{noise, InrConfig};
use crate::spec::{Morph, Query};

/// The coordinate noise of one INR sample. Sample 0 is the noise-free grid; the trainer draws
/// noisy samples as sample 1 with a seed per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Sample index (0: no noise).
    pub index: u32,
    /// Seed of the counter-based noise.
    pub seed: u64,
    /// Half-width of the uniform noise ([`amplitude`]).
    pub amplitude: f32,
}

impl Sample {
    /// The noise-free sample 0.
    pub const EXACT: Sample = Sample { index: 0, seed: 0, amplitude: 0.0 };
}

/// The rows of one morphed tensor as the INR queries them: the one place a row index becomes the
/// MLP's input and the factor its output is scaled by.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    /// The morphed tensor.
    pub morph: Morph,
    /// Morphed tensors in the family (`L`).
    pub total: usize,
    /// Whether the tensor is a bias.
    pub is_bias: bool,
}

impl Rows {
    /// Writes the `6 + 12F` Fourier features of row `r` under `sample` into `out` and returns the
    /// row's fan-in scale `1 / C_in`, which multiplies every value the MLP returns for it. `earlier`
    /// holds feature rows already computed whose coordinates the row may share (see
    /// [`fourier_reusing`]); the result does not depend on it.
    pub fn input(&self, cfg: &InrConfig, r: usize, sample: Sample, out: &mut [f32], earlier: &[&[f32]]) -> f32 {
        let raw = noisy(&self.morph, self.total, r, self.is_bias, sample.index, sample.seed, sample.amplitude);
        fourier_reusing(&normalise(raw, cfg.norm), cfg.bands as usize, out, earlier);
        fan_in_scale(&raw)
    }
}

/// The fan-in scale `1 / C_in` of a raw coordinate: generated weights are the MLP's output
/// divided by the fan-in, so the MLP works at the same scale for every width.
pub fn fan_in_scale(raw: &[f32; 6]) -> f32 {
    1.0 / raw[5]
}

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
