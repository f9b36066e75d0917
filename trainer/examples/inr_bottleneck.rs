//! Which morphed tensor's INR holds the full-width member back (issue 13, lever 6's open suspect).
//!
//! Every recipe change tried on mnist-mlp ends near the same full-width accuracy, below the base
//! network the INR is fitted to. This separates the INR's parametrisation from everything else: it
//! trains one width only (the full width, so no sharing between widths), with some morphed tensors
//! taken out of the INR and trained as free tensors instead (started at the permuted base
//! network's values). If freeing one tensor closes the gap and freeing the others does not, that
//! tensor's INR is the bottleneck.
//!
//! The schedule is the fit's own, at one width: the INR starts from the ridge fit of its read-outs,
//! reconstructs the base network for `WARMUP` steps at the preset's learning rate, then every
//! tensor (INR and free) trains on cross-entropy for `STEPS` steps at the fit's classification rate
//! (the preset's `lr · finetune_lr`, cosine-decayed to 5 %), batch as in the preset. Prints the
//! full-test-set accuracy at the end.
//!
//! `cargo run --release -p metamorph-trainer --example inr_bottleneck -- PRESET BASE FREE STEPS WARMUP [LR]`
//! with `BASE` a full-width base network (`fit --save-base`), `FREE` a comma-separated list of
//! morphed tensors (`layer1.weight`, …), `none` or `all`, and `LR` the classification phase's peak
//! rate (default the fit's). `scripts/experiments.sh bottleneck` runs it on mnist-mlp.

use anyhow::{ensure, Context, Result};
use candle_core::{Device, Tensor, Var};
use candle_nn::loss::cross_entropy;
use metamorph::rng::Rng;
use metamorph_trainer::adamw::{AdamW, AdamWConfig};
use metamorph_trainer::base::{evaluate, Checkpoint};
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::fit::{reconstruction, resampled_targets};
use metamorph_trainer::inr::Inr;
use metamorph_trainer::net::forward;
use metamorph_trainer::preset::Preset;

/// Element-wise gradient clip, as the fit's.
const CLIP: f64 = 10.0;

fn main() -> Result<()> {
    metamorph_trainer::malloc::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    ensure!((5..=6).contains(&args.len()), "usage: inr_bottleneck PRESET BASE FREE STEPS WARMUP [LR]");
    let preset = Preset::load(&args[0])?;
    let steps: usize = args[3].parse().context("STEPS must be a count")?;
    let warmup: usize = args[4].parse().context("WARMUP must be a count")?;
    let peak: f64 = match args.get(5) {
        Some(a) => a.parse().context("LR must be a number")?,
        None => preset.fit.lr * preset.fit.finetune_lr,
    };
    let (arch, dev) = (&preset.arch, Device::Cpu);
    let h = arch.h_max as usize;
    let base = Checkpoint::load(args[1].as_ref(), &dev)?;
    ensure!(base.arch == *arch && base.h == h, "{} is not a full-width {} network", args[1], arch.name);
    let (target, _) = metamorph_trainer::permute::permute_tensors(arch, h, &base.params, 0)?;
    let morphed: Vec<String> = arch.params(h).filter(|p| p.morph.is_some()).map(|p| p.name().to_string()).collect();
    let free: Vec<String> = match args[2].as_str() {
        "none" => Vec::new(),
        "all" => morphed.clone(),
        list => list.split(',').map(str::to_string).collect(),
    };
    for name in &free {
        ensure!(morphed.contains(name), "{name} is not a morphed tensor of {} ({})", arch.name, morphed.join(", "));
    }

    let mut inr = Inr::init(arch, preset.inr, 0, &dev)?;
    inr.int8_aware = preset.fit.int8_aware;
    inr.fit_output_layers(arch, &target, 1e-3)?;
    // Free tensors, by position in the member's parameter list.
    let free_vars: Vec<Option<Var>> = arch
        .params(h)
        .zip(&target)
        .map(|(p, t)| free.contains(&p.name().to_string()).then(|| Var::from_tensor(t)).transpose())
        .collect::<candle_core::Result<_>>()?;
    let member = |inr: &Inr| -> Result<Vec<Tensor>> {
        arch.params(h)
            .zip(&target)
            .zip(&free_vars)
            .map(|((p, t), v)| match (v, p.morph) {
                (Some(v), _) => Ok(v.as_tensor().clone()),
                (None, Some(_)) => Ok(inr.generate(arch, &p, None, &dev)?),
                (None, None) => Ok(t.clone()),
            })
            .collect()
    };

    let train = Dataset::load(&preset.dataset, Split::Train)?;
    let test = Dataset::load(&preset.dataset, Split::Test)?;
    let mut inr_opt = AdamW::new(inr.vars(), AdamWConfig::default())?;
    let mut free_opt = AdamW::new(free_vars.iter().flatten().cloned().collect(), AdamWConfig::default())?;
    let targets = resampled_targets(arch, &target, h)?;
    let mut rng = Rng::new(0);
    let start = std::time::Instant::now();
    for step in 0..warmup + steps {
        // The fit's ramp over the first steps of the run.
        let ramp = ((step + 1) as f64 / 50.0).min(1.0);
        let params = member(&inr)?;
        let loss = if step < warmup {
            inr_opt.config.lr = preset.fit.lr * ramp;
            // Only the tensors the INR generates; the targets list every morphed tensor in order.
            let generated = arch.params(h).zip(&params).zip(&free_vars).filter(|((p, _), _)| p.morph.is_some());
            let pairs = generated.zip(&targets).filter(|(((_, _), v), _)| v.is_none()).map(|(((_, w), _), t)| (w, t));
            reconstruction(pairs, &dev)?
        } else {
            let t = (step - warmup) as f64 / steps as f64;
            let lr = ramp * peak * (0.05 + 0.475 * (1.0 + (std::f64::consts::PI * t).cos()));
            (inr_opt.config.lr, free_opt.config.lr) = (lr, lr);
            let images: Vec<usize> = (0..preset.fit.batch).map(|_| rng.below(train.n)).collect();
            let (x, y) = train.batch(&images, &dev)?;
            cross_entropy(&forward(arch, h, &params, &x)?, &y)?
        };
        let value = loss.to_scalar::<f32>()?;
        ensure!(value.is_finite(), "loss became {value} at step {step}");
        let grads = loss.backward()?;
        inr_opt.step(&grads, CLIP)?;
        if step >= warmup {
            free_opt.step(&grads, CLIP)?;
        }
        if (step + 1) % 500 == 0 {
            let acc = evaluate(arch, h, &member(&inr)?, &test.take(2000), &dev)?;
            eprintln!("step {}: loss {value:.4}, test (2,000 images) {:.2}%", step + 1, acc * 100.0);
        }
    }
    let acc = evaluate(arch, h, &member(&inr)?, &test, &dev)?;
    let free_label = if free.is_empty() { "none".to_string() } else { free.join(", ") };
    println!(
        "| {free_label} | {peak:.2e} | {:.2} | {:.2} | {:.0} |",
        evaluate(arch, h, &target, &test, &dev)? * 100.0,
        acc * 100.0,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
