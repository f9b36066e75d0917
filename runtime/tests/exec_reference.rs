//! The native executor against a plain, obviously-correct reference on random small networks.

mod common;

use metamorph::exec;
use metamorph::rng::Rng;
use metamorph::spec::{ArchSpec, Dim, Layer};
use proptest::prelude::*;

/// A random network: input size, hidden blocks and a head, as drawn by [`problem`].
#[derive(Debug, Clone)]
struct Problem {
    arch: ArchSpec,
    h: usize,
    batch: usize,
    seed: u64,
}

fn dim(d: Dim, h: usize) -> usize {
    match d {
        Dim::Fixed(n) => n as usize,
        Dim::Width(m) => m as usize * h,
    }
}

/// `[C, H, W]` or `[F]` activations of one sample, in f64.
#[derive(Clone)]
struct Act {
    c: usize,
    hh: usize,
    ww: usize,
    v: Vec<f64>,
}

/// Reads the canonical flat parameters in order: the reference's own walk of the layers.
struct Cursor<'p>(&'p [f32]);
impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Vec<f64> {
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.iter().map(|&v| v as f64).collect()
    }
}

fn reference(arch: &ArchSpec, h: usize, params: &[f32], input: &[f32]) -> Vec<f64> {
    let [c, hh, ww] = arch.input.map(|v| v as usize);
    let mut x = Act { c, hh, ww, v: input.iter().map(|&v| v as f64).collect() };
    let mut p = Cursor(params);
    let mut saved: Vec<Act> = Vec::new();
    for layer in &arch.layers {
        x = match *layer {
            Layer::Dense { out } => {
                let (n_in, n_out) = (x.v.len(), dim(out, h));
                let (w, b) = (p.take(n_out * n_in), p.take(n_out));
                let v = (0..n_out).map(|o| b[o] + (0..n_in).map(|i| w[o * n_in + i] * x.v[i]).sum::<f64>()).collect();
                Act { c: n_out, hh: 1, ww: 1, v }
            }
            Layer::Conv2d { out, kernel, stride, pad } => {
                let (k, s, pd) = (kernel as usize, stride as usize, pad as usize);
                let co = dim(out, h);
                let (ho, wo) = ((x.hh + 2 * pd - k) / s + 1, (x.ww + 2 * pd - k) / s + 1);
                let (w, b) = (p.take(co * x.c * k * k), p.take(co));
                let mut v = vec![0.0; co * ho * wo];
                for o in 0..co {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let mut acc = b[o];
                            for ci in 0..x.c {
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let (iy, ix) = (
                                            (oy * s + ky) as isize - pd as isize,
                                            (ox * s + kx) as isize - pd as isize,
                                        );
                                        if iy >= 0 && ix >= 0 && (iy as usize) < x.hh && (ix as usize) < x.ww {
                                            acc += w[((o * x.c + ci) * k + ky) * k + kx]
                                                * x.v[(ci * x.hh + iy as usize) * x.ww + ix as usize];
                                        }
                                    }
                                }
                            }
                            v[(o * ho + oy) * wo + ox] = acc;
                        }
                    }
                }
                Act { c: co, hh: ho, ww: wo, v }
            }
            Layer::Relu => Act { v: x.v.iter().map(|v| v.max(0.0)).collect(), ..x },
            Layer::MaxPool { kernel, stride } | Layer::AvgPool { kernel, stride } => {
                let (k, s) = (kernel as usize, stride as usize);
                let is_max = matches!(layer, Layer::MaxPool { .. });
                let (ho, wo) = ((x.hh - k) / s + 1, (x.ww - k) / s + 1);
                let mut v = Vec::new();
                for ci in 0..x.c {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let window = (0..k * k).map(|t| x.v[(ci * x.hh + oy * s + t / k) * x.ww + ox * s + t % k]);
                            v.push(if is_max {
                                window.fold(f64::MIN, f64::max)
                            } else {
                                window.sum::<f64>() / (k * k) as f64
                            });
                        }
                    }
                }
                Act { c: x.c, hh: ho, ww: wo, v }
            }
            Layer::GlobalAvgPool => {
                let n = x.hh * x.ww;
                Act { c: x.c, hh: 1, ww: 1, v: x.v.chunks(n).map(|pl| pl.iter().sum::<f64>() / n as f64).collect() }
            }
            Layer::Flatten => Act { c: x.v.len(), hh: 1, ww: 1, ..x },
            Layer::Save => {
                saved.push(x.clone());
                x
            }
            Layer::AddScaled => {
                let alpha = p.take(1)[0];
                let skip = saved.pop().unwrap();
                Act { v: skip.v.iter().zip(&x.v).map(|(s, b)| s + alpha * b).collect(), ..x }
            }
        };
    }
    assert!(p.0.is_empty(), "reference consumed fewer parameters than the executor got");
    x.v
}

/// One hidden block: `(kind, a, b, c)` with kind 0 conv, 1 relu, 2 max pool, 3 avg pool,
/// 4 a one-conv residual block, 5 a two-conv residual block with a nested one inside.
fn block(layers: &mut Vec<Layer>, ch: &mut Dim, (kind, a, b, c): (u8, u8, u8, u8)) {
    let same = |ch: Dim, kernel, pad| Layer::Conv2d { out: ch, kernel, stride: 1, pad };
    match kind {
        0 => {
            *ch = Dim::Width(1 + a as u16 % 3);
            layers.push(Layer::Conv2d { out: *ch, kernel: 1 + b % 4, stride: 1 + c % 3, pad: a % 3 });
        }
        1 => layers.push(Layer::Relu),
        2 => layers.push(Layer::MaxPool { kernel: 1 + a % 3, stride: 1 + b % 3 }),
        3 => layers.push(Layer::AvgPool { kernel: 1 + a % 3, stride: 1 + b % 3 }),
        4 => layers.extend([Layer::Save, same(*ch, 3, 1), Layer::Relu, Layer::AddScaled]),
        _ => layers.extend([
            Layer::Save,
            same(*ch, 3, 1),
            Layer::Relu,
            Layer::Save,
            same(*ch, 1, 0),
            Layer::AddScaled,
            Layer::AddScaled,
        ]),
    }
}

prop_compose! {
    fn problem()(
        input in (1u16..4, 3u16..10, 3u16..10),
        blocks in proptest::collection::vec((0u8..6, any::<u8>(), any::<u8>(), any::<u8>()), 0..5),
        dense_head in any::<bool>(),
        classes in 1u16..5,
        h in 1usize..4,
        batch in 1usize..4,
        seed in any::<u64>(),
    ) -> Option<Problem> {
        let mut layers = Vec::new();
        let mut ch = Dim::Fixed(input.0);
        for b in blocks {
            block(&mut layers, &mut ch, b);
        }
        if dense_head {
            layers.extend([Layer::Flatten, Layer::Dense { out: Dim::Width(2) }, Layer::Relu]);
        } else {
            layers.extend([Layer::GlobalAvgPool, Layer::Flatten]);
        }
        layers.push(Layer::Dense { out: Dim::Fixed(classes) });
        ArchSpec::new("random", [input.0, input.1, input.2], 3, 1, &layers).ok().map(|arch| Problem { arch, h, batch, seed })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn native_executor_matches_reference(p in problem()) {
        let Some(Problem { arch, h, batch, seed }) = p else { return Ok(()) };
        let costs = arch.costs(h).unwrap();
        let mut rng = Rng::new(seed);
        let params: Vec<f32> = (0..costs.params).map(|_| rng.uniform(-0.5, 0.5)).collect();
        let sample = arch.input_shape().len();
        let input: Vec<f32> = (0..sample * batch).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let mut scratch = vec![f32::NAN; exec::scratch_len(&arch, h, batch).unwrap()];
        let got = exec::run(&arch, h, &params, &input, batch, &mut scratch).unwrap().to_vec();
        let classes = arch.classes().unwrap();
        prop_assert_eq!(got.len(), batch * classes);
        for n in 0..batch {
            let want = reference(&arch, h, &params, &input[n * sample..(n + 1) * sample]);
            for (g, w) in got[n * classes..(n + 1) * classes].iter().zip(&want) {
                prop_assert!((*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()), "sample {}: {} vs {} in {:?}", n, g, w, arch.layers);
            }
        }
    }
}

#[test]
fn wrong_sizes_are_errors() {
    let arch = ArchSpec::new("e", [1, 4, 4], 2, 1, &[Layer::Flatten, Layer::Dense { out: Dim::Fixed(2) }]).unwrap();
    let params = [0.0f32; 34];
    let mut scratch = [0.0f32; 64];
    assert!(exec::run(&arch, 1, &params[..33], &[0.0; 16], 1, &mut scratch).is_err());
    assert!(exec::run(&arch, 1, &params, &[0.0; 15], 1, &mut scratch).is_err());
    let need = exec::scratch_len(&arch, 1, 2).unwrap();
    assert!(matches!(
        exec::run(&arch, 1, &params, &[0.0; 32], 2, &mut scratch[..need - 1]),
        Err(metamorph::Error::BufferTooSmall { .. })
    ));
    assert_eq!(exec::run(&arch, 1, &params, &[0.0; 32], 2, &mut scratch[..need]).unwrap(), [0.0; 4]);
}

#[test]
fn most_drawn_networks_are_valid() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut valid, mut residual, mut strided) = (0, 0, 0);
    for _ in 0..200 {
        if let Some(p) = problem().new_tree(&mut runner).unwrap().current() {
            valid += 1;
            residual += p.arch.layers.contains(&Layer::Save) as usize;
            strided += p.arch.layers.iter().any(|l| matches!(l, Layer::Conv2d { stride: 2.., .. })) as usize;
        }
    }
    eprintln!("valid {valid}/200, residual {residual}, strided conv {strided}");
    assert!(valid >= 100 && residual >= 20 && strided >= 20, "valid {valid}, residual {residual}, strided {strided}");
}
