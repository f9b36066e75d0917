//! Direct stride-1 convolution for x86-64 with AVX2 and FMA.
//!
//! The input is copied once per image into the workspace with its zero padding, so every tap of a
//! row of outputs is one contiguous run of the padded plane. A block of `M` output channels ×
//! up to 16 positions of one output row stays in registers while the loop walks the channels'
//! weight rows in place (`W[o, ·]` is contiguous in canonical order): one broadcast per weight,
//! one load per eight positions, nothing packed. Sums run in weight order, so results agree with
//! the portable kernel to rounding, not bit for bit; each is deterministic.

use super::conv::Geometry;
use crate::error::{Error, Result};
use core::arch::x86_64::{
    __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

pub use crate::gemm::avx::available;

/// As [`super::conv::forward`] for `g.stride == 1`. Errors if `work` is shorter than the padded
/// input plus eight slack values, or a slice length differs from the geometry.
pub fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    batch: usize,
    g: &Geometry,
    y: &mut [f32],
    work: &mut [f32],
) -> Result<()> {
    assert!(available(), "direct convolution needs AVX2 and FMA");
    let (ci, hi, wi) = g.input;
    let (co, ho, wo) = g.output;
    let (k, p) = (g.k, g.pad);
    let (hp, wp) = (hi + 2 * p, wi + 2 * p);
    let q = g.patch();
    let plane = ci * hp * wp;
    if g.stride != 1 || hp + 1 != ho + k || wp + 1 != wo + k {
        return Err(Error::BadSpec("direct convolution needs stride 1"));
    }
    // The kernel's reads: padded values up to eight past any row's last output (slack), weights
    // `co × q`, bias `co`; its writes: `batch × co·ho·wo` outputs.
    let check = |expected: usize, found: usize| {
        if found < expected {
            return Err(Error::ShapeMismatch { expected, found });
        }
        Ok(())
    };
    check(plane + 8, work.len())?;
    check(co * q, w.len())?;
    check(co, b.len())?;
    check(batch * ci * hi * wi, x.len())?;
    check(batch * co * ho * wo, y.len())?;
    let (b, padded) = (&b[..co], &mut work[..plane + 8]);
    for (xin, yout) in x.chunks_exact(ci * hi * wi).zip(y.chunks_exact_mut(co * ho * wo)).take(batch) {
        padded.fill(0.0);
        for (c, src) in xin.chunks_exact(hi * wi).enumerate() {
            for (iy, row) in src.chunks_exact(wi).enumerate() {
                padded[(c * hp + iy + p) * wp + p..][..wi].copy_from_slice(row);
            }
        }
        let dims = Dims { ci, k, hp, wp, q };
        for oy in 0..ho {
            let mut ox = 0;
            while ox < wo {
                let n = (wo - ox).min(16);
                let at = oy * wp + ox;
                if n > 8 {
                    channels::<6, 2>(padded, at, w, b, &dims, yout, (oy * wo + ox, ho * wo, n));
                } else {
                    channels::<8, 1>(padded, at, w, b, &dims, yout, (oy * wo + ox, ho * wo, n));
                }
                ox += n;
            }
        }
    }
    Ok(())
}

/// Sizes the kernel walks: input channels, kernel side, padded height and width, patch length.
struct Dims {
    ci: usize,
    k: usize,
    hp: usize,
    wp: usize,
    q: usize,
}

/// Every output channel's `n ≤ 8·NV` positions starting at padded offset `at`, `M` channels at a
/// time (then one at a time). `out` is (first output index, plane length, `n`).
fn channels<const M: usize, const NV: usize>(
    padded: &[f32],
    at: usize,
    w: &[f32],
    b: &[f32],
    d: &Dims,
    y: &mut [f32],
    out: (usize, usize, usize),
) {
    let (first, plane, n) = out;
    let co = b.len();
    let mut sums = [[0.0f32; 16]; M];
    let mut o = 0;
    while o < co {
        let m = if co - o >= M { M } else { 1 };
        // SAFETY: `forward` checked AVX2 and FMA, `w` holds `co × q` and `o + m ≤ co`, and the
        // padded plane plus eight slack values covers every load (see `block`).
        unsafe {
            if m == M {
                block::<M, NV>(padded, at, &w[o * d.q..(o + M) * d.q], d, &mut sums);
            } else {
                block::<1, NV>(padded, at, &w[o * d.q..(o + 1) * d.q], d, &mut sums[..1]);
            }
        }
        for (j, s) in sums[..m].iter().enumerate() {
            let dst = &mut y[(o + j) * plane + first..][..n];
            for (v, &a) in dst.iter_mut().zip(s.iter()) {
                *v = a + b[o + j];
            }
        }
        o += m;
    }
}

/// `sums[m][i] = Σ_{c,ky,kx} w[m·q + (c·k + ky)·k + kx] · padded[at + (c·hp + ky)·wp + kx + i]` for
/// `m < M`, `i < 8·NV`.
///
/// # Safety
/// The CPU has AVX2 and FMA; `w` holds `M × q` values; `sums` holds `M` rows; and
/// `at + ((ci − 1)·hp + k − 1)·wp + k − 1 + 8·NV ≤ padded.len()`, which holds for every output
/// position when `padded` has eight values of slack: `at + 8·NV` exceeds the row's last output by
/// at most seven.
#[target_feature(enable = "avx2,fma")]
unsafe fn block<const M: usize, const NV: usize>(
    padded: &[f32],
    at: usize,
    w: &[f32],
    d: &Dims,
    sums: &mut [[f32; 16]],
) {
    debug_assert!(w.len() == M * d.q && sums.len() >= M);
    debug_assert!(at + ((d.ci - 1) * d.hp + d.k - 1) * d.wp + d.k - 1 + 8 * NV <= padded.len());
    let mut acc: [[__m256; NV]; M] = [[_mm256_setzero_ps(); NV]; M];
    let base = padded.as_ptr().add(at);
    let w = w.as_ptr();
    let mut t = 0;
    for c in 0..d.ci {
        for ky in 0..d.k {
            let row = base.add((c * d.hp + ky) * d.wp);
            for kx in 0..d.k {
                let mut v = [_mm256_setzero_ps(); NV];
                for (j, vj) in v.iter_mut().enumerate() {
                    *vj = _mm256_loadu_ps(row.add(kx + 8 * j));
                }
                for (m, accm) in acc.iter_mut().enumerate() {
                    let s = _mm256_set1_ps(*w.add(m * d.q + t));
                    for (a, &vj) in accm.iter_mut().zip(v.iter()) {
                        *a = _mm256_fmadd_ps(s, vj, *a);
                    }
                }
                t += 1;
            }
        }
    }
    for (accm, out) in acc.iter().zip(sums.iter_mut()) {
        for (j, a) in accm.iter().enumerate() {
            _mm256_storeu_ps(out.as_mut_ptr().add(8 * j), *a);
        }
    }
}
