//! Dense layer: `y = x Wᵀ + b` over the batch.

use crate::error::Result;
use crate::gemm::linear;

/// `x` is `batch × inputs`, `w` is `[outputs, inputs]`, `b` is `[outputs]`, `y` is `batch × outputs`.
pub fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    batch: usize,
    inputs: usize,
    outputs: usize,
    y: &mut [f32],
) -> Result<()> {
    linear(x, w, b, batch, inputs, outputs, y)
}
