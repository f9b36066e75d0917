//! 2-D convolution as one GEMM per output row: the row's input patches are gathered into a small
//! workspace (im2col, one row at a time so the workspace stays a few kB on a microcontroller),
//! then every output channel's row is `W · patches` through [`linear`].

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
    fn patch(&self) -> usize {
        self.input.0 * self.k * self.k
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
    let (ci, hi, wi) = g.input;
    let (co, ho, wo) = g.output;
    let q = g.patch();
    let need = conv_workspace(ci, g.k, co, wo).ok_or(Error::Overflow)?;
    let provided = work.len();
    let (patches, rows) =
        work.get_mut(..need).ok_or(Error::BufferTooSmall { needed: need, provided })?.split_at_mut(wo * q);
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
