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
    use candle_core::{DType, Tensor, Var};

    /// The largest absolute difference between two tensors of one shape.
    pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    /// The variables' own f32 values, in order: what `reference` takes to give candle's f32 result.
    pub fn values(vars: &[(&str, &Var)]) -> Vec<Tensor> {
        vars.iter().map(|(_, var)| var.as_tensor().clone()).collect()
    }

    /// Asserts that `ours` has the gradients with respect to `vars` of `reference`, candle's
    /// composition built from the variables' values in order, to `tolerance` times the
    /// textbook bound on rounding error, position by position.
    ///
    /// The reference runs in f64, so it is exact to f32. The bound is the same gradient with every
    /// input and loss weight replaced by its absolute value: the sum of the magnitudes of the terms
    /// each gradient adds up. A sum of thousands of terms that cancel (the gradient of a scale) is
    /// small while its rounding error is not, so a tolerance relative to the gradient itself fails
    /// on unlucky draws. The loss weights every output by a random value, so that every position's
    /// gradient differs.
    pub fn same_gradients(
        ours: &Tensor,
        reference: impl Fn(&[Tensor]) -> Tensor,
        vars: &[(&str, &Var)],
        tolerance: f64,
        case: &str,
    ) {
        let in_f64 = |magnitudes: bool| -> Vec<Tensor> {
            let cast = |var: &Var| var.to_dtype(DType::F64).unwrap();
            vars.iter().map(|(_, var)| if magnitudes { cast(var).abs().unwrap() } else { cast(var) }).collect()
        };
        let weight = Tensor::randn(0f32, 1., ours.dims(), ours.device()).unwrap();
        let g_ours = (ours * &weight).unwrap().sum_all().unwrap().backward().unwrap();
        let weight = weight.to_dtype(DType::F64).unwrap();
        let g_exact = (reference(&in_f64(false)) * &weight).unwrap().sum_all().unwrap().backward().unwrap();
        let g_bound =
            (reference(&in_f64(true)) * weight.abs().unwrap()).unwrap().sum_all().unwrap().backward().unwrap();
        let f64_of =
            |grads: &candle_core::backprop::GradStore, var: &Var| grads.get(var).unwrap().to_dtype(DType::F64).unwrap();
        for (name, var) in vars {
            let error = (f64_of(&g_ours, var) - f64_of(&g_exact, var)).unwrap().abs().unwrap();
            let allowed = (f64_of(&g_bound, var).abs().unwrap() * tolerance).unwrap();
            let excess: f64 = (error - allowed).unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
            assert!(excess <= 0.0, "the gradient of {name} differs ({case}): {excess} beyond the bound");
        }
    }
}
