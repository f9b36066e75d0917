//! Fourier features of a normalised coordinate.
//!
//! `pe(x) = [x_0..x_5, sin(2^0 π x_0), cos(2^0 π x_0), …, sin(2^{F-1} π x_0), cos(…), … x_5 …]`:
//! the six coordinates, then for each coordinate `d` and band `f`, a sine and a cosine.
//!
//! ```
//! use metamorph::inr::features::fourier;
//! let mut pe = [0.0f32; 6 + 12 * 2];
//! fourier(&[0.5, 0.0, 0.0, 0.0, 0.0, 0.0], 2, &mut pe);
//! assert_eq!(pe[0], 0.5);
//! assert!((pe[6] - 1.0).abs() < 1e-6); // sin(π/2)
//! assert!(pe[8].abs() < 1e-6);         // sin(π)
//! ```

use core::f32::consts::PI;

/// Writes the `6 + 12 · bands` features of `x` into `out` (which must have exactly that length).
pub fn fourier(x: &[f32; 6], bands: usize, out: &mut [f32]) {
    fourier_reusing(x, bands, out, &[]);
}

/// [`fourier`], copying a coordinate's `2 · bands` sines and cosines from an `earlier` feature row
/// whose same coordinate is bit-identical instead of recomputing them. The result is identical
/// to [`fourier`]; it is faster when neighbouring rows share coordinates (they share most).
pub fn fourier_reusing(x: &[f32; 6], bands: usize, out: &mut [f32], earlier: &[&[f32]]) {
    debug_assert_eq!(out.len(), 6 + 12 * bands);
    out[..6].copy_from_slice(x);
    for (d, &v) in x.iter().enumerate() {
        let block = &mut out[6 + 2 * bands * d..6 + 2 * bands * (d + 1)];
        if let Some(row) = earlier.iter().find(|row| row[d].to_bits() == v.to_bits()) {
            block.copy_from_slice(&row[6 + 2 * bands * d..6 + 2 * bands * (d + 1)]);
            continue;
        }
        sines(v, block);
    }
}

/// The features of one coordinate alone, as [`fourier`] computes them bit for bit: `x_d`
/// (feature `d`) followed by its `2 · bands` sines and cosines (features `6 + 2·bands·d ..`).
/// `out` must have exactly `1 + 2 · bands` elements.
///
/// ```
/// use metamorph::inr::features::{coordinate, fourier};
/// let x = [0.1, 0.3, 0.7, 0.2, 0.5, 0.9];
/// let (mut pe, mut one) = ([0.0f32; 6 + 12 * 3], [0.0f32; 1 + 2 * 3]);
/// fourier(&x, 3, &mut pe);
/// coordinate(x[2], 3, &mut one);
/// assert_eq!(one[0], pe[2]);
/// assert_eq!(one[1..], pe[6 + 2 * 3 * 2..6 + 2 * 3 * 3]);
/// ```
pub fn coordinate(v: f32, bands: usize, out: &mut [f32]) {
    debug_assert_eq!(out.len(), 1 + 2 * bands);
    out[0] = v;
    sines(v, &mut out[1..]);
}

/// `block[2f], block[2f + 1] = sin(2^f π v), cos(2^f π v)`.
fn sines(v: f32, block: &mut [f32]) {
    let mut freq = PI;
    for pair in block.chunks_exact_mut(2) {
        (pair[0], pair[1]) = sin_cos(freq * v);
        freq *= 2.0;
    }
}

/// `(sinf(a), cosf(a))` bit for bit, sharing one argument reduction where that is exact:
/// libm's `sincosf` equals its `sinf` and `cosf` for every `|a| < 2²³` (checked exhaustively for
/// libm 0.2.16; `tests/features.rs` samples it), which covers every feature of coordinates in
/// `[-2, 2]` up to 20 bands.
#[inline]
fn sin_cos(a: f32) -> (f32, f32) {
    if a.abs() < 8_388_608.0 {
        libm::sincosf(a)
    } else {
        (libm::sinf(a), libm::cosf(a))
    }
}
