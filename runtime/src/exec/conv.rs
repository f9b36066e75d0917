//! 2-D convolution. The portable kernel is one GEMM per output row: the row's input patches are
//! gathered into a small workspace (im2col, one row at a time so the workspace stays a few kB on a
//! microcontroller), then every output channel's row is `W · patches` through [`linear`]. With
//! `std` on x86-64, stride-1 convolutions take the direct kernel (module `direct`) when the CPU
//! has AVX2 and FMA: it reads the weights where they lie, so nothing is packed per row or image.

use crate::error::{Error, Result};
use crate::gemm::linear;
use crate::spec::{conv_workspace, Shape};

/// Sizes of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    /// Input channels, height, width.
    pub input: (usize, usize, usize),
    /// Output channels, height, width.
    pub output: (usize, usize, usize),
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Padding.
    pub pad: usize,
}

impl Geometry {
    /// Builds the geometry from the spec's input and output shapes.
    pub fn new(input: Shape, output: Shape, k: u8, stride: u8, pad: u8) -> Result<Self> {
        match (input, output) {
            (Shape::Image(ci, hi, wi), Shape::Image(co, ho, wo)) => Ok(Geometry {
                input: (ci, hi, wi),
                output: (co, ho, wo),
                k: k as usize,
                stride: stride as usize,
                pad: pad as usize,
            }),
            _ => Err(Error::BadSpec("convolution needs image shapes")),
        }
    }

    /// Values of one input patch: `ci · k · k` (the length of a row of `W`).
    pub fn patch(&self) -> usize {
        self.input.0 * self.k * self.k
    }

    /// [`conv_workspace`] of this convolution.
    fn workspace(&self) -> Result<usize> {
        let ((ci, hi, wi), (co, ho, wo)) = (self.input, self.output);
        conv_workspace(Shape::Image(ci, hi, wi), Shape::Image(co, ho, wo), self.k, self.stride, self.pad)
            .ok_or(Error::Overflow)
    }
}

/// `x`: `batch × [ci, hi, wi]`, `w`: `[co, ci, k, k]`, `b`: `[co]`, `y`: `batch × [co, ho, wo]`;
/// `work` holds at least [`conv_workspace`] elements. Activation and parameter lengths are
/// guaranteed by the caller (the executor sizes every slice from the spec).
pub fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    batch: usize,
    g: &Geometry,
    y: &mut [f32],
    work: &mut [f32],
) -> Result<()> {
    let need = g.workspace()?;
    let provided = work.len();
    let work = work.get_mut(..need).ok_or(Error::BufferTooSmall { needed: need, provided })?;
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if g.stride == 1 && super::direct::available() {
        return super::direct::forward(x, w, b, batch, g, y, work);
    }
    portable(x, w, b, batch, g, y, work)
}

/// The portable kernel behind [`forward`] (same arguments, `work` at least [`conv_workspace`]).
fn portable(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    batch: usize,
    g: &Geometry,
    y: &mut [f32],
    work: &mut [f32],
) -> Result<()> {
    let (ci, hi, wi) = g.input;
    let (co, ho, wo) = g.output;
    let q = g.patch();
    let (patches, rest) = work.split_at_mut(wo * q);
    let rows = &mut rest[..wo * co];
    for n in 0..batch {
        let xin = &x[n * ci * hi * wi..(n + 1) * ci * hi * wi];
        let yout = &mut y[n * co * ho * wo..(n + 1) * co * ho * wo];
        for oy in 0..ho {
            gather_row(xin, g, oy, patches);
            // rows[o, ox] = Σ_q W[o, q] · patches[ox, q]
            linear(w, patches, &[], co, q, wo, rows)?;
            for (o, row) in rows.chunks_exact(wo).enumerate() {
                let dst = &mut yout[(o * ho + oy) * wo..(o * ho + oy + 1) * wo];
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d = v + b[o];
                }
            }
        }
    }
    Ok(())
}

/// `patches[ox, (c·k + ky)·k + kx] = x[c, oy·s + ky − p, ox·s + kx − p]`, zero outside the image.
fn gather_row(x: &[f32], g: &Geometry, oy: usize, patches: &mut [f32]) {
    let (_, hi, wi) = g.input;
    let (k, s, p) = (g.k, g.stride, g.pad);
    for (ox, patch) in patches.chunks_exact_mut(g.patch()).enumerate() {
        for (c, kernel) in patch.chunks_exact_mut(k * k).enumerate() {
            let plane = &x[c * hi * wi..(c + 1) * hi * wi];
            for (ky, krow) in kernel.chunks_exact_mut(k).enumerate() {
                let iy = (oy * s + ky).wrapping_sub(p);
                for (kx, v) in krow.iter_mut().enumerate() {
                    let ix = (ox * s + kx).wrapping_sub(p);
                    // Out-of-image coordinates wrapped to huge values, so one comparison each.
                    *v = if iy < hi && ix < wi { plane[iy * wi + ix] } else { 0.0 };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{forward, portable, Geometry};
    use crate::rng::Rng;
    use crate::spec::{conv_workspace, Shape};

    const BATCH: usize = 2;
    const BIG: usize = 8192;

    /// Naive f64 convolution: `y[n, o, oy, ox] = b[o] + Σ w[o, c, ky, kx] · x[n, c, oy·s + ky − p, ox·s + kx − p]`.
    fn reference(x: &[f32], w: &[f32], b: &[f32], g: &Geometry, y: &mut [f64]) {
        let ((ci, hi, wi), (co, ho, wo), k, s, p) = (g.input, g.output, g.k, g.stride, g.pad);
        for n in 0..BATCH {
            for o in 0..co {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = f64::from(b[o]);
                        for c in 0..ci {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (iy, ix) =
                                        ((oy * s + ky) as isize - p as isize, (ox * s + kx) as isize - p as isize);
                                    if iy < 0 || ix < 0 || iy as usize >= hi || ix as usize >= wi {
                                        continue;
                                    }
                                    let xv = x[((n * ci + c) * hi + iy as usize) * wi + ix as usize];
                                    acc += f64::from(w[((o * ci + c) * k + ky) * k + kx]) * f64::from(xv);
                                }
                            }
                        }
                        y[((n * co + o) * ho + oy) * wo + ox] = acc;
                    }
                }
            }
        }
    }

    /// Every kernel compiled in (the direct one where the CPU has it, and the portable one) against
    /// the f64 reference, over shapes that exercise channel remainders, partial position vectors,
    /// rows wider than 16, padding and a stride of 2.
    #[test]
    fn kernels_match_reference() {
        // (ci, hi, wi, co, k, stride, pad)
        let cases = [
            (1, 28, 28, 5, 3, 1, 1),
            (3, 9, 11, 7, 3, 1, 1),
            (2, 7, 7, 13, 5, 1, 2),
            (4, 3, 20, 9, 1, 1, 0),
            (2, 6, 6, 3, 3, 2, 0),
            (5, 5, 9, 8, 3, 1, 0),
        ];
        let mut rng = Rng::new(12);
        for (ci, hi, wi, co, k, s, p) in cases {
            let (ho, wo) = ((hi + 2 * p - k) / s + 1, (wi + 2 * p - k) / s + 1);
            let g = Geometry { input: (ci, hi, wi), output: (co, ho, wo), k, stride: s, pad: p };
            let (xl, wl, yl) = (BATCH * ci * hi * wi, co * ci * k * k, BATCH * co * ho * wo);
            let (mut x, mut w, mut b) = ([0.0f32; BIG], [0.0f32; BIG], [0.0f32; 16]);
            for v in x[..xl].iter_mut().chain(&mut w[..wl]).chain(&mut b[..co]) {
                *v = rng.uniform(-1.0, 1.0);
            }
            let (x, w, b) = (&x[..xl], &w[..wl], &b[..co]);
            let mut want = [0.0f64; BIG];
            reference(x, w, b, &g, &mut want[..yl]);
            let ws = conv_workspace(Shape::Image(ci, hi, wi), Shape::Image(co, ho, wo), k, s, p).unwrap();
            let mut work = [0.0f32; BIG];
            let (mut got, mut port) = ([0.0f32; BIG], [0.0f32; BIG]);
            forward(x, w, b, BATCH, &g, &mut got[..yl], &mut work[..ws]).unwrap();
            portable(x, w, b, BATCH, &g, &mut port[..yl], &mut work[..ws]).unwrap();
            for (i, e) in want[..yl].iter().enumerate() {
                for (kernel, v) in [("dispatched", got[i]), ("portable", port[i])] {
                    let err = (f64::from(v) - e).abs();
                    assert!(err <= 1e-5 * (1.0 + e.abs()) * (ci * k * k) as f64, "{kernel} {i}: {v} vs {e}");
                }
            }
            assert!(forward(x, w, b, BATCH, &g, &mut got[..yl], &mut work[..ws - 1]).is_err());
        }
    }

    /// The direct kernel itself, wherever this CPU runs it (the dispatch above may not pick it).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn direct_kernel_matches_portable() {
        if !crate::exec::direct::available() {
            return;
        }
        let g = Geometry { input: (3, 10, 19), output: (11, 10, 19), k: 3, stride: 1, pad: 1 };
        let (xl, wl, yl) = (BATCH * 3 * 10 * 19, 11 * 27, BATCH * 11 * 10 * 19);
        let mut rng = Rng::new(3);
        let (mut x, mut w, mut b) = ([0.0f32; BIG], [0.0f32; BIG], [0.0f32; 11]);
        for v in x[..xl].iter_mut().chain(&mut w[..wl]).chain(&mut b) {
            *v = rng.uniform(-1.0, 1.0);
        }
        let mut work = [0.0f32; BIG];
        let (mut d, mut p) = ([0.0f32; BIG], [0.0f32; BIG]);
        crate::exec::direct::forward(&x[..xl], &w[..wl], &b, BATCH, &g, &mut d[..yl], &mut work).unwrap();
        portable(&x[..xl], &w[..wl], &b, BATCH, &g, &mut p[..yl], &mut work).unwrap();
        for (a, e) in d[..yl].iter().zip(&p[..yl]) {
            assert!((a - e).abs() <= 1e-4, "{a} vs {e}");
        }
    }
}
