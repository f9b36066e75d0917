//! Fused steps of the INR's MLP ([`crate::inr`]), and the networks' ReLU, for training on the CPU.
//!
//! The INR runs on `[rows, hidden]` activations with many rows (65,536 for mnist-mlp's middle
//! layer at full width), and candle spends most of a fitting step in element-wise passes over them
//! and in accumulating their gradients (a zero tensor and an addition per node of the graph).
//! `relu(x · wᵀ + b)` is three nodes in candle: a product, a bias and a ReLU, whose backward pass
//! alone is a zero tensor, a comparison, a conversion and a product; `h + s · t` is two nodes.
//! Here each is one node: the bias and ReLU are applied in place on the product, and one backward
//! pass writes both element-wise gradients. The ReLU's gradient mask is `y > 0`, as in PyTorch
//! (candle's own passes the gradient where the input is exactly 0).
//!
//! Sums over rows run in fixed blocks of [`BLOCK`] rows, added in block order, so every result
//! is the same whatever the thread count or scheduling.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::matmul::{cut_product, product};
use super::{contiguous_f32, cpu_f32};

/// Rows per parallel task, and so per partial sum over rows.
const BLOCK: usize = 256;

/// `relu(x · wᵀ + b)` for `x` `[rows, k]`, `w` `[n, k]` and `b` `[n]`.
pub fn linear_relu(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !cpu_f32(&[x, w, b]) {
        return x.matmul(&w.t()?)?.broadcast_add(b)?.relu();
    }
    x.apply_op3(w, &b.contiguous()?, LinearRelu)
}

/// `max(x, 0)`, whose backward pass is one masked copy of the gradient.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if !cpu_f32(&[x]) {
        return x.relu();
    }
    x.contiguous()?.apply_op1(Relu)
}

/// `h + s · t` for `h`, `t` `[rows, n]` and a scalar `s` `[1]`.
pub fn add_scaled(h: &Tensor, t: &Tensor, s: &Tensor) -> Result<Tensor> {
    if !cpu_f32(&[h, t, s]) {
        return h + t.broadcast_mul(s)?;
    }
    h.contiguous()?.apply_op3(&t.contiguous()?, &s.contiguous()?, AddScaled)
}

/// The one value of a scalar `[1]` tensor.
fn scalar(op: &str, storage: &CpuStorage, layout: &Layout) -> Result<f32> {
    match contiguous_f32(op, storage, layout)? {
        [s] => Ok(*s),
        other => candle_core::bail!("{op}: the scale must be one value, got {}", other.len()),
    }
}

/// `max(x, 0)`; its gradient comes from [`ReluGrad`].
struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(self.name(), storage, layout)?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(BLOCK * 64).zip(x.par_chunks(BLOCK * 64)).for_each(|(y, x)| {
            y.iter_mut().zip(x).for_each(|(y, x)| *y = x.max(0.0));
        });
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        y.apply_op2_no_bwd(&grad.contiguous()?, &ReluGrad { bias: false }).map(Some)
    }
}

/// `relu(x · wᵀ + b)`: candle's CPU matrix product, then the bias and ReLU in place.
struct LinearRelu;

impl CustomOp3 for LinearRelu {
    fn name(&self) -> &'static str {
        "linear-relu"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let b = contiguous_f32(self.name(), sb, lb)?;
        let (&[m, k], &[n, k_w], &[n_b]) = (lx.dims(), lw.dims(), lb.dims()) else {
            candle_core::bail!(
                "{}: shapes {:?}, {:?}, {:?} are not [m, k], [n, k], [n]",
                self.name(),
                lx.dims(),
                lw.dims(),
                lb.dims()
            );
        };
        if k != k_w || n != n_b {
            candle_core::bail!(
                "{}: shapes {:?}, {:?}, {:?} do not chain",
                self.name(),
                lx.dims(),
                lw.dims(),
                lb.dims()
            );
        }
        let (CpuStorage::F32(mut y), _) = cut_product(sx, lx, sw, &lw.transpose(0, 1)?)? else {
            candle_core::bail!("{}: only f32 is supported", self.name());
        };
        y.par_chunks_mut(BLOCK * n.max(1)).for_each(|y| {
            for y in y.chunks_exact_mut(n) {
                for (y, b) in y.iter_mut().zip(b) {
                    *y = (*y + b).max(0.0);
                }
            }
        });
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let both = y.apply_op2_no_bwd(&grad.contiguous()?, &ReluGrad { bias: true })?;
        let len = y.elem_count();
        let gz = both.narrow(0, 0, len)?.reshape(y.shape())?;
        let gb = both.narrow(0, len, b.elem_count())?;
        Ok((Some(product(&gz, w)?), Some(product(&gz.t()?, x)?), Some(gb)))
    }
}

/// From the output `y` `[rows, n]` of a ReLU and its gradient `g`, in one pass: the gradient
/// before the ReLU, `g · [y > 0]` (shaped as `y`), and with `bias`, flattened after it, its sum over
/// rows (`[n]`, the gradient of a bias added before the ReLU).
struct ReluGrad {
    bias: bool,
}

impl CustomOp2 for ReluGrad {
    fn name(&self) -> &'static str {
        "relu-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (y, g) = (contiguous_f32(self.name(), s1, l1)?, contiguous_f32(self.name(), s2, l2)?);
        let n = l1.dims().last().copied().unwrap_or(1).max(1);
        if g.len() != y.len() {
            candle_core::bail!("{}: gradient of {} values for an output of {}", self.name(), g.len(), y.len());
        }
        if !self.bias {
            let mut gz = vec![0f32; y.len()];
            gz.par_chunks_mut(BLOCK * n).zip(y.par_chunks(BLOCK * n).zip(g.par_chunks(BLOCK * n))).for_each(
                |(gz, (y, g))| {
                    for ((gz, y), g) in gz.iter_mut().zip(y).zip(g) {
                        *gz = if *y > 0.0 { *g } else { 0.0 };
                    }
                },
            );
            return Ok((CpuStorage::F32(gz), l1.shape().clone()));
        }
        let mut out = vec![0f32; y.len() + n];
        let (gz, gb) = out.split_at_mut(y.len());
        let partials: Vec<Vec<f32>> = gz
            .par_chunks_mut(BLOCK * n)
            .zip(y.par_chunks(BLOCK * n).zip(g.par_chunks(BLOCK * n)))
            .map(|(gz, (y, g))| {
                let mut sum = vec![0f32; n];
                for ((gz, y), g) in gz.chunks_exact_mut(n).zip(y.chunks_exact(n)).zip(g.chunks_exact(n)) {
                    for (c, s) in sum.iter_mut().enumerate() {
                        gz[c] = if y[c] > 0.0 { g[c] } else { 0.0 };
                        *s += gz[c];
                    }
                }
                sum
            })
            .collect();
        for sum in partials {
            gb.iter_mut().zip(sum).for_each(|(total, s)| *total += s);
        }
        Ok((CpuStorage::F32(out), Shape::from(y.len() + n)))
    }
}

/// `h + s · t`; its gradients are `g`, from [`AddScaledGrad`] `s · g`, and `Σ g · t`.
struct AddScaled;

impl CustomOp3 for AddScaled {
    fn name(&self) -> &'static str {
        "add-scaled"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (h, t) = (contiguous_f32(self.name(), s1, l1)?, contiguous_f32(self.name(), s2, l2)?);
        let s = scalar(self.name(), s3, l3)?;
        if l1.dims() != l2.dims() {
            candle_core::bail!("{}: shapes {:?} and {:?} differ", self.name(), l1.dims(), l2.dims());
        }
        let mut y = vec![0f32; h.len()];
        let chunk = BLOCK * l1.dims().last().copied().unwrap_or(1).max(1);
        y.par_chunks_mut(chunk).zip(h.par_chunks(chunk).zip(t.par_chunks(chunk))).for_each(|(y, (h, t))| {
            for ((y, h), t) in y.iter_mut().zip(h).zip(t) {
                *y = h + t * s;
            }
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _h: &Tensor,
        t: &Tensor,
        s: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let both = grad.apply_op3_no_bwd(t, s, &AddScaledGrad)?;
        let len = t.elem_count();
        let gt = both.narrow(0, 0, len)?.reshape(t.shape())?;
        Ok((Some(grad), Some(gt), Some(both.narrow(0, len, 1)?)))
    }
}

/// From the output gradient `g`, `t` and `s`, the gradients of `h + s · t` with respect to `t`
/// (`s · g`) and `s` (`Σ g · t`, summed in f64), flattened one after the other.
struct AddScaledGrad;

impl CustomOp3 for AddScaledGrad {
    fn name(&self) -> &'static str {
        "add-scaled-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, t) = (contiguous_f32(self.name(), s1, l1)?, contiguous_f32(self.name(), s2, l2)?);
        let s = scalar(self.name(), s3, l3)?;
        if g.len() != t.len() {
            candle_core::bail!("{}: gradient of {} values for an output of {}", self.name(), g.len(), t.len());
        }
        let mut out = vec![0f32; t.len() + 1];
        let chunk = BLOCK * l2.dims().last().copied().unwrap_or(1).max(1);
        let partials: Vec<f64> = out[..t.len()]
            .par_chunks_mut(chunk)
            .zip(g.par_chunks(chunk).zip(t.par_chunks(chunk)))
            .map(|(gt, (g, t))| {
                let mut dot = 0f64;
                for ((gt, g), t) in gt.iter_mut().zip(g).zip(t) {
                    *gt = s * g;
                    dot += f64::from(g * t);
                }
                dot
            })
            .collect();
        out[t.len()] = partials.into_iter().sum::<f64>() as f32;
        Ok((CpuStorage::F32(out), Shape::from(t.len() + 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::check::{max_abs_diff, same_gradients, values};
    use super::*;
    use candle_core::{Device, Var};

    /// The fused ops give candle's values bit for bit, and its gradients to rounding, on shapes
    /// with a partial last block and after a non-contiguous input.
    #[test]
    fn fused_ops_match_candles_composition_and_its_gradients() {
        let device = Device::Cpu;
        for (rows, k, n) in [(1, 1, 1), (3, 4, 5), (BLOCK + 7, 9, 16), (3 * BLOCK, 64, 64)] {
            let x = Var::randn(0f32, 1., (k, rows), &device).unwrap();
            let w = Var::randn(0f32, 1., (n, k), &device).unwrap();
            let b = Var::randn(0f32, 1., n, &device).unwrap();
            let t = Var::randn(0f32, 1., (rows, n), &device).unwrap();
            let s = Var::new(&[0.3f32], &device).unwrap();
            let ours = add_scaled(&t, &linear_relu(&x.t().unwrap(), &w, &b).unwrap(), &s).unwrap();
            let vars = [("x", &x), ("w", &w), ("b", &b), ("t", &t), ("s", &s)];
            let theirs = |v: &[Tensor]| {
                let z = v[0].t().unwrap().matmul(&v[1].t().unwrap()).unwrap().broadcast_add(&v[2]).unwrap();
                (&v[3] + z.relu().unwrap().broadcast_mul(&v[4]).unwrap()).unwrap()
            };
            let case = format!("{rows} x {k} x {n}");
            assert_eq!(max_abs_diff(&ours, &theirs(&values(&vars))), 0.0, "values differ at {case}");
            same_gradients(&ours, theirs, &vars, 1e-5, &case);
        }
    }

    /// The ReLU gives candle's values and gradient bit for bit away from exactly 0.
    #[test]
    fn relu_matches_candles_and_its_gradient() {
        let x = Var::randn(0f32, 1., (3, 5, 7, 11), &Device::Cpu).unwrap();
        let ours = relu(&x).unwrap();
        assert_eq!(max_abs_diff(&ours, &x.relu().unwrap()), 0.0);
        same_gradients(&ours, |v| v[0].relu().unwrap(), &[("x", &x)], 0.0, "relu");
    }

    /// Sums over rows come out bit for bit the same on one thread and on three.
    #[test]
    fn fused_gradients_do_not_depend_on_the_thread_count() {
        let device = Device::Cpu;
        let x = Var::randn(0f32, 1., (5 * BLOCK + 3, 32), &device).unwrap();
        let w = Var::randn(0f32, 1., (32, 32), &device).unwrap();
        let b = Var::randn(0f32, 1., 32, &device).unwrap();
        let s = Var::new(&[0.7f32], &device).unwrap();
        let gradients = |threads: usize| -> Vec<Vec<f32>> {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = add_scaled(&x, &linear_relu(&x, &w, &b).unwrap(), &s).unwrap();
                let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
                [&w, &b, &s].iter().map(|v| grads.get(v).unwrap().flatten_all().unwrap().to_vec1().unwrap()).collect()
            })
        };
        let one = gradients(1);
        assert_eq!(one, gradients(3));
        assert!(one.iter().flatten().all(|g| g.is_finite() && *g != 0.0));
    }
}
