//! Kernels the trainer writes itself for candle's CPU backend, where candle's own are most of a
//! training step. Each is a candle custom op with its backward pass, used on the CPU only (other
//! devices keep candle's ops), and tested against the candle composition it replaces.

pub mod channel;
pub mod conv;
pub mod fused;
pub mod pool;

use candle_core::{CpuStorage, Layout, Result};

/// The contiguous f32 values of a CPU tensor's storage.
fn contiguous_f32<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(values) = storage else {
        candle_core::bail!("{op}: only f32 is supported");
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&values[start..end]),
        None => candle_core::bail!("{op}: the input must be contiguous"),
    }
}
