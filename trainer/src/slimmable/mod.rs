//! A universally slimmable network (US-Nets, Yu & Huang, ICCV 2019) of a family: one full-width
//! network whose member of base width `h` is the first channels of every morphed dimension, for
//! any `h` of its range.
//!
//! Training follows US-Nets: every step runs the sandwich rule (the widest and the narrowest width
//! of the range and two random widths between them), the narrower members learn from the detached
//! soft targets of the widest one (in-place distillation), the widest from the labels, and the
//! summed loss takes one AdamW step. The learning rate follows a cosine from the preset's base rate
//! to zero. A run can checkpoint and resume bit for bit ([`checkpoint`]): every random choice of
//! step `t` derives from `(seed, t)`. Families are trained without BatchNorm: a slimmable net with
//! BatchNorm needs statistics calibrated per width, which a device without data cannot do.
//!
//! ```
//! use metamorph_trainer::{base, preset::Preset, slimmable};
//! let arch = Preset::load("digits-mlp").unwrap().arch;
//! let full = base::init_params(&arch, 32, 0, &candle_core::Device::Cpu).unwrap();
//! let half = slimmable::member(&arch, &full, 16).unwrap();
//! assert_eq!(half[0].dims(), &[16, 64]); // 64 inputs -> the first 16 of 32 channels
//! assert_eq!(half[2].dims(), &[16, 16]);
//! ```

pub mod checkpoint;
pub mod cut;

use crate::adamw::{AdamW, AdamWConfig};
use crate::base::init_params;
use crate::data::Dataset;
use crate::fit::distillation;
use crate::net::{forward, param_shape};
use anyhow::{ensure, Context, Result};
use candle_core::{Device, Tensor, Var};
use indicatif::{ProgressBar, ProgressStyle};
use metamorph::format::OwnedHypernet;
use metamorph::rng::{mix64, Rng};
use metamorph::spec::ArchSpec;
use std::path::PathBuf;
use std::time::Instant;

/// How a slimmable net is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct SlimOptions {
    /// The widths it must run at: `[h_min, h_max]` (inclusive).
    pub range: [usize; 2],
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Peak AdamW learning rate.
    pub lr: f64,
    /// Random widths per step besides the two ends.
    pub random_widths: usize,
    /// Seed of initialisation, shuffling and width draws.
    pub seed: u64,
    /// Stop after this many steps (tests).
    pub max_steps: Option<usize>,
    /// Progress bar on stderr.
    pub progress: bool,
    /// Checkpoint file: resumed from when it exists, written every `checkpoint_every` steps.
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
}

/// The member of base width `h` of the full-width parameters `full` (canonical order, shaped by
/// [`param_shape`]): every dimension cut to its first entries. Differentiable in `full`.
pub fn member(arch: &ArchSpec, full: &[Tensor], h: usize) -> Result<Vec<Tensor>> {
    arch.check_h(h).map_err(anyhow::Error::msg)?;
    let infos: Vec<_> = arch.params(h).collect();
    ensure!(infos.len() == full.len(), "{} tensors for {} parameters", full.len(), infos.len());
    infos
        .iter()
        .zip(full)
        .map(|(p, t)| {
            let want = param_shape(arch, p);
            ensure!(want.len() == t.rank(), "{} has rank {}, expected {}", p.name(), t.rank(), want.len());
            let mut out = t.clone();
            for (d, (&w, &have)) in want.iter().zip(t.dims()).enumerate() {
                ensure!(w <= have, "{} dimension {d} is {have}, narrower than {w}", p.name());
                if w < have {
                    out = out.narrow(d, 0, w)?;
                }
            }
            Ok(out)
        })
        .collect()
}

/// The loss of one sandwich step on a batch: cross-entropy of the widest member (the first of
/// `widths`) plus, for every other member, the KL divergence from the widest member's detached
/// soft targets. Returns the total and each member's part, in the order of `widths`.
pub fn sandwich_loss(
    arch: &ArchSpec,
    full: &[Tensor],
    widths: &[usize],
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Vec<Tensor>)> {
    let (&widest, rest) = widths.split_first().context("a sandwich step needs at least one width")?;
    let teacher = forward(arch, widest, &member(arch, full, widest)?, x)?;
    let mut parts = vec![candle_nn::loss::cross_entropy(&teacher, y)?];
    for &h in rest {
        let student = forward(arch, h, &member(arch, full, h)?, x)?;
        parts.push(distillation(&teacher.detach(), &student)?);
    }
    let mut total = parts[0].clone();
    for p in &parts[1..] {
        total = (total + p)?;
    }
    Ok((total, parts))
}

/// A trained slimmable net.
#[derive(Debug)]
pub struct Slimmed {
    /// Full-width parameters in canonical order.
    pub params: Vec<Tensor>,
    /// The step this run resumed from (0 for a fresh run).
    pub resumed_at: usize,
}

/// Trains a slimmable net of `arch` on `train`. With `opts.checkpoint`, resumes from that file
/// when it exists and rewrites it every `opts.checkpoint_every` steps, so that an interrupted run
/// ends in the same bytes.
pub fn train(arch: &ArchSpec, opts: &SlimOptions, train: &Dataset, device: &Device) -> Result<Slimmed> {
    let [lo, hi] = opts.range;
    ensure!(lo <= hi && hi == arch.h_max as usize, "range [{lo}, {hi}] must end at h_max = {}", arch.h_max);
    arch.check_h(lo).map_err(anyhow::Error::msg).with_context(|| format!("narrowest width {lo}"))?;
    let init = init_params(arch, hi, opts.seed, device)?;
    let config = AdamWConfig { lr: opts.lr, ..Default::default() };
    let (mut opt, mut done) = match opts.checkpoint.as_ref().filter(|p| p.exists()) {
        Some(path) => checkpoint::load(path, arch, opts, &init, config, device)?,
        None => (AdamW::new(init.iter().map(Var::from_tensor).collect::<candle_core::Result<_>>()?, config)?, 0),
    };
    let steps_per_epoch = train.n.div_ceil(opts.batch.max(1));
    let total = opts.max_steps.map_or(opts.epochs * steps_per_epoch, |m| m.min(opts.epochs * steps_per_epoch));
    let bar = if opts.progress { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template(
        "slimmable [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}",
    )?);
    bar.set_position(done as u64);
    let resumed_at = done;
    let start = Instant::now();
    'epochs: for epoch in done / steps_per_epoch..opts.epochs {
        let batches = train.batches(opts.batch, Some(opts.seed.wrapping_add(epoch as u64 + 1)));
        for (step, idx) in (epoch * steps_per_epoch..).zip(batches).skip(done - epoch * steps_per_epoch) {
            if step == total {
                break 'epochs;
            }
            opt.config.lr = opts.lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total as f64).cos());
            let (x, y) = train.batch(&idx, device)?;
            let full: Vec<Tensor> = opt.vars.iter().map(|v| v.as_tensor().clone()).collect();
            let mut rng = Rng::new(mix64(opts.seed ^ 0x51_1e ^ mix64(step as u64)));
            let widths = crate::sandwich::widths(opts.range, opts.random_widths, &mut rng);
            let (loss, parts) = sandwich_loss(arch, &full, &widths, &x, &y)?;
            let value = loss.to_scalar::<f32>()?;
            ensure!(value.is_finite(), "loss became {value} at step {step}; lower the learning rate");
            opt.step(&loss.backward()?, f64::INFINITY)?;
            done = step + 1;
            bar.set_message(format!("epoch {} ce(h={hi}) {:.3}", epoch + 1, parts[0].to_scalar::<f32>()?));
            bar.inc(1);
            if let Some(path) = opts.checkpoint.as_ref().filter(|_| done.is_multiple_of(opts.checkpoint_every.max(1))) {
                checkpoint::save(path, arch, opts, &opt, done).context("writing checkpoint")?;
            }
        }
    }
    bar.finish_and_clear();
    if opts.progress {
        let from = if resumed_at > 0 { format!(" (resumed at step {resumed_at})") } else { String::new() };
        eprintln!("slimmable {}: {done} steps{from}, {:.0} s in this run", arch.name, start.elapsed().as_secs_f64());
    }
    let params = opt.vars.iter().map(|v| Ok(v.as_tensor().copy()?)).collect::<Result<_>>()?;
    Ok(Slimmed { params, resumed_at })
}

impl SlimOptions {
    /// The defaults for `preset`: widths from 25 % of `h_max` (the report's narrowest) to `h_max`,
    /// 30 epochs at the preset's base batch and learning rate, two random widths per step, seed 0.
    pub fn from_preset(preset: &crate::preset::Preset) -> Self {
        let arch = &preset.arch;
        SlimOptions {
            range: [arch.base_width(0.25), arch.h_max as usize],
            epochs: 30,
            batch: preset.base.batch,
            lr: preset.base.lr,
            random_widths: 2,
            seed: 0,
            max_steps: None,
            progress: true,
            checkpoint: None,
            checkpoint_every: 100,
        }
    }
}

/// Trains preset `preset_name`'s slimmable net with `opts` and exports it as a hypernet file with
/// the slimmable generator (its full-width tensors stored as `dtype`), with an accuracy table
/// measured on the exported bytes; what `metamorph-train slimmable` runs. Checks that `out` and
/// the checkpoint can be written before training. Returns the table.
pub fn run(
    preset_name: &str,
    opts: &SlimOptions,
    out: &std::path::Path,
    dtype: metamorph::format::DType,
    device: &Device,
) -> Result<Vec<metamorph::format::AccuracyRow>> {
    let preset = crate::preset::Preset::load(preset_name)?;
    preset.check_width("--h-min", opts.range[0])?;
    ensure!(opts.epochs >= 1, "slimmable training needs at least 1 epoch");
    for path in std::iter::once(out).chain(opts.checkpoint.as_deref()) {
        metamorph_host::fs::check_writable(path)?;
    }
    let train_set = Dataset::load(&preset.dataset, crate::data::Split::Train)?;
    let test_set = Dataset::load(&preset.dataset, crate::data::Split::Test)?;
    let arch = &preset.arch;
    let full = train(arch, opts, &train_set, device)
        .with_context(|| format!("training the slimmable {} net", arch.name))?
        .params;
    let full = full.iter().map(|t| Ok(t.flatten_all()?.to_vec1::<f32>()?)).collect::<Result<Vec<_>>>()?;
    let mut owned = OwnedHypernet::slimmable(arch.clone(), full, &preset.dataset).map_err(anyhow::Error::msg)?;
    owned.trained_h = opts.range.map(|h| h as u16);
    crate::export::write(out, owned, dtype, &test_set, device)
}
