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
    debug_assert_eq!(out.len(), 6 + 12 * bands);
    out[..6].copy_from_slice(x);
    let mut k = 6;
    for &v in x {
        let mut freq = PI;
        for _ in 0..bands {
            let (s, c) = (libm::sinf(freq * v), libm::cosf(freq * v));
            out[k] = s;
            out[k + 1] = c;
            k += 2;
            freq *= 2.0;
        }
    }
}
