//! Matrix products whose bits do not depend on the CPU's L1 cache, in the forward pass and in
//! both gradients.
//!
//! candle's CPU products call `gemm`, which sums each output along `k` in order with fused
//! multiply-adds, but in blocks of `kc` values whose partial sums are then added. When `k > 512`
//! and either side is more than 64 wide, `kc` is derived from the L1 cache's associativity: 512
//! on an 8-way L1 (AMD EPYC before Zen 5), 1024 on a 12-way one (recent Intel Xeons). So the same
//! product rounds differently on the two (docs/RELIABILITY.md, Determinism). Here such a product is
//! cut along `k` into the pieces an 8-way L1 makes and their products are added in order. No piece
//! is longer than 512, and `gemm` never blocks a product of `k ≤ 512`, so every CPU with FMA gets
//! the bits an 8-way machine gets from candle's single product. The gradients are products too,
//! whose `k` is the forward product's `m` or `n` (the INR's queried rows, a convolution's output
//! pixels), and are cut the same way. Other devices keep candle's product.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};

/// The longest run of `k` that `gemm` sums in one block on every machine.
const KC: usize = 512;

/// `a · b` for `a` `[m, k]` and `b` `[k, n]`, f32 or f64, cut along `k` wherever `gemm` would cut
/// it by cache size, and differentiable with its gradients cut the same way.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let on_cpu = a.device().is_cpu() && b.device().is_cpu();
    if !on_cpu || a.dtype() != b.dtype() || !matches!(a.dtype(), DType::F32 | DType::F64) {
        return a.matmul(b);
    }
    a.apply_op2(b, CutMatmul)
}

/// [`matmul`] without a backward pass: for products inside other ops' gradients.
pub fn product(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !(a.device().is_cpu() && matches!(a.dtype(), DType::F32 | DType::F64)) {
        return a.matmul(b);
    }
    a.apply_op2_no_bwd(b, &CutMatmul)
}

/// Where `gemm`'s blocking depends on the cache: more than [`KC`] along `k` and more than 64
/// along `m` or `n`.
fn blocked_by_cache(m: usize, n: usize, k: usize) -> bool {
    k > KC && (m > 64 || n > 64)
}

/// The pieces `[start, len)` an 8-way L1 cuts `k` into: `ceil(k / 512)` pieces of
/// `ceil(k / pieces)`, the last one shorter.
fn pieces(k: usize) -> impl Iterator<Item = (usize, usize)> {
    let len = k.div_ceil(k.div_ceil(KC).max(1)).max(1);
    (0..k).step_by(len).map(move |start| (start, len.min(k - start)))
}

/// The storage-level product behind [`matmul`]: `a` `[m, k]` times `b` `[k, n]`, any strides.
pub(super) fn cut_product(sa: &CpuStorage, la: &Layout, sb: &CpuStorage, lb: &Layout) -> Result<(CpuStorage, Shape)> {
    let (&[m, k], &[k_b, n]) = (la.dims(), lb.dims()) else {
        candle_core::bail!("cut-matmul: shapes {:?} and {:?} are not [m, k] and [k, n]", la.dims(), lb.dims());
    };
    if k != k_b {
        candle_core::bail!("cut-matmul: shapes {:?} and {:?} do not chain", la.dims(), lb.dims());
    }
    let shape = Shape::from((m, n));
    if !blocked_by_cache(m, n, k) {
        return Ok((sa.matmul(sb, (1, m, n, k), la, lb)?, shape));
    }
    let mut sum: Option<CpuStorage> = None;
    for (start, len) in pieces(k) {
        let part = sa.matmul(sb, (1, m, n, len), &la.narrow(1, start, len)?, &lb.narrow(0, start, len)?)?;
        sum = Some(match (sum, part) {
            (None, part) => part,
            (Some(CpuStorage::F32(mut s)), CpuStorage::F32(p)) => {
                s.iter_mut().zip(&p).for_each(|(s, p)| *s += p);
                CpuStorage::F32(s)
            }
            (Some(CpuStorage::F64(mut s)), CpuStorage::F64(p)) => {
                s.iter_mut().zip(&p).for_each(|(s, p)| *s += p);
                CpuStorage::F64(s)
            }
            _ => candle_core::bail!("cut-matmul: only f32 and f64 are supported"),
        });
    }
    Ok((sum.ok_or_else(|| candle_core::Error::Msg("cut-matmul: k is 0".into()))?, shape))
}

struct CutMatmul;

impl CustomOp2 for CutMatmul {
    fn name(&self) -> &'static str {
        "cut-matmul"
    }

    fn cpu_fwd(&self, sa: &CpuStorage, la: &Layout, sb: &CpuStorage, lb: &Layout) -> Result<(CpuStorage, Shape)> {
        cut_product(sa, la, sb, lb)
    }

    fn bwd(&self, a: &Tensor, b: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(product(grad, &b.t()?)?), Some(product(&a.t()?, grad)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn pieces_are_what_an_8_way_l1_cuts() {
        let cut = |k| pieces(k).collect::<Vec<_>>();
        assert_eq!(cut(784), [(0, 392), (392, 392)]);
        assert_eq!(cut(512), [(0, 512)]);
        assert_eq!(cut(1600), [(0, 400), (400, 400), (800, 400), (1200, 400)]);
        assert_eq!(cut(1025), [(0, 342), (342, 342), (684, 341)]);
        for k in 1..3000 {
            let all = cut(k);
            assert!(all.iter().all(|&(_, len)| (1..=KC).contains(&len)), "k = {k}");
            assert_eq!(all.iter().map(|p| p.1).sum::<usize>(), k);
        }
    }

    /// `Σ_t a[i][t] · b[t][j]` summed as `gemm`'s FMA kernel sums a product of `k ≤ 512`, piece by
    /// piece in order with fused multiply-adds, the pieces then added in order: arithmetic that
    /// names no cache size.
    fn in_order(a: &[Vec<f32>], b: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let (m, k, n) = (a.len(), b.len(), b[0].len());
        let cut: Vec<_> = if blocked_by_cache(m, n, k) { pieces(k).collect() } else { vec![(0, k)] };
        (0..m)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let part = |&(s, len): &(usize, usize)| {
                            (s..s + len).fold(0f32, |acc, t| a[i][t].mul_add(b[t][j], acc))
                        };
                        cut.iter().map(part).reduce(|s, p| s + p).unwrap_or(0.0)
                    })
                    .collect()
            })
            .collect()
    }

    fn differing_bits(ours: &Tensor, reference: &[Vec<f32>]) -> usize {
        let ours = ours.to_vec2::<f32>().unwrap();
        ours.iter().flatten().zip(reference.iter().flatten()).filter(|(a, b)| a.to_bits() != b.to_bits()).count()
    }

    /// The forward product and both gradients equal the in-order sums bit for bit: on every CPU
    /// with FMA, whatever its cache (candle's uncut product fails this on a 12-way L1).
    #[test]
    fn the_product_and_its_gradients_are_in_order_sums_of_their_pieces() {
        if !std::arch::is_x86_feature_detected!("fma") {
            return; // gemm's scalar kernel multiplies and adds separately
        }
        let dev = Device::Cpu;
        // Forward k = 784 (a dense layer on MNIST); the gradient of `b` has k = m = 1100 (rows).
        let (m, k, n) = (1100, 784, 80);
        let a = Var::randn(0f32, 1., (m, k), &dev).unwrap();
        let b = Var::randn(0f32, 1., (k, n), &dev).unwrap();
        let y = matmul(&a, &b).unwrap();
        let (av, bv) = (a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
        assert_eq!(differing_bits(&y, &in_order(&av, &bv)), 0, "forward");
        let g = Tensor::randn(0f32, 1., (m, n), &dev).unwrap();
        let grads = (&y * &g).unwrap().sum_all().unwrap().backward().unwrap();
        let gv = g.to_vec2::<f32>().unwrap();
        let transpose =
            |v: &[Vec<f32>]| (0..v[0].len()).map(|j| v.iter().map(|r| r[j]).collect()).collect::<Vec<Vec<f32>>>();
        let ga = in_order(&gv, &transpose(&bv));
        let gb = in_order(&transpose(&av), &gv);
        assert_eq!(differing_bits(grads.get(&a).unwrap(), &ga), 0, "gradient of a");
        assert_eq!(differing_bits(grads.get(&b).unwrap(), &gb), 0, "gradient of b");
    }

    #[test]
    fn f64_products_are_cut_too() {
        let dev = Device::Cpu;
        let a = Tensor::randn(0f64, 1., (700, 65), &dev).unwrap();
        let ours = product(&a.t().unwrap(), &a).unwrap().to_vec2::<f64>().unwrap();
        let av = a.to_vec2::<f64>().unwrap();
        let mut worst = 0f64;
        for (i, row) in ours.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let exact: f64 = av.iter().map(|r| r[i] * r[j]).sum();
                worst = worst.max((v - exact).abs() / exact.abs().max(1.0));
            }
        }
        assert!(worst < 1e-12, "{worst}");
    }
}
