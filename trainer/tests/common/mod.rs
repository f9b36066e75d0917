//! Small families and random parameters shared by the trainer's tests.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use metamorph::rng::Rng;
use metamorph::spec::{ArchSpec, Dim, Layer};
use metamorph_trainer::net::param_shape;

/// Conv → pool → conv → Flatten (4×4 spatial per channel) → Dense, on 8×8 digits.
pub fn conv_net() -> ArchSpec {
    ArchSpec::new(
        "test-conv",
        [1, 8, 8],
        32,
        2,
        &[
            Layer::Conv2d { out: Dim::Width(1), kernel: 3, stride: 1, pad: 1 },
            Layer::Relu,
            Layer::MaxPool { kernel: 2, stride: 2 },
            Layer::Conv2d { out: Dim::Width(2), kernel: 3, stride: 1, pad: 1 },
            Layer::Relu,
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(10) },
        ],
    )
    .unwrap()
}

/// A residual block tying two convolutions' channels: one group spanning both.
pub fn residual_net() -> ArchSpec {
    ArchSpec::new(
        "test-res",
        [1, 8, 8],
        32,
        2,
        &[
            Layer::Conv2d { out: Dim::Width(1), kernel: 3, stride: 1, pad: 1 },
            Layer::Relu,
            Layer::Save,
            Layer::Conv2d { out: Dim::Width(1), kernel: 3, stride: 1, pad: 1 },
            Layer::Relu,
            Layer::AddScaled,
            Layer::AvgPool { kernel: 2, stride: 2 },
            Layer::Conv2d { out: Dim::Width(2), kernel: 3, stride: 1, pad: 1 },
            Layer::Relu,
            Layer::GlobalAvgPool,
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(10) },
        ],
    )
    .unwrap()
}

/// Random parameters in `U(-0.5, 0.5)` (scales included, so residual branches count).
pub fn random_params(arch: &ArchSpec, h: usize, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    arch.params(h)
        .map(|p| {
            let v: Vec<f32> = (0..p.len()).map(|_| rng.uniform(-0.5, 0.5)).collect();
            Tensor::from_vec(v, param_shape(arch, &p), &Device::Cpu).unwrap()
        })
        .collect()
}

/// Random inputs `[n, C, H, W]` in `[0, 1)`.
pub fn random_input(arch: &ArchSpec, n: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let [c, h, w] = arch.input.map(|v| v as usize);
    let v: Vec<f32> = (0..n * c * h * w).map(|_| rng.next_f32()).collect();
    Tensor::from_vec(v, (n, c, h, w), &Device::Cpu).unwrap()
}

/// Largest absolute difference of two tensors.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}
