//! What per-width normalisation could buy a generator, measured with data (issue 13, lever 4).
//!
//! US-Nets recompute BatchNorm statistics for every width; a device cannot, since it has no data.
//! Before building a data-free form, this bounds what the idea is worth on a given file: at each
//! width it measures, on training images, every morphed layer's per-channel mean and standard
//! deviation before the ReLU, and maps them onto those of a reference width's corresponding
//! channel, layer by layer in order, as a recalibrated BatchNorm would. Channel `c` of width `h`
//! corresponds, in an INR file, to the reference channel at the same relative coordinate
//! (`round(c · h_ref / h)`), and in a slimmable file to channel `c` itself. Test accuracy is then
//! read plain, with one scale per layer (the layer's RMS matched), and with every channel's mean
//! and deviation matched. No gain means the accuracy lost at a width is not a drift of these
//! statistics, and no normalisation, with data or without, recovers it.
//!
//! `cargo run --release -p metamorph-trainer --example width_statistics -- PRESET FILE [REF [IMAGES]]`
//! with `REF` the reference width fraction (default 1) and `IMAGES` the training images measured
//! (default 2000). `scripts/experiments.sh statistics` runs it on the shipped files.

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor, D};
use metamorph::format::{self, Generator};
use metamorph::spec::{ArchSpec, Dim, Layer};
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::export::runtime_member;
use metamorph_trainer::net::forward_with;
use metamorph_trainer::preset::Preset;
use metamorph_trainer::report::REPORT_WIDTHS;

/// Per-channel mean and standard deviation of one layer's output.
struct Stats {
    mean: Vec<f32>,
    std: Vec<f32>,
}

/// How a width's layer outputs are corrected towards the full-width statistics.
#[derive(Clone, Copy)]
enum Correction {
    Plain,
    PerLayer,
    PerChannel,
}

/// A per-channel affine map `y ↦ scale · y + shift` on one layer's output.
struct Affine {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

fn main() -> Result<()> {
    metamorph_trainer::malloc::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    ensure!(args.len() >= 2, "usage: width_statistics PRESET FILE [REF [IMAGES]]");
    let preset = Preset::load(&args[0])?;
    let bytes = std::fs::read(&args[1]).with_context(|| format!("reading {}", args[1]))?;
    let reference_width: f32 = args.get(2).map_or(Ok(1.0), |a| a.parse()).context("REF must be a width fraction")?;
    let images: usize = args.get(3).map_or(Ok(2000), |a| a.parse()).context("IMAGES must be a count")?;
    let nested = match format::read(&bytes).map_err(anyhow::Error::msg)?.generator {
        Generator::Inr { .. } => false,
        Generator::Slimmable { .. } => true,
    };
    let (arch, dev) = (&preset.arch, Device::Cpu);
    let calibration = Dataset::load(&preset.dataset, Split::Train)?.take(images);
    let test = Dataset::load(&preset.dataset, Split::Test)?;
    let (x, _) = calibration.batch(&(0..calibration.n).collect::<Vec<_>>(), &dev)?;
    let morphed: Vec<usize> = arch
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, Layer::Dense { out: Dim::Width(_) } | Layer::Conv2d { out: Dim::Width(_), .. }))
        .map(|(i, _)| i)
        .collect();
    let h_ref = arch.base_width(reference_width);
    let params = runtime_member(&bytes, h_ref, 1, &dev)?;
    let reference = calibrate(arch, h_ref, &params, &x, &morphed, &[], Correction::Plain, nested)?.1;
    println!("Reference width h = {h_ref}; {} training images measured.\n", calibration.n);
    println!("| width | h | plain | one scale per layer | per-channel mean and deviation |");
    println!("|---:|---:|---:|---:|---:|");
    for w in REPORT_WIDTHS {
        let h = arch.base_width(w);
        let params = runtime_member(&bytes, h, 1, &dev)?;
        let mut cells = Vec::new();
        for how in [Correction::Plain, Correction::PerLayer, Correction::PerChannel] {
            let (maps, _) = calibrate(arch, h, &params, &x, &morphed, &reference, how, nested)?;
            cells.push(format!("{:.2}", 100.0 * accuracy(arch, h, &params, &test, &dev, &morphed, &maps)?));
        }
        println!("| {:.1} % | {h} | {} |", 100.0 * w, cells.join(" | "));
    }
    Ok(())
}

/// Layer by layer, in order, each measured with the ones before it already corrected (as a
/// recalibrated BatchNorm would be): every morphed layer's statistics at width `h` on `x`, and
/// the map `how` that takes them to `reference` (none when `reference` is empty). `nested`:
/// channels correspond by index (a slimmable file), else by relative coordinate (an INR file).
#[allow(clippy::too_many_arguments)]
fn calibrate(
    arch: &ArchSpec,
    h: usize,
    params: &[Tensor],
    x: &Tensor,
    morphed: &[usize],
    reference: &[Stats],
    how: Correction,
    nested: bool,
) -> Result<(Vec<Affine>, Vec<Stats>)> {
    let (mut maps, mut all) = (Vec::new(), Vec::new());
    for (k, &target) in morphed.iter().enumerate() {
        let mut own = None;
        forward_with(arch, h, params, x, &mut |layer, _, y| {
            if layer == target {
                own = Some(channel_stats(&y)?);
            }
            correct(layer, y, morphed, &maps)
        })?;
        let own = own.context("the layer was not reached")?;
        if let Some(r) = reference.get(k) {
            maps.push(affine(&own, r, how, nested));
        }
        all.push(own);
    }
    Ok((maps, all))
}

/// The map taking statistics `own` towards `reference`; see [`calibrate`] for `nested`.
fn affine(own: &Stats, reference: &Stats, how: Correction, nested: bool) -> Affine {
    let (c, c_ref) = (own.mean.len(), reference.mean.len());
    let partner = |i: usize| match nested {
        true => i.min(c_ref - 1),
        false => ((i as f32 * c_ref as f32 / c as f32).round() as usize).min(c_ref - 1),
    };
    let rms =
        |s: &Stats| (s.mean.iter().zip(&s.std).map(|(m, d)| m * m + d * d).sum::<f32>() / s.mean.len() as f32).sqrt();
    match how {
        Correction::Plain => Affine { scale: vec![1.0; c], shift: vec![0.0; c] },
        Correction::PerLayer => Affine { scale: vec![rms(reference) / rms(own).max(1e-12); c], shift: vec![0.0; c] },
        Correction::PerChannel => {
            let scale: Vec<f32> = (0..c).map(|i| reference.std[partner(i)] / own.std[i].max(1e-12)).collect();
            let shift = (0..c).map(|i| reference.mean[partner(i)] - scale[i] * own.mean[i]).collect();
            Affine { scale, shift }
        }
    }
}

/// `y`, the output of layer `layer`, with its map applied if it is the `k`-th morphed layer and
/// a map for it exists.
fn correct(layer: usize, y: Tensor, morphed: &[usize], maps: &[Affine]) -> candle_core::Result<Tensor> {
    let Some(map) = morphed.iter().position(|&m| m == layer).and_then(|k| maps.get(k)) else {
        return Ok(y);
    };
    let mut shape = vec![1; y.rank()];
    shape[1] = map.scale.len();
    let scale = Tensor::from_slice(&map.scale, shape.as_slice(), y.device())?;
    let shift = Tensor::from_slice(&map.shift, shape.as_slice(), y.device())?;
    y.broadcast_mul(&scale)?.broadcast_add(&shift)
}

/// Test accuracy at width `h` with `maps` applied to the morphed layers.
fn accuracy(
    arch: &ArchSpec,
    h: usize,
    params: &[Tensor],
    test: &Dataset,
    dev: &Device,
    morphed: &[usize],
    maps: &[Affine],
) -> Result<f32> {
    let mut correct_count = 0.0;
    for idx in test.batches(1000, None) {
        let (x, y) = test.batch(&idx, dev)?;
        let logits = forward_with(arch, h, params, &x, &mut |layer, _, out| correct(layer, out, morphed, maps))?;
        correct_count += logits.argmax(D::Minus1)?.eq(&y)?.to_dtype(DType::F32)?.sum_all()?.to_scalar::<f32>()?;
    }
    Ok(correct_count / test.n as f32)
}

/// Mean and standard deviation of every channel (axis 1) of `y`, `[N, C]` or `[N, C, H, W]`.
fn channel_stats(y: &Tensor) -> candle_core::Result<Stats> {
    let c = y.dim(1)?;
    let per_channel = y.transpose(0, 1)?.contiguous()?.reshape((c, ()))?;
    let mean = per_channel.mean(D::Minus1)?;
    let std = per_channel.broadcast_sub(&mean.unsqueeze(1)?)?.sqr()?.mean(D::Minus1)?.sqrt()?;
    Ok(Stats { mean: mean.to_vec1()?, std: std.to_vec1()? })
}
