//! The trainer's INR (candle) and the runtime's INR (`no_std`) give the same weights for the
//! same coordinates and parameters, after a round trip through the hypernet file.

use candle_core::{Device, Tensor};
use metamorph::format::{self, DType};
use metamorph::inr::{coords, InrConfig};
use metamorph::materialise::Materialiser;
use metamorph::spec::{families, ArchSpec, Dim, Layer};
use metamorph_trainer::export;
use metamorph_trainer::inr::{Inr, Noise};

fn mlp() -> ArchSpec {
    families::mlp("mlp", [1, 8, 8], 10, 24, 2).unwrap()
}

fn convnet() -> ArchSpec {
    ArchSpec::new(
        "cnn",
        [1, 8, 8],
        6,
        1,
        &[
            Layer::Conv2d { out: Dim::Width(1), kernel: 3, stride: 1, pad: 1 },
            Layer::Relu,
            Layer::Save,
            Layer::Conv2d { out: Dim::Width(1), kernel: 3, stride: 1, pad: 1 },
            Layer::AddScaled,
            Layer::MaxPool { kernel: 2, stride: 2 },
            Layer::Conv2d { out: Dim::Width(2), kernel: 5, stride: 1, pad: 2 },
            Layer::GlobalAvgPool,
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(10) },
        ],
    )
    .unwrap()
}

/// Random INR (weights standardised or not) + random frozen tensors → (candle INR, frozen
/// tensors, file bytes).
fn setup(arch: &ArchSpec, sigma: f32, standardise: bool) -> (Inr, Vec<Tensor>, Vec<u8>) {
    let dev = Device::Cpu;
    let cfg = InrConfig { bands: 5, hidden: 24, depth: 2, norm: 32.0 };
    let mut inr = Inr::init(arch, cfg, 3, &dev).unwrap();
    if standardise {
        inr.standardise(arch, &dev).unwrap();
    }
    inr.gains = (0..inr.gains.len()).map(|i| 0.5 + i as f32).collect();
    // Seeded, so every run checks the same numbers (candle's `randn` draws from the OS).
    let mut rng = metamorph::rng::Rng::new(7);
    let frozen: Vec<Tensor> = arch
        .params(arch.h_max as usize)
        .filter(|p| p.morph.is_none())
        .map(|p| Tensor::from_vec((0..p.len()).map(|_| rng.uniform(-1.0, 1.0)).collect(), p.len(), &dev).unwrap())
        .collect();
    let owned = export::owned(arch, &inr, &frozen, "test", [arch.h_min, arch.h_max], sigma).unwrap();
    let bytes = owned.to_bytes_as(DType::F32).unwrap();
    (inr, frozen, bytes)
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-5 * scale, "{what}: max |candle - runtime| = {worst:e} vs scale {scale:e}");
}

fn flat(ts: &[Tensor]) -> Vec<f32> {
    ts.iter().flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
}

#[test]
fn noise_free_members_agree_at_every_width() {
    for (arch, standardise) in [(mlp(), false), (convnet(), false), (mlp(), true), (convnet(), true)] {
        let (inr, frozen, bytes) = setup(&arch, 1.0, standardise);
        let net = format::read(&bytes).unwrap();
        for h in [arch.h_min as usize, arch.h_max as usize / 2 + 1, arch.h_max as usize] {
            let runtime = Materialiser::new(&net, h, 1, 0).unwrap().to_vec().unwrap();
            let candle = flat(&inr.member(&arch, h, &frozen, None, &Device::Cpu).unwrap());
            assert_close(&candle, &runtime, &format!("{} h={h} standardise={standardise}", arch.name));
        }
    }
}

#[test]
fn standardisation_changes_the_weights_it_folds_into_the_file() {
    // Guards the test above: the standardised path is a different function, not a no-op.
    let arch = convnet();
    let (plain, frozen, _) = setup(&arch, 1.0, false);
    let (standardised, _, _) = setup(&arch, 1.0, true);
    let h = arch.h_max as usize;
    let a = flat(&plain.member(&arch, h, &frozen, None, &Device::Cpu).unwrap());
    let b = flat(&standardised.member(&arch, h, &frozen, None, &Device::Cpu).unwrap());
    assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3 * x.abs().max(1e-3)));
}

#[test]
fn noisy_samples_agree_with_the_runtime_k_average() {
    // Runtime K = 2 is the mean of sample 0 (no noise) and sample 1 (noise of the given seed);
    // the trainer reproduces sample 1 with the same seed.
    let arch = mlp();
    let (inr, frozen, bytes) = setup(&arch, 1.0, true);
    let net = format::read(&bytes).unwrap();
    let seed = 99;
    let h = 17;
    let runtime = Materialiser::new(&net, h, 2, seed).unwrap().to_vec().unwrap();
    let noise = Noise { seed, amplitude: coords::amplitude(1.0) };
    let clean = flat(&inr.member(&arch, h, &frozen, None, &Device::Cpu).unwrap());
    let noisy = flat(&inr.member(&arch, h, &frozen, Some(noise), &Device::Cpu).unwrap());
    let mean: Vec<f32> = clean.iter().zip(&noisy).map(|(a, b)| (a + b) * 0.5).collect();
    assert_close(&mean, &runtime, "K = 2 average");
    assert!(clean.iter().zip(&noisy).any(|(a, b)| a != b), "noise must change the weights");
}

/// A quantisation-aware INR generates from the int8 round trip of its stored parameters, so its
/// int8 file materialises, in the runtime, the very weights the trainer trained with; the same
/// INR without quantisation awareness does not (which guards this test).
#[test]
fn an_int8_aware_inr_generates_what_its_int8_file_materialises() {
    for (arch, standardise) in [(mlp(), false), (convnet(), true)] {
        let (mut inr, frozen, _) = setup(&arch, 1.0, standardise);
        let owned = export::owned(&arch, &inr, &frozen, "test", [arch.h_min, arch.h_max], 1.0).unwrap();
        let bytes = owned.to_bytes_as(DType::I8).unwrap();
        let net = format::read(&bytes).unwrap();
        let h = arch.h_max as usize - 1;
        let runtime = Materialiser::new(&net, h, 1, 0).unwrap().to_vec().unwrap();
        let plain = flat(&inr.member(&arch, h, &frozen, None, &Device::Cpu).unwrap());
        inr.int8_aware = true;
        let aware = flat(&inr.member(&arch, h, &frozen, None, &Device::Cpu).unwrap());
        assert_close(&aware, &runtime, &format!("{} int8-aware", arch.name));
        let scale = runtime.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = plain.iter().zip(&runtime).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst > 1e-3 * scale, "{}: int8 rounding must change the weights ({worst:e})", arch.name);
    }
}
