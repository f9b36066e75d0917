//! Fourier features: the reusing and shared-reduction fast paths equal the plain formula bit for bit.

mod common;

use metamorph::inr::features::{fourier, fourier_reusing};
use metamorph::rng::Rng;

/// `[x, sin(2^f π x_d), cos(2^f π x_d) …]` with one `sinf` and one `cosf` per value.
fn plain(x: &[f32; 6], bands: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    for &v in x {
        let mut freq = core::f32::consts::PI;
        for _ in 0..bands {
            out.push(libm::sinf(freq * v));
            out.push(libm::cosf(freq * v));
            freq *= 2.0;
        }
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn fourier_equals_the_plain_formula() {
    let mut rng = Rng::new(3);
    for n in 0..20_000 {
        let bands = n % 21;
        let scale = [1.0, 2.0, 1e3, 1e6][n % 4];
        let x = [0; 6].map(|_| rng.uniform(-scale, scale));
        let mut out = vec![0.0; 6 + 12 * bands];
        fourier(&x, bands, &mut out);
        assert_eq!(bits(&out), bits(&plain(&x, bands)), "x = {x:?}, bands {bands}");
    }
}

#[test]
fn reusing_earlier_rows_changes_nothing() {
    let mut rng = Rng::new(4);
    let bands = 8;
    let p = 6 + 12 * bands;
    let pool = [0.0, 0.25, 0.5, 1.0 / 3.0, 0.75];
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for _ in 0..500 {
        let x = [0; 6].map(|_| pool[rng.below(pool.len())]);
        let mut out = vec![f32::NAN; p];
        let earlier: Vec<&[f32]> = rows.iter().rev().take(2).map(|r| &r[..]).collect();
        fourier_reusing(&x, bands, &mut out, &earlier);
        assert_eq!(bits(&out), bits(&plain(&x, bands)));
        rows.push(out);
    }
}
