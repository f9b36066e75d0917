//! Max pooling for training on the CPU, in one pass each way.
//!
//! candle's CPU backward of `max_pool2d` builds a mask of the maxima from an upsampled copy of the
//! output, averages it, and upsamples again: five passes over the input-sized tensor, most of them
//! index-heavy. It is also wrong by a factor: candle 0.11.1 multiplies the gradient by the share
//! of maxima in the window (1/k² without ties) where it means to divide by their count, and its
//! upsampling misplaces windows when the input is not a multiple of the stride. Here the forward
//! pass takes each window's maximum and the backward pass adds each output gradient to the first
//! maximum of its window, as PyTorch does. Other devices keep candle's op.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, cpu_f32};

/// `x` `[N, C, H, W]` max-pooled over `k × k` windows every `stride` pixels (no padding):
/// `[N, C, (H − k) / stride + 1, (W − k) / stride + 1]`, as `x.max_pool2d_with_stride(k, stride)`.
pub fn max_pool2d(x: &Tensor, k: usize, stride: usize) -> Result<Tensor> {
    if !cpu_f32(&[x]) {
        return x.max_pool2d_with_stride(k, stride);
    }
    let (n, c, h, w) = x.dims4()?;
    if k == 0 || stride == 0 || h < k || w < k {
        candle_core::bail!("max_pool2d: a {k}x{k} window every {stride} does not fit a {h}x{w} input");
    }
    x.contiguous()?.apply_op1(MaxPool(Window { planes: n * c, h, w, k, stride }))
}

/// The geometry of one pooling: `planes` images of `h × w`.
#[derive(Clone, Copy, Debug)]
struct Window {
    planes: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
}

impl Window {
    fn out(&self) -> (usize, usize) {
        ((self.h - self.k) / self.stride + 1, (self.w - self.k) / self.stride + 1)
    }

    /// The input offset (within a plane) of the first maximum of output pixel `(oy, ox)`'s
    /// window, and that maximum.
    fn argmax(&self, plane: &[f32], oy: usize, ox: usize) -> (usize, f32) {
        let (y0, x0) = (oy * self.stride, ox * self.stride);
        let mut best = (y0 * self.w + x0, plane[y0 * self.w + x0]);
        for y in y0..y0 + self.k {
            for x in x0..x0 + self.k {
                let v = plane[y * self.w + x];
                // `>` keeps the first maximum; a NaN wins, as it does in candle's forward pass.
                if v > best.1 || (v.is_nan() && !best.1.is_nan()) {
                    best = (y * self.w + x, v);
                }
            }
        }
        best
    }
}

struct MaxPool(Window);

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "max-pool"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let x = contiguous_f32(self.name(), storage, layout)?;
        let (oh, ow) = g.out();
        let mut y = vec![0f32; g.planes * oh * ow];
        y.par_chunks_mut(oh * ow).zip(x.par_chunks(g.h * g.w)).for_each(|(y, plane)| {
            for (i, v) in y.iter_mut().enumerate() {
                *v = g.argmax(plane, i / ow, i % ow).1;
            }
        });
        let dims = layout.dims();
        Ok((CpuStorage::F32(y), Shape::from((dims[0], dims[1], oh, ow))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let gx = x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPoolGrad(self.0))?;
        Ok(Some(gx))
    }
}

/// From the input `x` and the output gradient `g`, the input gradient of [`MaxPool`]: each output
/// gradient added at its window's first maximum.
struct MaxPoolGrad(Window);

impl CustomOp2 for MaxPoolGrad {
    fn name(&self) -> &'static str {
        "max-pool-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let win = self.0;
        let (x, g) = (contiguous_f32(self.name(), s1, l1)?, contiguous_f32(self.name(), s2, l2)?);
        let (oh, ow) = win.out();
        if g.len() != win.planes * oh * ow {
            candle_core::bail!(
                "{}: gradient of {} values for an output of {}",
                self.name(),
                g.len(),
                win.planes * oh * ow
            );
        }
        let mut gx = vec![0f32; x.len()];
        gx.par_chunks_mut(win.h * win.w).zip(x.par_chunks(win.h * win.w).zip(g.par_chunks(oh * ow))).for_each(
            |(gx, (plane, g))| {
                for (i, g) in g.iter().enumerate() {
                    gx[win.argmax(plane, i / ow, i % ow).0] += g;
                }
            },
        );
        Ok((CpuStorage::F32(gx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::check::max_abs_diff;
    use super::*;
    use candle_core::{Device, Var};

    /// Values equal candle's `max_pool2d_with_stride`; the gradient is each output's weight at
    /// its window's maximum, which is candle's own gradient times k² where windows tile the input:
    /// candle 0.11.1 multiplies by the share of maxima in the window (1/k² without ties) where it
    /// means to divide by their count.
    #[test]
    fn max_pool_matches_candles_values_and_the_true_gradient() {
        let device = Device::Cpu;
        for (n, c, h, w, k) in [(2, 3, 8, 8, 2), (1, 2, 7, 9, 2), (3, 1, 9, 6, 3)] {
            let x = Var::randn(0f32, 1., (n, c, h, w), &device).unwrap();
            let ours = max_pool2d(&x, k, k).unwrap();
            let theirs = x.max_pool2d_with_stride(k, k).unwrap();
            assert_eq!(max_abs_diff(&ours, &theirs), 0.0);
            let weight = Tensor::randn(0f32, 1., theirs.dims(), &device).unwrap();
            let g = (ours * &weight).unwrap().sum_all().unwrap().backward().unwrap();
            let g = g.get(&x).unwrap();
            // The true gradient, by hand: the weight of every window at its maximum.
            let (xs, ws) = (x.flatten_all().unwrap().to_vec1::<f32>().unwrap(), weight.flatten_all().unwrap());
            let ws = ws.to_vec1::<f32>().unwrap();
            let (oh, ow) = ((h - k) / k + 1, (w - k) / k + 1);
            let mut expected = vec![0f32; xs.len()];
            for plane in 0..n * c {
                for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
                    let at = (oy * k..oy * k + k)
                        .flat_map(|y| (ox * k..ox * k + k).map(move |x| plane * h * w + y * w + x))
                        .max_by(|&a, &b| xs[a].total_cmp(&xs[b]))
                        .unwrap();
                    expected[at] += ws[plane * oh * ow + oy * ow + ox];
                }
            }
            assert_eq!(g.flatten_all().unwrap().to_vec1::<f32>().unwrap(), expected, "{:?}", (n, c, h, w, k));
            if h % k == 0 && w % k == 0 {
                let g_theirs = (theirs * &weight).unwrap().sum_all().unwrap().backward().unwrap();
                let scaled = (g_theirs.get(&x).unwrap() * (k * k) as f64).unwrap();
                assert!(
                    max_abs_diff(g, &scaled) < 1e-5,
                    "candle's gradient is not ours / k² for {:?}",
                    (n, c, h, w, k)
                );
            }
        }
    }

    /// Overlapping windows (stride below the kernel) add their gradients, which candle's own
    /// backward pass does not support.
    #[test]
    fn overlapping_windows_add_their_gradients() {
        let x = Var::new(&[[[[1f32, 5., 2.], [0., 3., 4.], [6., 1., 0.]]]], &Device::Cpu).unwrap();
        let y = max_pool2d(&x, 2, 1).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), [5., 5., 6., 4.]);
        let g = y.sum_all().unwrap().backward().unwrap();
        let gx = g.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(gx, [0., 2., 0., 0., 0., 1., 1., 0., 0.]);
    }
}
