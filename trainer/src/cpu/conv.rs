//! 2-D convolution for training on the CPU: unfold (im2col), then one matrix product.
//!
//! candle's CPU `conv2d` backward computes the input gradient with a direct `conv_transpose2d`
//! (one dot product per output pixel and kernel tap) and the kernel gradient as a convolution with
//! a feature-map-sized kernel; on mnist-lenet those two were most of a training step. Written as
//! unfold + matmul, the forward pass and both gradients are single large GEMMs, and the only other
//! work is the unfold and its adjoint, the fold (col2im). Other devices keep candle's `conv2d`.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, cpu_f32};

/// `x` `[N, C, H, W]` convolved with `w` `[O, C, k, k]` (zero padding `pad`, stride `stride`):
/// `[N, O, H', W']`, the same function as `x.conv2d(w, pad, stride, 1, 1)`.
pub fn conv2d(x: &Tensor, w: &Tensor, pad: usize, stride: usize) -> Result<Tensor> {
    if !cpu_f32(&[x, w]) {
        return x.conv2d(w, pad, stride, 1, 1);
    }
    let (n, c, h, width) = x.dims4()?;
    let (o, c_w, k, k_w) = w.dims4()?;
    if c != c_w || k != k_w {
        candle_core::bail!("conv2d: input has {c} channels and kernel {:?}", w.dims());
    }
    let g = Geometry::new(n, c, h, width, k, pad, stride)?;
    // One row per (input channel, ky, kx), as `w` is laid out; one column per output pixel of
    // every image. The product is `[O, N * H' * W']`.
    let cols = x.contiguous()?.apply_op1(Unfold(g))?;
    let y = super::matmul::matmul(&w.reshape((o, c * k * k))?, &cols)?;
    y.reshape((o, n, g.out_h, g.out_w))?.permute((1, 0, 2, 3))
}

/// Shape of a batch's convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    pad: usize,
    stride: usize,
    out_h: usize,
    out_w: usize,
}

impl Geometry {
    fn new(n: usize, c: usize, h: usize, w: usize, k: usize, pad: usize, stride: usize) -> Result<Self> {
        if stride == 0 || k == 0 || h + 2 * pad < k || w + 2 * pad < k {
            candle_core::bail!("conv2d: kernel {k} (pad {pad}, stride {stride}) does not fit a {h}x{w} input");
        }
        let (out_h, out_w) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
        Ok(Geometry { n, c, h, w, k, pad, stride, out_h, out_w })
    }

    /// Unfolded rows: one per input channel and kernel tap.
    fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Unfolded columns: one per output pixel of every image.
    fn cols(&self) -> usize {
        self.n * self.out_h * self.out_w
    }

    /// The input pixels that kernel tap `t` (`0..k`) reads along an axis of `len` inputs and
    /// `outs` outputs: `(first output, outputs, first input)`, the outputs past the padding.
    fn span(&self, t: usize, len: usize, outs: usize) -> (usize, usize, usize) {
        // Output o reads input o * stride + t - pad; keep those in 0..len.
        let first = (self.pad.saturating_sub(t)).div_ceil(self.stride);
        let end = (len + self.pad).checked_sub(t).map_or(0, |e| e.div_ceil(self.stride)).min(outs);
        (first, end.saturating_sub(first), (first * self.stride + t).saturating_sub(self.pad))
    }

    /// Calls `visit(column, input offset, count)` for every run of `count` consecutive output
    /// pixels of image `b` that kernel row `row` reads from the input (the input advances by
    /// `stride` per pixel; pixels in the zero padding are skipped).
    fn for_each_run(&self, row: usize, b: usize, mut visit: impl FnMut(usize, usize, usize)) {
        let (ci, ky, kx) = (row / (self.k * self.k), row / self.k % self.k, row % self.k);
        let (x0, count, ix) = self.span(kx, self.w, self.out_w);
        let (y0, ys, iy) = self.span(ky, self.h, self.out_h);
        if count == 0 {
            return;
        }
        let image = (b * self.c + ci) * self.h * self.w;
        for dy in 0..ys {
            let column = (b * self.out_h + y0 + dy) * self.out_w + x0;
            visit(column, image + (iy + dy * self.stride) * self.w + ix, count);
        }
    }
}

/// im2col: `[N, C, H, W]` to `[C * k * k, N * H' * W']`.
struct Unfold(Geometry);

impl CustomOp1 for Unfold {
    fn name(&self) -> &'static str {
        "unfold"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let x = contiguous_f32(self.name(), storage, layout)?;
        let mut cols = vec![0f32; g.rows() * g.cols()];
        // Each kernel row is written by one task.
        cols.par_chunks_mut(g.cols()).enumerate().for_each(|(row, dst)| {
            for b in 0..g.n {
                g.for_each_run(row, b, |column, at, count| {
                    let dst = &mut dst[column..column + count];
                    if g.stride == 1 {
                        dst.copy_from_slice(&x[at..at + count]);
                    } else {
                        dst.iter_mut().zip(x[at..].iter().step_by(g.stride)).for_each(|(d, s)| *d = *s);
                    }
                });
            }
        });
        Ok((CpuStorage::F32(cols), Shape::from((g.rows(), g.cols()))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        grad.contiguous()?.apply_op1(Fold(self.0)).map(Some)
    }
}

/// col2im, the adjoint of [`Unfold`]: `[C * k * k, N * H' * W']` to `[N, C, H, W]`, summing the
/// entries that came from the same input pixel.
struct Fold(Geometry);

impl CustomOp1 for Fold {
    fn name(&self) -> &'static str {
        "fold"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let cols = contiguous_f32(self.name(), storage, layout)?;
        let image = g.c * g.h * g.w;
        let mut x = vec![0f32; g.n * image];
        // Each image is written by one task; `for_each_run` offsets are into the whole batch.
        x.par_chunks_mut(image).enumerate().for_each(|(b, dst)| {
            for row in 0..g.rows() {
                let src = &cols[row * g.cols()..];
                g.for_each_run(row, b, |column, at, count| {
                    let dst = dst[at - b * image..].iter_mut().step_by(g.stride);
                    dst.zip(&src[column..column + count]).for_each(|(d, s)| *d += *s);
                });
            }
        });
        Ok((CpuStorage::F32(x), Shape::from((g.n, g.c, g.h, g.w))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        grad.contiguous()?.apply_op1(Unfold(self.0)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::super::check::{max_abs_diff, same_gradients, values};
    use super::*;
    use candle_core::{Device, Var};

    /// Values and both gradients agree with candle's own `conv2d`, for the padded, strided and
    /// unpadded shapes the presets use.
    #[test]
    fn unfold_matmul_conv_matches_candles_conv2d_and_its_gradients() {
        let device = Device::Cpu;
        for &(n, c, h, o, k, pad, stride) in
            &[(3, 1, 28, 4, 3, 1, 1), (2, 3, 14, 5, 5, 2, 1), (2, 2, 9, 3, 3, 0, 2), (1, 4, 7, 2, 5, 2, 2)]
        {
            // Non-square only at stride 1: candle's own conv2d backward sizes the input gradient from
            // the height alone, so it fails on a strided non-square input.
            let width = if stride == 1 { h + 1 } else { h };
            let x = Var::randn(0f32, 1., (n, c, h, width), &device).unwrap();
            let w = Var::randn(0f32, 1., (o, c, k, k), &device).unwrap();
            let ours = conv2d(&x, &w, pad, stride).unwrap();
            let vars = [("x", &x), ("w", &w)];
            let theirs = |v: &[Tensor]| v[0].conv2d(&v[1], pad, stride, 1, 1).unwrap();
            let expected = theirs(&values(&vars));
            assert_eq!(ours.dims(), expected.dims());
            let case = format!("{:?}", (n, c, h, o, k, pad, stride));
            assert!(max_abs_diff(&ours, &expected) < 1e-4, "values differ for {case}");
            same_gradients(&ours, theirs, &vars, 1e-5, &case);
        }
    }
}
