//! Per-channel affine maps of `[N, C, H, W]` activations (a convolution's bias, BatchNorm's scale
//! and shift) for training on the CPU.
//!
//! candle broadcasts a `[1, C, 1, 1]` tensor and, backward, sums the gradient over axes 0, 2 and
//! 3 with a strided reduction that walks one index at a time on one thread; on mnist-lenet's base
//! training those sums were a quarter of a step. Here the forward pass is one pass, and the
//! backward pass writes the input gradient and both per-channel sums in one more, plane by plane
//! in parallel, the planes of a channel added in batch order so the sums do not depend on the
//! thread count. Other devices keep candle's ops.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, cpu_f32};

/// `x · scale[c] + shift[c]` for `x` `[N, C, H, W]`, `scale` and `shift` `[C]`.
pub fn affine(x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
    if !cpu_f32(&[x, scale, shift]) {
        let c = scale.dim(0)?;
        return x.broadcast_mul(&scale.reshape((1, c, 1, 1))?)?.broadcast_add(&shift.reshape((1, c, 1, 1))?);
    }
    x.contiguous()?.apply_op3(&scale.contiguous()?, &shift.contiguous()?, Affine)
}

/// `x + bias[c]` for `x` `[N, C, H, W]` and `bias` `[C]`.
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if !cpu_f32(&[x, bias]) {
        return x.broadcast_add(&bias.reshape((1, bias.dim(0)?, 1, 1))?);
    }
    let ones = Tensor::ones(bias.shape(), DType::F32, bias.device())?;
    x.contiguous()?.apply_op3(&ones, &bias.contiguous()?, Affine)
}

/// `[N, C, H, W]`: the batch, the channels and the pixels of a plane.
fn planes(op: &str, l: &Layout, c: usize) -> Result<(usize, usize)> {
    match l.dims() {
        &[n, c_x, h, w] if c_x == c => Ok((n, h * w)),
        dims => candle_core::bail!("{op}: {dims:?} is not [N, {c}, H, W]"),
    }
}

/// `x · scale[c] + shift[c]`; its gradients come from [`AffineGrad`].
struct Affine;

impl CustomOp3 for Affine {
    fn name(&self) -> &'static str {
        "channel-affine"
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
        let x = contiguous_f32(self.name(), s1, l1)?;
        let (scale, shift) = (contiguous_f32(self.name(), s2, l2)?, contiguous_f32(self.name(), s3, l3)?);
        let c = scale.len();
        if shift.len() != c {
            candle_core::bail!("{}: {c} scales and {} shifts", self.name(), shift.len());
        }
        let (_, plane) = planes(self.name(), l1, c)?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(plane.max(1)).zip(x.par_chunks(plane.max(1))).enumerate().for_each(|(p, (y, x))| {
            let (a, b) = (scale[p % c], shift[p % c]);
            y.iter_mut().zip(x).for_each(|(y, x)| *y = x * a + b);
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        scale: &Tensor,
        _shift: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let all = x.apply_op3_no_bwd(scale, &grad.contiguous()?, &AffineGrad)?;
        let (len, c) = (x.elem_count(), scale.elem_count());
        let gx = all.narrow(0, 0, len)?.reshape(x.shape())?;
        Ok((Some(gx), Some(all.narrow(0, len, c)?), Some(all.narrow(0, len + c, c)?)))
    }
}

/// From `x`, `scale` and the output gradient `g`, in one pass, flattened one after the other:
/// `g · scale[c]` (shaped as `x`), `Σ g · x` per channel and `Σ g` per channel.
struct AffineGrad;

impl CustomOp3 for AffineGrad {
    fn name(&self) -> &'static str {
        "channel-affine-grad"
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
        let (x, scale) = (contiguous_f32(self.name(), s1, l1)?, contiguous_f32(self.name(), s2, l2)?);
        let g = contiguous_f32(self.name(), s3, l3)?;
        let c = scale.len();
        let (n, plane) = planes(self.name(), l1, c)?;
        if g.len() != x.len() {
            candle_core::bail!("{}: gradient of {} values for an output of {}", self.name(), g.len(), x.len());
        }
        let mut out = vec![0f32; x.len() + 2 * c];
        let (gx, sums) = out.split_at_mut(x.len());
        // Per plane (image, channel): Σ g · x and Σ g, in f64.
        let per_plane: Vec<(f64, f64)> = gx
            .par_chunks_mut(plane.max(1))
            .zip(x.par_chunks(plane.max(1)).zip(g.par_chunks(plane.max(1))))
            .enumerate()
            .map(|(p, (gx, (x, g)))| {
                let a = scale[p % c];
                let (mut gxs, mut gs) = (0f64, 0f64);
                for ((gx, x), g) in gx.iter_mut().zip(x).zip(g) {
                    *gx = g * a;
                    gxs += f64::from(g * x);
                    gs += f64::from(*g);
                }
                (gxs, gs)
            })
            .collect();
        let (g_scale, g_shift) = sums.split_at_mut(c);
        for ch in 0..c {
            let (a, b) = (0..n).map(|i| per_plane[i * c + ch]).fold((0f64, 0f64), |(a, b), (x, y)| (a + x, b + y));
            (g_scale[ch], g_shift[ch]) = (a as f32, b as f32);
        }
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * c)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::check::{max_abs_diff, same_gradients, values};
    use super::*;
    use candle_core::{Device, Var};

    /// Values equal candle's broadcast composition bit for bit, and the gradients of the input,
    /// scale and shift agree to rounding, after a non-contiguous input.
    #[test]
    fn channel_maps_match_candles_broadcasts_and_their_gradients() {
        let device = Device::Cpu;
        for (n, c, h, w) in [(1, 1, 1, 1), (3, 5, 7, 6), (4, 8, 14, 14)] {
            let x = Var::randn(0f32, 1., (n, h, w, c), &device).unwrap();
            let x_nchw = x.permute((0, 3, 1, 2)).unwrap();
            let scale = Var::randn(0f32, 1., c, &device).unwrap();
            let shift = Var::randn(0f32, 1., c, &device).unwrap();
            let bias = Var::randn(0f32, 1., c, &device).unwrap();
            let ours = add_bias(&affine(&x_nchw, &scale, &shift).unwrap(), &bias).unwrap();
            let vars = [("x", &x), ("scale", &scale), ("shift", &shift), ("bias", &bias)];
            let theirs = |v: &[Tensor]| {
                let b4 = |t: &Tensor| t.reshape((1, c, 1, 1)).unwrap();
                let x_nchw = v[0].permute((0, 3, 1, 2)).unwrap();
                let scaled = x_nchw.broadcast_mul(&b4(&v[1])).unwrap();
                scaled.broadcast_add(&b4(&v[2])).unwrap().broadcast_add(&b4(&v[3])).unwrap()
            };
            let case = format!("{:?}", (n, c, h, w));
            assert_eq!(max_abs_diff(&ours, &theirs(&values(&vars))), 0.0, "values differ at {case}");
            same_gradients(&ours, theirs, &vars, 1e-5, &case);
        }
    }

    /// The per-channel sums come out bit for bit the same on one thread and on three.
    #[test]
    fn channel_sums_do_not_depend_on_the_thread_count() {
        let device = Device::Cpu;
        let x = Var::randn(0f32, 1., (9, 4, 10, 10), &device).unwrap();
        let scale = Var::randn(0f32, 1., 4, &device).unwrap();
        let shift = Var::randn(0f32, 1., 4, &device).unwrap();
        let sums = |threads: usize| -> Vec<Vec<f32>> {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = affine(&x, &scale, &shift).unwrap();
                let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
                [&scale, &shift].iter().map(|v| grads.get(v).unwrap().to_vec1().unwrap()).collect()
            })
        };
        assert_eq!(sums(1), sums(3));
    }
}
