//! INR evaluation throughput beside a plain f32 GEMM of the same shapes, and whole-member
//! materialisation.
//!
//! `cargo bench -p metamorph --features matrixmultiply --bench inr` runs the criterion groups, then prints a
//! table: for each INR configuration, weights/s and GFLOP/s of (a) the MLP forward alone on
//! precomputed features, (b) the whole materialiser path (coordinates, Fourier features, MLP,
//! fan-in) and (c) the same chain of [`linear`] calls ([`InrConfig::gemms`]: `rows × in × out`
//! for in→hidden, hidden→hidden × depth, hidden→out) with no bias, activation or features; the
//! ratio is (c)'s time over (a)'s or (b)'s (target: ≥ 60 %). GFLOP/s count the definition's FLOPs
//! (every row through the whole MLP); the materialiser computes a pair weight's noise-free first
//! layer separably (`A[i] + B[j]`), so (b) runs fewer and can exceed (c).

use criterion::{black_box, criterion_group, Criterion};
use metamorph::format::{self, OwnedHypernet};
use metamorph::gemm::linear;
use metamorph::inr::{features::fourier, mlp::Mlp, InrConfig};
use metamorph::materialise::{Materialiser, ROW_BLOCK};
use metamorph::spec::{families, ArchSpec, ParamInfo};
use std::time::{Duration, Instant};

/// One benchmarked INR: configuration, output values per row, and a tensor to materialise.
struct Case {
    name: &'static str,
    cfg: InrConfig,
    bytes: Vec<u8>,
    /// Layer index of the tensor timed on the materialiser path.
    layer: usize,
    h: usize,
}

/// A hypernet with random parameters (values do not affect the timing).
fn hypernet(arch: ArchSpec, cfg: InrConfig) -> Vec<u8> {
    OwnedHypernet::random(arch, cfg, "bench", 1).unwrap().to_bytes().unwrap()
}

fn cases() -> Vec<Case> {
    let cfg = |hidden| InrConfig { bands: 8, hidden, depth: 2, norm: 256.0 };
    vec![
        // mnist-mlp's hidden 256×256 weight: 65 536 rows of 1 value.
        Case {
            name: "mlp 256x256 dense, H48",
            cfg: cfg(48),
            bytes: hypernet(families::mnist_mlp(), cfg(48)),
            layer: 3,
            h: 256,
        },
        Case {
            name: "mlp 256x256 dense, H64",
            cfg: cfg(64),
            bytes: hypernet(families::mnist_mlp(), cfg(64)),
            layer: 3,
            h: 256,
        },
        // mnist-lenet's conv3 at width 1: 128×64 rows of a 5×5 kernel.
        Case {
            name: "lenet conv3 5x5, H48",
            cfg: cfg(48),
            bytes: hypernet(families::mnist_lenet(), cfg(48)),
            layer: 6,
            h: 32,
        },
        Case {
            name: "lenet conv3 5x5, H64",
            cfg: cfg(64),
            bytes: hypernet(families::mnist_lenet(), cfg(64)),
            layer: 6,
            h: 32,
        },
    ]
}

fn weight_of(net: &format::Hypernet<'_>, layer: usize, h: usize) -> ParamInfo {
    net.arch.params(h).find(|p| p.layer == layer && p.morph.is_some()).unwrap()
}

/// Buffers for one 128-row block of one tensor's MLP.
struct Block {
    cfg: InrConfig,
    out_size: usize,
    params: Vec<f32>,
    feats: Vec<f32>,
    out: Vec<f32>,
    scratch: Vec<f32>,
}

impl Block {
    fn new(cfg: InrConfig, out_size: usize) -> Self {
        let params: Vec<f32> = (0..cfg.param_count(out_size)).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-3).collect();
        let mut feats = vec![0.0; ROW_BLOCK * cfg.features()];
        for (r, f) in feats.chunks_exact_mut(cfg.features()).enumerate() {
            let x = [0.5, r as f32 / ROW_BLOCK as f32, 0.25, 0.5, 1.0, 1.0];
            fourier(&x, cfg.bands as usize, f);
        }
        Block {
            cfg,
            out_size,
            params,
            feats,
            out: vec![0.0; ROW_BLOCK * out_size],
            scratch: vec![0.0; Mlp::scratch_len(&cfg, ROW_BLOCK)],
        }
    }

    fn forward(&mut self) {
        let mlp = Mlp::new(self.cfg, self.out_size, &self.params).unwrap();
        mlp.forward(&self.feats, ROW_BLOCK, &mut self.out, &mut self.scratch).unwrap();
    }

    /// FLOPs of one block's MLP: two per multiply-accumulate of its GEMMs.
    fn flops(cfg: &InrConfig, out_size: usize) -> f64 {
        cfg.gemms(out_size, ROW_BLOCK).map(|(r, i, o)| 2.0 * (r * i * o) as f64).sum()
    }
}

/// The same chain of matrix shapes as [`Block::forward`], as bare [`linear`] calls.
struct Gemm {
    shapes: Vec<(usize, usize, usize)>,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl Gemm {
    fn new(cfg: &InrConfig, out_size: usize) -> Self {
        let shapes: Vec<_> = cfg.gemms(out_size, ROW_BLOCK).collect();
        let big = |f: fn(&(usize, usize, usize)) -> usize| shapes.iter().map(f).max().unwrap_or(0);
        let (a, b, c) = (big(|s| s.0 * s.1), big(|s| s.1 * s.2), big(|s| s.0 * s.2));
        Gemm { shapes, a: vec![0.01; a], b: vec![0.02; b], c: vec![0.0; c] }
    }

    fn run(&mut self) {
        for &(m, k, n) in &self.shapes {
            linear(&self.a[..m * k], &self.b[..k * n], &[], m, k, n, &mut self.c[..m * n]).unwrap();
        }
    }
}

fn bench_blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("inr_block_128_rows");
    for (hidden, out) in [(48, 1), (48, 9), (64, 1), (64, 25)] {
        let cfg = InrConfig { bands: 8, hidden, depth: 2, norm: 256.0 };
        let mut block = Block::new(cfg, out);
        g.throughput(criterion::Throughput::Elements((ROW_BLOCK * out) as u64));
        g.bench_function(format!("mlp_forward/H{hidden}_out{out}"), |b| b.iter(|| block.forward()));
        let mut gemm = Gemm::new(&cfg, out);
        g.bench_function(format!("gemm_same_shapes/H{hidden}_out{out}"), |b| b.iter(|| gemm.run()));
    }
    g.finish();
}

fn bench_materialise(c: &mut Criterion) {
    let mut g = c.benchmark_group("materialise_member");
    g.sample_size(10);
    for case in cases().iter().filter(|c| c.cfg.hidden == 48) {
        let net = format::read(&case.bytes).unwrap();
        let m = Materialiser::new(&net, case.h, 1, 0).unwrap();
        let mut out = vec![0.0; m.total_len()];
        let mut scratch = vec![0.0; m.scratch_len()];
        g.throughput(criterion::Throughput::Elements(m.total_len() as u64));
        g.bench_function(format!("{}/h{}_K1", net.arch.name, case.h), |b| {
            b.iter(|| black_box(m.all(&mut out, &mut scratch).unwrap().len()))
        });
    }
    g.finish();
}

/// Seconds of one call of `f`.
fn secs(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times the three paths in interleaved rounds (so background load hits them alike) and prints
/// the medians.
fn summary() {
    const ROUNDS: usize = 9;
    println!();
    println!(
        "INR evaluation vs bare GEMMs of the same shapes (bands 8, depth 2, {ROW_BLOCK}-row blocks, one thread, K = 1)"
    );
    println!(
        "{:<24} {:>6} {:>11} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9}",
        "tensor", "rows", "MLP w/s", "MLP GF/s", "full w/s", "full GF/s", "GEMM GF/s", "MLP/GEMM", "full/GEMM"
    );
    for case in cases() {
        let net = format::read(&case.bytes).unwrap();
        let info = weight_of(&net, case.layer, case.h);
        let morph = info.morph.unwrap();
        let (rows, out) = (morph.rows(), morph.values_per_row());
        let blocks = rows.div_ceil(ROW_BLOCK);
        let flops = Block::flops(&case.cfg, out) * rows as f64 / ROW_BLOCK as f64;
        let mut block = Block::new(case.cfg, out);
        let mut gemm = Gemm::new(&case.cfg, out);
        let m = Materialiser::new(&net, case.h, 1, 0).unwrap();
        let mut dst = vec![0.0; info.len()];
        let mut scratch = vec![0.0; m.scratch_len()];
        let (mut t_gemm, mut t_mlp, mut t_full) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            t_gemm.push(secs(|| (0..blocks).for_each(|_| gemm.run())));
            t_mlp.push(secs(|| (0..blocks).for_each(|_| block.forward())));
            t_full.push(secs(|| {
                black_box(m.tensor(&info, &mut dst, &mut scratch).unwrap());
            }));
        }
        // Whole blocks for the GEMM and MLP-alone paths; scale to the tensor's rows.
        let scale = rows as f64 / (blocks * ROW_BLOCK) as f64;
        let (t_gemm, t_mlp, t_full) = (median(t_gemm) * scale, median(t_mlp) * scale, median(t_full));
        let weights = info.len() as f64;
        println!(
            "{:<24} {:>6} {:>11.3e} {:>9.1} {:>11.3e} {:>9.1} {:>9.1} {:>8.0}% {:>8.0}%",
            case.name,
            rows,
            weights / t_mlp,
            flops / t_mlp * 1e-9,
            weights / t_full,
            flops / t_full * 1e-9,
            flops / t_gemm * 1e-9,
            100.0 * t_gemm / t_mlp,
            100.0 * t_gemm / t_full,
        );
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20)
        .without_plots()
}

criterion_group! { name = benches; config = config(); targets = bench_blocks, bench_materialise }

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
