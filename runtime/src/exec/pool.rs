//! Pooling: max or average over windows, and global average.

use crate::error::{Error, Result};
use crate::spec::Shape;

/// Window reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Maximum of the window.
    Max,
    /// Mean of the window.
    Avg,
}

fn dims(s: Shape) -> Result<(usize, usize, usize)> {
    match s {
        Shape::Image(c, h, w) => Ok((c, h, w)),
        Shape::Flat(_) => Err(Error::BadSpec("pooling needs an image")),
    }
}

/// `k × k` windows with stride `s`, no padding.
#[allow(clippy::too_many_arguments)]
pub fn window(
    x: &[f32],
    batch: usize,
    input: Shape,
    output: Shape,
    k: u8,
    s: u8,
    kind: Kind,
    y: &mut [f32],
) -> Result<()> {
    let (c, hi, wi) = dims(input)?;
    let (_, ho, wo) = dims(output)?;
    let (k, s) = (k as usize, s as usize);
    let inv = 1.0 / (k * k) as f32;
    for (plane, out) in x.chunks_exact(hi * wi).zip(y.chunks_exact_mut(ho * wo)).take(batch * c) {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut acc = if kind == Kind::Max { f32::NEG_INFINITY } else { 0.0 };
                for ky in 0..k {
                    for kx in 0..k {
                        let v = plane[(oy * s + ky) * wi + ox * s + kx];
                        acc = if kind == Kind::Max { acc.max(v) } else { acc + v };
                    }
                }
                out[oy * wo + ox] = if kind == Kind::Max { acc } else { acc * inv };
            }
        }
    }
    Ok(())
}

/// Mean over each channel's plane: `[c, h, w] → [c, 1, 1]`.
pub fn global_avg(x: &[f32], batch: usize, input: Shape, y: &mut [f32]) -> Result<()> {
    let (c, h, w) = dims(input)?;
    let inv = 1.0 / (h * w) as f32;
    for (plane, out) in x.chunks_exact(h * w).zip(y.iter_mut()).take(batch * c) {
        *out = plane.iter().sum::<f32>() * inv;
    }
    Ok(())
}
