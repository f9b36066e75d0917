//! A stored core with an INR extension (issue 13, the lever lever 7 points to).
//!
//! Lever 7 found that a compact INR cannot reach the network it generates even at one width, so
//! this stops asking it to generate the part that matters most. The core, the slimmable net's
//! member at width `K` cut to int8 (`metamorph-train cut`), is stored exactly and frozen; at a
//! width `h > K` its channels are the member's first `K`, and every other weight (the channels
//! from `K` up, and the blocks that connect them to the core's) comes from an INR queried at width
//! `h` as the fit does. At `h = K` the member is the core itself. The question is whether the
//! INR's bytes buy more accuracy above `K` than the same bytes spent on more stored channels,
//! which is what the slimmable net cut to the same total bytes does.
//!
//! Training starts in one of two ways. With `WARMUP = 0` the INR starts at a tenth of the core's
//! weight scale, so every member starts near the core. With `WARMUP > 0` it starts at the ridge
//! fit of its read-outs to the slimmable net's full width (as `fit` starts from the base network)
//! and spends that fraction of the steps reconstructing the slimmable net's weights outside the
//! core at full width. Then each step trains the full width and one random width in `(K, h_max]`
//! (with the fit's coordinate noise) on cross-entropy plus distillation from the slimmable net's
//! full width, quantisation-aware (the INR's int8 file is what trained). AdamW at peak rate `LR`,
//! cosine to 5 %. Every 500 steps a line gives the test accuracy on 2,000 images and the fraction
//! of the extension's hidden units that are active at full width, since an extension whose units
//! all switch off leaves every member equal to the core.
//!
//! At the end both sides are measured on their bytes over the full test set: the INR's int8 file
//! materialised by the runtime and overlaid on the core, and the slimmable file's widest int8 cut
//! within the hybrid's bytes (core file + INR file, so a header and the frozen tensors are counted
//! twice, against the hybrid).
//!
//! `cargo run --release -p metamorph-trainer --example inr_extension -- PRESET SLIM K STEPS [LR [WARMUP]]`
//! with `PRESET` a preset of the slimmable net's family (its INR size, σ and batch are used) and
//! `SLIM` its slimmable file. `scripts/experiments.sh extension` runs it on mnist-mlp.

use anyhow::{bail, ensure, Context, Result};
use candle_core::{Device, Tensor};
use candle_nn::loss::cross_entropy;
use metamorph::format::{self, DType};
use metamorph::inr::coords;
use metamorph::rng::Rng;
use metamorph::spec::{ArchSpec, Layer, ParamInfo};
use metamorph_trainer::adamw::{AdamW, AdamWConfig};
use metamorph_trainer::base::evaluate;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::export::{owned, runtime_member, unmeasured_table};
use metamorph_trainer::fit::{distillation, reconstruction, resampled_targets};
use metamorph_trainer::inr::{Inr, Noise};
use metamorph_trainer::net::{forward, forward_with};
use metamorph_trainer::preset::Preset;
use metamorph_trainer::slimmable::cut::cut_as_written;

/// Element-wise gradient clip, as the fit's.
const CLIP: f64 = 10.0;
/// The INR's generated weights start at this fraction of the core's RMS, tensor by tensor.
const START_SCALE: f64 = 0.1;
/// Width fractions measured at the end: the report's sweep.
const WIDTHS: [f32; 7] = [1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25];

/// `generated` (a tensor at width `h`) with its leading block replaced by `core` (the same tensor
/// at width `K`): the dimensions whose sizes differ are the width's, and at most two do (rows and
/// columns of a weight).
fn overlay(core: &Tensor, generated: &Tensor) -> Result<Tensor> {
    let (c, g) = (core.dims(), generated.dims());
    let grown: Vec<usize> = (0..g.len()).filter(|&d| c[d] != g[d]).collect();
    Ok(match grown[..] {
        [] => core.clone(),
        [d] => Tensor::cat(&[core, &generated.narrow(d, c[d], g[d] - c[d])?], d)?,
        [d0, d1] => {
            let top = generated.narrow(d0, 0, c[d0])?.narrow(d1, c[d1], g[d1] - c[d1])?;
            let top = Tensor::cat(&[core, &top], d1)?;
            Tensor::cat(&[&top, &generated.narrow(d0, c[d0], g[d0] - c[d0])?], d0)?
        }
        _ => bail!("a tensor grows along {} dimensions", grown.len()),
    })
}

/// The member at width `h > K`: each morphed tensor `generated` (by its index and parameter) with
/// the core's tensor overlaid, each frozen one the core's.
fn on_core(
    arch: &ArchSpec,
    h: usize,
    k: usize,
    core: &[Tensor],
    generated: impl Fn(usize, &ParamInfo) -> Result<Tensor>,
) -> Result<Vec<Tensor>> {
    arch.params(h)
        .zip(arch.params(k).zip(core))
        .enumerate()
        .map(|(i, (p, (_, c)))| match p.morph {
            Some(_) => overlay(c, &generated(i, &p)?),
            None => Ok(c.clone()),
        })
        .collect()
}

/// Root mean square of a tensor's values.
fn rms(t: &Tensor) -> Result<f64> {
    Ok(t.sqr()?.mean_all()?.sqrt()?.to_scalar::<f32>()? as f64)
}

fn main() -> Result<()> {
    metamorph_trainer::malloc::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    ensure!((4..=6).contains(&args.len()), "usage: inr_extension PRESET SLIM K STEPS [LR [WARMUP]]");
    let preset = Preset::load(&args[0])?;
    let slim = std::fs::read(&args[1]).with_context(|| format!("reading {}", args[1]))?;
    let k: usize = args[2].parse().context("K must be a width")?;
    let steps: usize = args[3].parse().context("STEPS must be a count")?;
    let peak: f64 = args.get(4).map_or(Ok(1e-3), |a| a.parse()).context("LR must be a number")?;
    let warmup: f64 = args.get(5).map_or(Ok(0.0), |a| a.parse()).context("WARMUP must be a fraction")?;
    ensure!((0.0..1.0).contains(&warmup), "WARMUP must be in [0, 1), got {warmup}");
    let (arch, dev) = (&preset.arch, Device::Cpu);
    let net = format::read(&slim).map_err(anyhow::Error::msg).with_context(|| format!("decoding {}", args[1]))?;
    ensure!(net.kind() == "slimmable" && net.arch == *arch, "{} is not a slimmable {} net", args[1], arch.name);
    let h_max = arch.h_max as usize;
    ensure!(k < h_max, "K = {k} leaves nothing for the INR (h_max = {h_max})");

    let core_file = cut_as_written(&slim, k, DType::I8)?;
    let core = runtime_member(&core_file, k, 1, &dev)?;
    let teacher = runtime_member(&slim, h_max, 1, &dev)?;
    // Frozen tensors do not depend on the width: the core's (int8) serve every member.
    let frozen: Vec<Tensor> =
        arch.params(k).zip(&core).filter(|(p, _)| p.morph.is_none()).map(|(_, t)| t.clone()).collect();

    // The reconstruction targets: the slimmable net's full width, morphed tensors, with their
    // squared norms. Overlaid on the core, the generated tensor differs from them only outside it.
    let targets = resampled_targets(arch, &teacher, h_max)?;
    let warmup_steps = (warmup * steps as f64) as usize;

    let mut inr = Inr::init(arch, preset.inr, 0, &dev)?;
    inr.int8_aware = true;
    if warmup > 0.0 {
        let morphed: Vec<Tensor> = targets.iter().map(|(t, _)| t.clone()).collect();
        inr.fit_output_layers(arch, &morphed, 1e-3)?;
    } else {
        for (p, c) in arch.params(h_max).zip(arch.params(k).zip(&core)).filter(|(p, _)| p.morph.is_some()) {
            let (_, core_t) = c;
            let generated = inr.generate(arch, &p, None, &dev)?;
            let index = p.morph.expect("filtered").index;
            inr.gains[index] *= (START_SCALE * rms(core_t)? / rms(&generated)?.max(1e-12)) as f32;
        }
    }
    let member = |inr: &Inr, h: usize, noise: Option<Noise>| -> Result<Vec<Tensor>> {
        if h == k {
            return Ok(core.clone());
        }
        on_core(arch, h, k, &core, |_, p| Ok(inr.generate(arch, p, noise, &dev)?))
    };

    let train = Dataset::load(&preset.dataset, Split::Train)?;
    let test = Dataset::load(&preset.dataset, Split::Test)?;
    let mut opt = AdamW::new(inr.vars(), AdamWConfig::default())?;
    let mut rng = Rng::new(0);
    let amplitude = coords::amplitude(preset.fit.sigma);
    let start = std::time::Instant::now();
    let mut last_active = String::from("not measured");
    for step in 0..steps {
        let ramp = ((step + 1) as f64 / 50.0).min(1.0);
        let t = step as f64 / steps as f64;
        opt.config.lr = ramp * peak * (0.05 + 0.475 * (1.0 + (std::f64::consts::PI * t).cos()));
        let images: Vec<usize> = (0..preset.fit.batch).map(|_| rng.below(train.n)).collect();
        let (x, y) = train.batch(&images, &dev)?;
        let loss = if step < warmup_steps {
            let full = member(&inr, h_max, None)?;
            let generated = arch.params(h_max).zip(&full).filter(|(p, _)| p.morph.is_some()).map(|(_, t)| t);
            reconstruction(generated.zip(&targets), &dev)?
        } else {
            let soft = forward(arch, h_max, &teacher, &x)?;
            let random = k + 1 + rng.below(h_max - k);
            let noise = Noise { seed: rng.next_u64(), amplitude };
            let mut loss = Tensor::new(0f32, &dev)?;
            for (h, noise) in [(h_max, None), (random, Some(noise))] {
                let logits = forward(arch, h, &member(&inr, h, noise)?, &x)?;
                loss = (loss + cross_entropy(&logits, &y)? + distillation(&soft, &logits)?)?;
            }
            loss
        };
        let value = loss.to_scalar::<f32>()?;
        ensure!(value.is_finite(), "loss became {value} at step {step}");
        opt.step(&loss.backward()?, CLIP)?;
        if (step + 1) % 500 == 0 {
            let subset = test.take(2000);
            let line: Vec<String> = [h_max, h_max / 2, (k + h_max / 2) / 2]
                .iter()
                .map(|&h| {
                    Ok(format!("h={h}: {:.2}%", 100.0 * evaluate(arch, h, &member(&inr, h, None)?, &subset, &dev)?))
                })
                .collect::<Result<_>>()?;
            // The share of the extension's hidden units (channels from K up) that are positive after
            // each ReLU at full width, on this batch.
            let mut active = Vec::new();
            forward_with(arch, h_max, &member(&inr, h_max, None)?, &x, &mut |_, layer, y| {
                if matches!(layer, Layer::Relu) {
                    let extension = y.narrow(1, k, h_max - k)?;
                    active.push(format!(
                        "{:.1}%",
                        100.0
                            * extension.gt(0f32)?.to_dtype(candle_core::DType::F32)?.mean_all()?.to_scalar::<f32>()?
                    ));
                }
                Ok(y)
            })?;
            last_active = active.join(" / ");
            eprintln!(
                "step {}: loss {value:.4}, test (2,000 images) {}, extension units active {last_active}",
                step + 1,
                line.join("  ")
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    // Both sides on their bytes: the INR's int8 file through the runtime, overlaid on the core.
    let mut inr_net = owned(arch, &inr, &frozen, &preset.dataset, [k as u16 + 1, arch.h_max], preset.fit.sigma)?;
    inr_net.accuracy = unmeasured_table(arch);
    let inr_file = inr_net.to_bytes_as(DType::I8).map_err(anyhow::Error::msg)?;
    let bytes = (core_file.len() + inr_file.len()) as u64;
    let widths: Vec<usize> = WIDTHS.iter().map(|&w| arch.base_width(w)).collect();
    let mut hybrid = Vec::new();
    for &h in &widths {
        // At or below K a device runs the core's own member (a slimmable prefix).
        let params = if h <= k {
            runtime_member(&core_file, h, 1, &dev)?
        } else {
            let generated = runtime_member(&inr_file, h, 1, &dev)?;
            on_core(arch, h, k, &core, |i, _| Ok(generated[i].clone()))?
        };
        hybrid.push(evaluate(arch, h, &params, &test, &dev)? * 100.0);
    }
    let cut = metamorph_trainer::report::slim_cut::measure(&slim, bytes, arch, &widths, &test, &dev)?
        .context("not even the slimmable net's narrowest member fits the hybrid's bytes")?;
    let cells = |accs: &[f32]| accs.iter().map(|a| format!("{a:.2}")).collect::<Vec<_>>().join(" / ");
    let cut_accs: Vec<f32> = cut.accuracy.iter().map(|a| a * 100.0).collect();
    let wins = hybrid.iter().zip(&cut_accs).filter(|(h, c)| h >= c).count();
    let cfg = preset.inr;
    println!(
        "| {k} | hidden {}, depth {}, {} bands | {peak:.0e} | {warmup} | {steps} | {} + {} = {bytes} | {last_active} | {} | {} ({}) | {} | {wins} of {} | {seconds:.0} |",
        cfg.hidden,
        cfg.depth,
        cfg.bands,
        core_file.len(),
        inr_file.len(),
        cells(&hybrid),
        cut.h,
        cut.bytes,
        cells(&cut_accs),
        widths.len(),
    );
    Ok(())
}
