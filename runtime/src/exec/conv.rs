//! 2-D convolution, direct loops ordered so the innermost runs along a contiguous output row.

use crate::error::{Error, Result};
use crate::spec::Shape;

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
}

/// `x`: `batch × [ci, hi, wi]`, `w`: `[co, ci, k, k]`, `b`: `[co]`, `y`: `batch × [co, ho, wo]`.
/// Lengths are guaranteed by the caller (the executor sizes every slice from the spec).
pub fn forward(x: &[f32], w: &[f32], b: &[f32], batch: usize, g: &Geometry, y: &mut [f32]) {
    let (ci, hi, wi) = g.input;
    let (co, ho, wo) = g.output;
    let (k, s, p) = (g.k, g.stride, g.pad);
    for n in 0..batch {
        let xin = &x[n * ci * hi * wi..(n + 1) * ci * hi * wi];
        let yout = &mut y[n * co * ho * wo..(n + 1) * co * ho * wo];
        for o in 0..co {
            let plane = &mut yout[o * ho * wo..(o + 1) * ho * wo];
            plane.fill(b[o]);
            for c in 0..ci {
                let src = &xin[c * hi * wi..(c + 1) * hi * wi];
                for ky in 0..k {
                    for kx in 0..k {
                        let wv = w[((o * ci + c) * k + ky) * k + kx];
                        // Output columns whose input column ox·s + kx − p lies inside the image.
                        let ox_lo = p.saturating_sub(kx).div_ceil(s);
                        let ox_hi = if wi + p > kx { ((wi + p - kx - 1) / s + 1).min(wo) } else { 0 };
                        for oy in 0..ho {
                            let iy = oy * s + ky;
                            if iy < p || iy - p >= hi || ox_lo >= ox_hi {
                                continue;
                            }
                            let row = &src[(iy - p) * wi..(iy - p + 1) * wi];
                            let dst = &mut plane[oy * wo..(oy + 1) * wo];
                            for ox in ox_lo..ox_hi {
                                dst[ox] += wv * row[ox * s + kx - p];
                            }
                        }
                    }
                }
            }
        }
    }
}
