//! Dense layer: `y = x Wᵀ + b` over the batch.

use crate::error::Result;
use crate::gemm::{linear, linear_row};

/// `x` is `batch × inputs`, `w` is `[outputs, inputs]`, `b` is `[outputs]`, `y` is `batch × outputs`.
/// One sample takes the matrix–vector kernel ([`linear_row`]) when `matrixmultiply` is compiled in;
/// without it [`linear`] already is that kernel, and one copy keeps thumb code small.
pub fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    batch: usize,
    inputs: usize,
    outputs: usize,
    y: &mut [f32],
) -> Result<()> {
    if cfg!(feature = "matrixmultiply") && batch == 1 {
        linear_row(x, w, b, inputs, outputs, y)
    } else {
        linear(x, w, b, batch, inputs, outputs, y)
    }
}
