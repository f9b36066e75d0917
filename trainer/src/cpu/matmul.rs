//! A dense layer's product `x · wᵀ` whose bits do not depend on the CPU's L1 cache.
//!
//! candle's CPU products call `gemm`, which sums each output along `k` in order with fused
//! multiply-adds, but in blocks of `kc` values whose partial sums are then added. When `k > 512`
//! and either side is more than 64 wide, `kc` is derived from the L1 cache's associativity: 512
//! on an 8-way L1 (AMD EPYC before Zen 5), 1024 on a 12-way one (recent Intel Xeons). So the same
//! product rounds differently on the two (docs/RELIABILITY.md, Determinism). Here such a product is
//! cut along `k` into the pieces an 8-way L1 makes and their products are added in order. No piece
//! is longer than 512, and `gemm` never blocks a product of `k ≤ 512`, so every CPU with FMA gets
//! the bits an 8-way machine gets from candle's single product.
//!
//! Only the forward product is cut: its gradients have `k` equal to the batch or the layer's
//! width, both at most 512 in every shipped MLP. Other devices keep candle's product.

use candle_core::{Result, Tensor};

/// The longest run of `k` that `gemm` sums in one block on every machine.
const KC: usize = 512;

/// Where `gemm`'s blocking depends on the cache: more than [`KC`] along `k` and more than 64
/// along `m` or `n`.
fn blocked_by_cache(m: usize, n: usize, k: usize) -> bool {
    k > KC && (m > 64 || n > 64)
}

/// The pieces `[start, len)` an 8-way L1 cuts `k` into: `ceil(k / 512)` pieces of
/// `ceil(k / pieces)`, the last one shorter.
fn pieces(k: usize) -> impl Iterator<Item = (usize, usize)> {
    let len = k.div_ceil(k.div_ceil(KC));
    (0..k).step_by(len).map(move |start| (start, len.min(k - start)))
}

/// `x · wᵀ` for `x` `[m, k]` and `w` `[n, k]`, cut along `k` where `gemm` would cut it by cache
/// size.
pub fn matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let ((m, k), (n, _)) = (x.dims2()?, w.dims2()?);
    if !x.device().is_cpu() || !blocked_by_cache(m, n, k) {
        return x.matmul(&w.t()?);
    }
    let mut sum: Option<Tensor> = None;
    for (start, len) in pieces(k) {
        let part = x.narrow(1, start, len)?.matmul(&w.narrow(1, start, len)?.t()?)?;
        sum = Some(match sum {
            Some(s) => (s + part)?,
            None => part,
        });
    }
    sum.ok_or_else(|| candle_core::Error::Msg("matmul_t: k is 0".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

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

    /// The product equals each piece summed in order with fused multiply-adds, the pieces then
    /// added in order: the arithmetic of `gemm`'s FMA kernel, independent of any cache size.
    #[test]
    fn the_product_is_the_in_order_fma_sum_of_its_pieces() {
        if !std::arch::is_x86_feature_detected!("fma") {
            return; // gemm's scalar kernel multiplies and adds separately
        }
        let (m, n, k) = (128, 96, 784);
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1., (m, k), &dev).unwrap();
        let w = Tensor::randn(0f32, 1., (n, k), &dev).unwrap();
        let ours = matmul_t(&x, &w).unwrap().to_vec2::<f32>().unwrap();
        let (xs, ws) = (x.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
        let mut differ = 0;
        for i in 0..m {
            for j in 0..n {
                let mut total: Option<f32> = None;
                for (start, len) in pieces(k) {
                    let part = (start..start + len).fold(0f32, |acc, t| xs[i][t].mul_add(ws[j][t], acc));
                    total = Some(total.map_or(part, |s| s + part));
                }
                differ += usize::from(total.unwrap().to_bits() != ours[i][j].to_bits());
            }
        }
        assert_eq!(differ, 0, "{differ} of {} outputs differ from the in-order sums", m * n);
    }
}
