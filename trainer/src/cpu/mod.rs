//! Kernels the trainer writes itself for candle's CPU backend, where candle's own are most of a
//! training step. Each is a candle custom op with its backward pass, used on the CPU only (other
//! devices keep candle's ops), and tested against the candle composition it replaces; `matmul`
//! is candle's own product, cut so that its bits do not depend on the CPU's cache.

pub mod channel;
pub mod conv;
pub mod fused;
pub mod matmul;
pub mod pool;

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

/// Whether these kernels apply to `tensors`: all f32 on the CPU. Elsewhere candle's own ops run.
fn cpu_f32(tensors: &[&Tensor]) -> bool {
    tensors.iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

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

/// What the kernels' tests share: comparing a kernel with the candle composition it replaces.
#[cfg(test)]
mod check {
    use candle_core::{Tensor, Var};

    /// The largest absolute difference between two tensors of one shape.
    pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    /// Asserts that `ours` and `theirs` (one shape) have the same gradients with respect to `vars`,
    /// to `tolerance` times the largest of candle's (at least 1). The loss weights every output
    /// by a random value, so that every position's gradient differs.
    pub fn same_gradients(ours: &Tensor, theirs: &Tensor, vars: &[(&str, &Var)], tolerance: f32, case: &str) {
        let weight = Tensor::randn(0f32, 1., theirs.dims(), theirs.device()).unwrap();
        let g_ours = (ours * &weight).unwrap().sum_all().unwrap().backward().unwrap();
        let g_theirs = (theirs * &weight).unwrap().sum_all().unwrap().backward().unwrap();
        for (name, var) in vars {
            let (a, e) = (g_ours.get(var).unwrap(), g_theirs.get(var).unwrap());
            let scale = e.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap().max(1.0);
            assert!(max_abs_diff(a, e) <= tolerance * scale, "the gradient of {name} differs ({case})");
        }
    }
}
