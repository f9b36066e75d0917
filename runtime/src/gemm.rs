//! The one dense kernel everything runs on: `Y = X · Wᵀ + b`.
//!
//! With the `matrixmultiply` feature (implied by `std`) it runs on `matrixmultiply::sgemm`, which
//! heap-allocates its packing buffers. Without it, a portable dot-product kernel that allocates
//! nothing, so the core links with neither `std` nor a global allocator. With the feature, products
//! with fewer than [`NARROW`] outputs (e.g. an INR's one-value output layer) still take the dot
//! kernel, where packing would cost more than the product. [`linear_row`], the matrix–vector
//! case, never packs; with `std` on x86-64 it uses AVX2 and FMA when the CPU has them. The kernels
//! agree to rounding, not bit for bit (different summation order); each is deterministic.

use crate::error::{Error, Result};

/// `y[r, o] = Σ_p x[r, p] · w[o, p] + bias[o]` for `rows × inputs` `x` and row-major `[outputs, inputs]` `w`.
/// `y` must hold `rows × outputs`; `bias` is empty (no bias) or `outputs` long.
///
/// # Errors
/// [`Error::Overflow`] when a product of the dimensions overflows `usize`, and
/// [`Error::ShapeMismatch`] when a slice's length differs from what the dimensions give. Every
/// index the kernels touch is checked here, so this safe function can never read or write out of
/// bounds, whatever its arguments.
pub fn linear(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    rows: usize,
    inputs: usize,
    outputs: usize,
    y: &mut [f32],
) -> Result<()> {
    check(x.len(), mul(rows, inputs)?)?;
    check(w.len(), mul(outputs, inputs)?)?;
    check(y.len(), mul(rows, outputs)?)?;
    if !bias.is_empty() {
        check(bias.len(), outputs)?;
    }
    if rows == 0 || outputs == 0 {
        return Ok(());
    }
    if inputs == 0 {
        y.fill(0.0);
    } else {
        product(x, w, rows, inputs, outputs, y);
    }
    // Added after the product (not preloaded into `y`): the same value, without a copy per row.
    if !bias.is_empty() {
        for row in y.chunks_exact_mut(outputs) {
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    }
    Ok(())
}

/// As [`linear`] for one row of `x`: a dot product per output, whatever GEMM is compiled in. A
/// matrix–vector product reads each weight once, so packing `w` for a GEMM kernel costs as much
/// as the product. With `std` on x86-64 a CPU with AVX2 and FMA runs the dot products with those
/// instructions (four outputs at a time); the two kernels agree to rounding, each deterministic.
/// Same errors as [`linear`].
pub fn linear_row(x: &[f32], w: &[f32], bias: &[f32], inputs: usize, outputs: usize, y: &mut [f32]) -> Result<()> {
    check(x.len(), inputs)?;
    check(w.len(), mul(outputs, inputs)?)?;
    check(y.len(), outputs)?;
    if !bias.is_empty() {
        check(bias.len(), outputs)?;
    }
    if inputs == 0 {
        y.fill(0.0);
    } else {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if avx::available() {
            // SAFETY: the features are present, and the checks above give `x` `inputs` values,
            // `w` `outputs × inputs` and `y` `outputs`.
            unsafe { avx::row(x, w, inputs, y) };
        } else {
            product_dot(x, w, inputs, outputs, y);
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        product_dot(x, w, inputs, outputs, y);
    }
    for (v, b) in y.iter_mut().zip(bias) {
        *v += b;
    }
    Ok(())
}

/// Products with fewer outputs than this take the dot kernel even with `matrixmultiply`.
pub const NARROW: usize = 4;

/// `y = x · wᵀ` without allocating: one dot product per output, eight accumulators wide.
#[cfg(not(feature = "matrixmultiply"))]
fn product(x: &[f32], w: &[f32], _rows: usize, inputs: usize, outputs: usize, y: &mut [f32]) {
    product_dot(x, w, inputs, outputs, y);
}

fn product_dot(x: &[f32], w: &[f32], inputs: usize, outputs: usize, y: &mut [f32]) {
    for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
        for (wr, yo) in w.chunks_exact(inputs).zip(yr.iter_mut()) {
            *yo = dot(xr, wr);
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += xa[l] * xb[l];
        }
    }
    let mut tail = 0.0;
    for (p, q) in ra.iter().zip(rb) {
        tail += p * q;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y = x · wᵀ` through `matrixmultiply::sgemm` (`beta = 0`: `y` is not read).
#[cfg(feature = "matrixmultiply")]
fn product(x: &[f32], w: &[f32], rows: usize, inputs: usize, outputs: usize, y: &mut [f32]) {
    if outputs < NARROW {
        return product_dot(x, w, inputs, outputs, y);
    }
    // SAFETY: `linear`'s length checks guarantee every index sgemm touches lies inside the slices:
    // A = x is rows×inputs (row stride inputs), B = wᵀ is inputs×outputs read from w with
    // strides (1, inputs), C = y is rows×outputs (row stride outputs).
    unsafe {
        matrixmultiply::sgemm(
            rows,
            inputs,
            outputs,
            1.0,
            x.as_ptr(),
            inputs as isize,
            1,
            w.as_ptr(),
            1,
            inputs as isize,
            0.0,
            y.as_mut_ptr(),
            outputs as isize,
            1,
        );
    }
}

/// The matrix–vector kernel with AVX2 and FMA.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) mod avx {
    use core::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
        _mm256_setzero_ps, _mm_add_ps, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
    };

    /// Whether this CPU has AVX2 and FMA (detected once by `std`, then cached).
    pub fn available() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }

    /// `y[o] = Σ_p x[p] · w[o·inputs + p]`, four outputs at a time, sixteen inputs per step.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, `x.len() == inputs`, `w.len() == y.len() · inputs`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn row(x: &[f32], w: &[f32], inputs: usize, y: &mut [f32]) {
        debug_assert!(x.len() == inputs && w.len() == y.len() * inputs);
        let body = inputs - inputs % 16;
        let mut rows = w.chunks_exact(4 * inputs);
        let mut out = y.chunks_exact_mut(4);
        for (block, dst) in (&mut rows).zip(&mut out) {
            let mut acc = [[_mm256_setzero_ps(); 2]; 4];
            let mut p = 0;
            while p < body {
                let xv = [_mm256_loadu_ps(x.as_ptr().add(p)), _mm256_loadu_ps(x.as_ptr().add(p + 8))];
                for (o, a) in acc.iter_mut().enumerate() {
                    let wr = block.as_ptr().add(o * inputs + p);
                    a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(wr), xv[0], a[0]);
                    a[1] = _mm256_fmadd_ps(_mm256_loadu_ps(wr.add(8)), xv[1], a[1]);
                }
                p += 16;
            }
            for (o, (a, d)) in acc.iter().zip(dst.iter_mut()).enumerate() {
                *d = sum(_mm256_add_ps(a[0], a[1])) + tail(&x[body..], &block[o * inputs + body..(o + 1) * inputs]);
            }
        }
        for (wr, d) in rows.remainder().chunks_exact(inputs).zip(out.into_remainder()) {
            let mut acc = [_mm256_setzero_ps(); 2];
            let mut p = 0;
            while p < body {
                acc[0] =
                    _mm256_fmadd_ps(_mm256_loadu_ps(wr.as_ptr().add(p)), _mm256_loadu_ps(x.as_ptr().add(p)), acc[0]);
                acc[1] = _mm256_fmadd_ps(
                    _mm256_loadu_ps(wr.as_ptr().add(p + 8)),
                    _mm256_loadu_ps(x.as_ptr().add(p + 8)),
                    acc[1],
                );
                p += 16;
            }
            *d = sum(_mm256_add_ps(acc[0], acc[1])) + tail(&x[body..], &wr[body..]);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn sum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ps(s, _mm_shuffle_ps(s, s, 1)))
    }

    fn tail(x: &[f32], w: &[f32]) -> f32 {
        x.iter().zip(w).map(|(a, b)| a * b).sum()
    }
}

fn mul(a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or(Error::Overflow)
}

fn check(found: usize, expected: usize) -> Result<()> {
    if found != expected {
        return Err(Error::ShapeMismatch { expected, found });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{linear, linear_row};
    use crate::rng::Rng;
    use crate::Error;

    #[test]
    fn one_row_kernel_matches_linear() {
        let mut rng = Rng::new(9);
        let (inputs, outputs) = (37, 11); // neither a multiple of the eight lanes
        let (mut x, mut w, mut b) = ([0.0; 37], [0.0; 37 * 11], [0.0; 11]);
        for v in x.iter_mut().chain(&mut w).chain(&mut b) {
            *v = rng.uniform(-1.0, 1.0);
        }
        let (mut got, mut want) = ([0.0; 11], [0.0; 11]);
        linear_row(&x, &w, &b, inputs, outputs, &mut got).unwrap();
        linear(&x, &w, &b, 1, inputs, outputs, &mut want).unwrap();
        for (g, e) in got.iter().zip(want) {
            assert!((g - e).abs() <= 1e-5, "{g} vs {e}");
        }
        assert!(linear_row(&x, &w, &b, inputs, outputs + 1, &mut [0.0; 12]).is_err());
    }

    /// The one-row kernel (the AVX2+FMA one where this build and CPU have it) against f64 sums, over
    /// shapes with and without a remainder of inputs (sixteen per step) and of outputs (four per block).
    #[test]
    fn one_row_kernel_matches_f64() {
        let mut rng = Rng::new(4);
        for (inputs, outputs) in [(784, 9), (16, 4), (37, 11), (5, 3), (256, 10)] {
            let (mut x, mut w, mut b) = ([0.0f32; 784], [0.0f32; 784 * 11], [0.0f32; 11]);
            for v in x[..inputs].iter_mut().chain(&mut w[..inputs * outputs]).chain(&mut b[..outputs]) {
                *v = rng.uniform(-1.0, 1.0);
            }
            let (x, w, b) = (&x[..inputs], &w[..inputs * outputs], &b[..outputs]);
            let mut y = [0.0f32; 11];
            linear_row(x, w, b, inputs, outputs, &mut y[..outputs]).unwrap();
            for (o, got) in y[..outputs].iter().enumerate() {
                let want: f64 = f64::from(b[o])
                    + x.iter().zip(&w[o * inputs..][..inputs]).map(|(a, c)| f64::from(*a) * f64::from(*c)).sum::<f64>();
                assert!(
                    (f64::from(*got) - want).abs() <= 1e-5 * inputs as f64,
                    "{inputs}×{outputs} [{o}]: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn matches_hand_computation() {
        let x = [1.0, 2.0, 3.0, 4.0]; // 2 rows × 2 inputs
        let w = [1.0, 0.0, 0.5, -1.0, 2.0, 2.0]; // 3 outputs × 2 inputs
        let mut y = [0.0; 6];
        linear(&x, &w, &[0.1, 0.2, 0.3], 2, 2, 3, &mut y).unwrap();
        assert_eq!(y, [1.1, -1.3, 6.3, 3.1, -2.3, 14.3]);
    }

    /// Wide enough for the `matrixmultiply` kernel (the core's `unsafe` call without `std`), with odd
    /// sizes and slices of exactly the lengths it may touch: under Miri
    /// (`cargo +nightly miri test -p metamorph --features matrixmultiply --lib`) any read or write
    /// outside them is reported. Integer values make every summation order exact.
    #[test]
    fn the_fast_kernel_stays_inside_its_slices() {
        const ROWS: usize = 3;
        const IN: usize = 5;
        const OUT: usize = 7;
        let x: [f32; ROWS * IN] = core::array::from_fn(|i| (i % 7) as f32 - 3.0);
        let w: [f32; OUT * IN] = core::array::from_fn(|i| (i % 5) as f32 - 2.0);
        let b: [f32; OUT] = core::array::from_fn(|i| i as f32);
        let mut y = [0.0; ROWS * OUT];
        linear(&x, &w, &b, ROWS, IN, OUT, &mut y).unwrap();
        for r in 0..ROWS {
            for o in 0..OUT {
                let want: f32 = b[o] + (0..IN).map(|i| x[r * IN + i] * w[o * IN + i]).sum::<f32>();
                assert_eq!(y[r * OUT + o], want, "row {r}, output {o}");
            }
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut y = [0.0; 2];
        assert!(linear(&[1.0; 3], &[1.0; 2], &[], 2, 2, 1, &mut y).is_err());
    }

    /// Dimensions whose products wrap to the (empty) slice lengths must not reach a kernel.
    #[test]
    fn overflowing_dimensions_are_errors() {
        let huge = 1usize << (usize::BITS - 1);
        let mut empty: [f32; 0] = [];
        // rows × inputs = 2 · 2^63 wraps to 0 = x.len() without checked arithmetic.
        assert_eq!(linear(&[], &[], &[], 2, huge, 0, &mut empty), Err(Error::Overflow));
        assert_eq!(linear(&[], &[], &[], huge, 2, 2, &mut empty), Err(Error::Overflow));
        assert_eq!(linear(&[], &[], &[], 0, 2, huge, &mut empty), Err(Error::Overflow));
        let mut y = [0.0; 4];
        assert_eq!(linear(&[], &[], &[], usize::MAX, usize::MAX, 4, &mut y), Err(Error::Overflow));
    }
}
