//! INR fitting (NeuMeta §3): learn one hypernet whose every width classifies well.
//!
//! Each step generates one or more *members* (widths) from the INR (with coordinate noise on
//! partial widths) and minimises the sum of their losses `CE + δ · KL + 1e-4 Σ‖W‖₂ + λ · R`,
//! where `KL` distils the full-width base network into the member (δ = 0 unless the preset asks)
//! and `R` is the relative squared error against the permuted base network, applied at full width
//! (after the warm-up only if the preset keeps it, `reconstruct_after_warmup`).
//! A reconstruction-only warm-up starts the INR near the base network. AdamW with element-wise
//! gradient clipping, cosine schedule, and an EMA of the parameters used for evaluation and export.
//!
//! Which members a step trains ([`plan_step`]):
//! - by default one width drawn from the training range, full width every `full_every`-th step;
//! - with the *sandwich rule* (US-Nets, `sandwich > 0`, [`crate::sandwich`]): the widest and the
//!   narrowest trained width and `sandwich` random widths every step, their losses summed before
//!   one optimiser step, and the narrower members distilled (`self_distill`) from the widest
//!   member's detached logits.
//!
//! Every random choice of step `t` derives from `(seed, t)` alone, so a run resumed from a
//! checkpoint continues exactly as the uninterrupted run would.

pub mod checkpoint;
pub mod command;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var, D};
use candle_nn::loss::cross_entropy;
use candle_nn::ops::log_softmax;
use indicatif::{ProgressBar, ProgressStyle};
use metamorph::inr::coords;
use metamorph::rng::mix64;
use metamorph::spec::ArchSpec;

use crate::adamw::{AdamW, AdamWConfig};
use crate::data::Dataset;
use crate::inr::{Inr, Noise};
use crate::preset::Preset;
use metamorph::rng::Rng;

/// Everything that shapes a fitting run.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Optimiser steps in total.
    pub steps: usize,
    /// Reconstruction-only warm-up steps (part of `steps`).
    pub warmup: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Peak learning rate (reconstruction warm-up).
    pub lr: f64,
    /// Learning rate of the classification phase, as a fraction of `lr`.
    pub finetune_lr: f64,
    /// Coordinate noise width σ.
    pub sigma: f32,
    /// Base widths sampled (inclusive).
    pub train_h: [u16; 2],
    /// Every this many steps is a noise-free full-width step with the reconstruction term.
    pub full_every: usize,
    /// Weight λ of the reconstruction term (0: none).
    pub recon_weight: f64,
    /// Keep the reconstruction term after the warm-up.
    pub recon_after_warmup: bool,
    /// Zero the optimiser's moments and ramp the rate up again when the warm-up ends.
    pub restart_at_switch: bool,
    /// Weight δ of distillation from the full-width base network (0: none).
    pub distill: f64,
    /// Random widths per step besides the widest and the narrowest trained width (0: one width per
    /// step, no sandwich).
    pub sandwich: usize,
    /// Weight of in-place distillation: each narrower sandwich member learns the widest member's
    /// detached soft targets.
    pub self_distill: f64,
    /// Weight of the norm term `Σ‖W‖₂`.
    pub norm_weight: f64,
    /// EMA decay of the evaluation parameters.
    pub ema: f64,
    /// Element-wise gradient clip.
    pub clip: f64,
    /// Evaluate every this many steps (0: never).
    pub eval_every: usize,
    /// Test images used by periodic evaluations.
    pub eval_limit: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Show a progress bar.
    pub progress: bool,
}

impl FitOptions {
    /// Defaults from a preset: its step budget, batch, lr, σ and training range.
    pub fn from_preset(p: &Preset) -> Self {
        let mut opts = FitOptions {
            steps: 0,
            warmup: 0,
            batch: p.fit.batch,
            lr: p.fit.lr,
            finetune_lr: p.fit.finetune_lr,
            sigma: p.fit.sigma,
            train_h: p.train_h,
            full_every: 4,
            recon_weight: if p.fit.reconstruct { 1.0 } else { 0.0 },
            recon_after_warmup: p.fit.reconstruct_after_warmup,
            restart_at_switch: p.fit.restart_at_switch,
            distill: p.fit.distill,
            sandwich: p.fit.sandwich,
            self_distill: p.fit.self_distill,
            norm_weight: 1e-4,
            ema: 0.995,
            clip: 10.0,
            eval_every: p.fit.eval_every,
            eval_limit: 2000,
            seed: 0,
            progress: true,
        };
        opts.set_steps(p, p.fit.steps);
        opts
    }

    /// Sets the step budget, with the preset's share of reconstruction warm-up (none when the
    /// preset does not reconstruct).
    pub fn set_steps(&mut self, p: &Preset, steps: usize) {
        self.steps = steps;
        self.warmup = if p.fit.reconstruct { (steps as f32 * p.fit.warmup) as usize } else { 0 };
    }
}

/// The complete training state: what a checkpoint holds.
pub struct FitState {
    /// Steps completed.
    pub step: usize,
    /// The INR being trained.
    pub inr: Inr,
    /// EMA of the INR parameters (same order as `inr.vars()`).
    pub ema: Vec<Tensor>,
    /// Optimiser with its moments.
    pub opt: AdamW,
}

impl FitState {
    /// A fresh state: INR initialised from `seed`.
    pub fn new(arch: &ArchSpec, preset: &Preset, seed: u64, device: &Device) -> Result<Self> {
        let mut inr = Inr::init(arch, preset.inr, seed, device)?;
        if preset.fit.standardise {
            inr.standardise(arch, device)?;
        }
        inr.int8_aware = preset.fit.int8_aware;
        let ema = inr.vars().iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        let opt = AdamW::new(inr.vars(), AdamWConfig::default())?;
        Ok(FitState { step: 0, inr, ema, opt })
    }

    /// One optimiser step on `loss` (all members' gradients, accumulated by one backward pass),
    /// then the EMA update.
    pub fn descend(&mut self, loss: &Tensor, opts: &FitOptions) -> Result<()> {
        let grads = loss.backward()?;
        self.opt.step(&grads, opts.clip)?;
        for (e, v) in self.ema.iter_mut().zip(self.inr.vars()) {
            // Detached: built from the variable, the average would otherwise chain to every
            // earlier one and keep them all alive.
            *e = ((&*e * opts.ema)? + (v.as_tensor() * (1.0 - opts.ema))?)?.detach();
        }
        self.step += 1;
        Ok(())
    }

    /// The EMA parameters as an INR (for evaluation and export).
    pub fn ema_inr(&self) -> Result<Inr> {
        let mut mlps = Vec::new();
        let mut it = self.ema.iter();
        for (o, vars) in &self.inr.mlps {
            let v = vars
                .iter()
                .map(|_| Var::from_tensor(it.next().expect("ema matches vars")))
                .collect::<candle_core::Result<_>>()?;
            mlps.push((*o, v));
        }
        Ok(Inr {
            cfg: self.inr.cfg,
            gains: self.inr.gains.clone(),
            mlps,
            reference: self.inr.reference.clone(),
            int8_aware: self.inr.int8_aware,
        })
    }
}

/// One network a step generates and trains.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// Base width.
    pub h: usize,
    /// Coordinate noise (none at full width).
    pub noise: Option<Noise>,
    /// Add the reconstruction term for this member.
    pub recon: bool,
}

/// What one step trains, all derived from `(seed, step)`.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// The members whose losses are summed; with the sandwich rule the first is the widest.
    pub members: Vec<Member>,
    /// Training images of the classification loss (empty during the warm-up).
    pub images: Vec<usize>,
}

/// The members and images of `step`. The single-width schedule draws from the generator in the
/// order it always has, so earlier runs stay reproducible.
pub fn plan_step(opts: &FitOptions, arch: &ArchSpec, train_n: usize, step: usize) -> StepPlan {
    let mut rng = Rng::new(mix64(opts.seed ^ mix64(step as u64)));
    let h_max = arch.h_max as usize;
    let warm = step < opts.warmup;
    let full = warm || step.is_multiple_of(opts.full_every);
    let recon = full && opts.recon_weight > 0.0 && (warm || opts.recon_after_warmup);
    let [lo, hi] = opts.train_h;
    let random_width = |rng: &mut Rng| lo as usize + rng.below((hi - lo) as usize + 1);
    let noisy = |rng: &mut Rng| Some(Noise { seed: rng.next_u64(), amplitude: coords::amplitude(opts.sigma) });
    let members = if opts.sandwich > 0 && !warm {
        let widths = crate::sandwich::widths([lo as usize, hi as usize], opts.sandwich, &mut rng);
        let leader = Member { h: widths[0], noise: None, recon };
        let rest = widths[1..].iter().map(|&h| Member { h, noise: noisy(&mut rng), recon: false });
        std::iter::once(leader).chain(rest).collect()
    } else {
        let h = if full && !(warm && step % 2 == 1) { h_max } else { random_width(&mut rng) };
        let noise = if full { None } else { noisy(&mut rng) };
        vec![Member { h, noise, recon }]
    };
    let images = if warm { Vec::new() } else { (0..opts.batch).map(|_| rng.below(train_n)).collect() };
    StepPlan { members, images }
}

/// The rate of `step`.
pub fn learning_rate(opts: &FitOptions, step: usize) -> f64 {
    // Reconstruction warm-up at the peak rate, then the classification phase at a tenth of it,
    // cosine-decayed: partial-width cross-entropy gradients are large and consistent, and at the
    // warm-up rate they undo the reconstruction within a hundred steps.
    // The run starts with a linear ramp over its first steps; with `restart_at_switch` the
    // classification phase starts with one too.
    let warm = 50.min(opts.steps / 10).max(1);
    let ramp = |start: usize| ((step - start + 1) as f64 / warm as f64).min(1.0);
    if step < opts.warmup {
        return opts.lr * ramp(0);
    }
    let start = if opts.restart_at_switch { opts.warmup } else { 0 };
    let t = (step - opts.warmup) as f64 / (opts.steps - opts.warmup).max(1) as f64;
    ramp(start) * opts.lr * opts.finetune_lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

/// What a fit runs on: the family, the target network, the data and the device, and how often
/// it checkpoints.
#[derive(Clone, Copy)]
pub struct FitJob<'a> {
    /// The family.
    pub arch: &'a ArchSpec,
    /// The permuted base network at full width (canonical order); its frozen tensors are used as
    /// they are.
    pub target: &'a [Tensor],
    /// Training images.
    pub train: &'a Dataset,
    /// Images the progress line evaluates on.
    pub test: &'a Dataset,
    /// Steps between checkpoints (0: never).
    pub checkpoint_every: usize,
    /// Where the INR trains.
    pub device: &'a Device,
}

/// Trains `state` up to `opts.steps` (continuing from `state.step`), calling `on_checkpoint`
/// every `job.checkpoint_every` steps.
pub fn fit(
    job: &FitJob<'_>,
    opts: &FitOptions,
    state: &mut FitState,
    mut on_checkpoint: impl FnMut(&FitState) -> Result<()>,
) -> Result<()> {
    let FitJob { arch, target, train, test, checkpoint_every, device } = *job;
    let frozen = crate::inr::frozen_of(arch, target);
    let mut targets = ReconTargets::default();
    let bar = progress(opts, state.step);
    while state.step < opts.steps {
        let step = state.step;
        let plan = plan_step(opts, arch, train.n, step);
        if opts.restart_at_switch && step == opts.warmup && step > 0 {
            state.opt.restart()?;
        }
        state.opt.config.lr = learning_rate(opts, step);
        let StepLoss { loss, members } = step_loss(job, opts, &state.inr, &frozen, &plan, &mut targets)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            let widths: Vec<usize> = plan.members.iter().map(|m| m.h).collect();
            anyhow::bail!("loss became {value} at step {step} (h = {widths:?}); lower the learning rate");
        }
        state.descend(&loss, opts)?;
        if let Some(bar) = &bar {
            let first = &members[0];
            bar.set_message(format!("h {:>3}  ce {:.3}  recon {:.4}", plan.members[0].h, first.ce, first.recon));
            bar.inc(1);
        }
        if opts.eval_every > 0 && state.step.is_multiple_of(opts.eval_every) {
            let line = evaluate_widths(
                arch,
                &state.ema_inr()?,
                &frozen,
                test,
                opts.eval_limit,
                &crate::export::TABLE_WIDTHS,
                device,
            )?
            .iter()
            .map(|(h, a)| format!("h={h}: {:.2}%", a * 100.0))
            .collect::<Vec<_>>()
            .join("  ");
            let msg = format!("step {}: test {line}", state.step);
            match &bar {
                Some(bar) if !bar.is_hidden() => bar.println(msg),
                _ => eprintln!("{msg}"),
            }
        }
        if checkpoint_every > 0 && state.step.is_multiple_of(checkpoint_every) {
            on_checkpoint(state).context("writing checkpoint")?;
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(())
}

/// One member's loss terms (NaN where a term is not part of the step).
#[derive(Debug, Clone, Copy)]
pub struct MemberLoss {
    /// Cross-entropy on the step's images.
    pub ce: f32,
    /// Relative reconstruction error.
    pub recon: f32,
    /// The member's whole weighted loss.
    pub total: f32,
}

/// A step's loss to differentiate, and each member's part of it.
pub struct StepLoss {
    /// Sum of the members' losses.
    pub loss: Tensor,
    /// Per member, in plan order.
    pub members: Vec<MemberLoss>,
}

/// Resampled reconstruction targets, built once per width.
#[derive(Default)]
pub struct ReconTargets(std::collections::HashMap<usize, Vec<(Tensor, f64)>>);

/// The loss of one step: every member of `plan` generated from `inr` and its terms summed, so one
/// backward pass accumulates all members' gradients.
pub fn step_loss(
    job: &FitJob<'_>,
    opts: &FitOptions,
    inr: &Inr,
    frozen: &[Tensor],
    plan: &StepPlan,
    targets: &mut ReconTargets,
) -> Result<StepLoss> {
    let FitJob { arch, target, train, device, .. } = *job;
    let batch = if plan.images.is_empty() { None } else { Some(train.batch(&plan.images, device)?) };
    let teacher = match &batch {
        Some((x, _)) if opts.distill > 0.0 => Some(crate::net::forward(arch, arch.h_max as usize, target, x)?),
        _ => None,
    };
    let mut loss = Tensor::new(0f32, device)?;
    let mut members = Vec::with_capacity(plan.members.len());
    // Logits of the widest member, the soft targets of the others (sandwich rule).
    let mut leader: Option<Tensor> = None;
    for (k, m) in plan.members.iter().enumerate() {
        let params = inr.member(arch, m.h, frozen, m.noise, device)?;
        let morphed: Vec<&Tensor> =
            arch.params(m.h).zip(&params).filter(|(p, _)| p.morph.is_some()).map(|(_, t)| t).collect();
        let mut own = Tensor::new(0f32, device)?;
        let mut shown = MemberLoss { ce: f32::NAN, recon: f32::NAN, total: f32::NAN };
        if m.recon {
            if let std::collections::hash_map::Entry::Vacant(e) = targets.0.entry(m.h) {
                e.insert(resampled_targets(arch, target, m.h)?);
            }
            let recon = reconstruction(morphed.iter().copied().zip(&targets.0[&m.h]), device)?;
            shown.recon = recon.to_scalar::<f32>()?;
            own = (own + (recon * opts.recon_weight)?)?;
        }
        if let Some((x, y)) = &batch {
            let logits = crate::net::forward(arch, m.h, &params, x)?;
            let ce = cross_entropy(&logits, y)?;
            shown.ce = ce.to_scalar::<f32>()?;
            own = (own + ce)?;
            if let Some(teacher) = &teacher {
                own = (own + (distillation(teacher, &logits)? * opts.distill)?)?;
            }
            match &leader {
                Some(leader) if opts.self_distill > 0.0 => {
                    own = (own + (distillation(leader, &logits)? * opts.self_distill)?)?;
                }
                None if opts.sandwich > 0 && k == 0 => leader = Some(logits.detach()),
                _ => {}
            }
            let mut norm = Tensor::new(0f32, device)?;
            for w in &morphed {
                norm = (norm + w.sqr()?.sum_all()?.sqrt()?)?;
            }
            own = (own + (norm * opts.norm_weight)?)?;
        }
        shown.total = own.to_scalar::<f32>()?;
        members.push(shown);
        loss = (loss + own)?;
    }
    Ok(StepLoss { loss, members })
}

/// The reconstruction term: over `pairs` of a generated tensor and its target with the target's
/// squared norm ([`resampled_targets`]), the mean squared error relative to that norm.
pub fn reconstruction<'a>(
    pairs: impl Iterator<Item = (&'a Tensor, &'a (Tensor, f64))>,
    device: &Device,
) -> Result<Tensor> {
    let (mut sum, mut n) = (Tensor::new(0f32, device)?, 0usize);
    for (w, (t, norm)) in pairs {
        sum = (sum + ((w - t)?.sqr()?.sum_all()? / *norm)?)?;
        n += 1;
    }
    Ok((sum / n.max(1) as f64)?)
}

/// `KL(softmax(teacher) ‖ softmax(student))`, averaged over the batch.
pub fn distillation(teacher: &Tensor, student: &Tensor) -> Result<Tensor> {
    let log_t = log_softmax(&teacher.detach(), D::Minus1)?;
    let log_s = log_softmax(student, D::Minus1)?;
    let per_example = (log_t.exp()? * (&log_t - log_s)?)?.sum(D::Minus1)?;
    Ok(per_example.mean_all()?)
}

/// Reconstruction targets at base width `h`: the full-width network resampled at the same
/// relative coordinates (`i · C_full / C_h`, nearest below) and rescaled by the fan-in ratio, which
/// is the width-invariant reading of the weights the INR is meant to learn. At `h_max` this is the
/// network itself. Returns each morphed tensor with its squared norm.
pub fn resampled_targets(arch: &ArchSpec, full: &[Tensor], h: usize) -> Result<Vec<(Tensor, f64)>> {
    let full_infos: Vec<_> = arch.params(arch.h_max as usize).collect();
    let mut out = Vec::new();
    for (k, (p, f)) in arch.params(h).zip(&full_infos).enumerate() {
        let (Some(m), Some(mf)) = (p.morph, f.morph) else { continue };
        let t = &full[k];
        let pick = |n: usize, nf: usize| -> Vec<u32> { (0..n).map(|i| (i * nf / n) as u32).collect() };
        let dev = t.device();
        let rows = Tensor::new(pick(m.c_out, mf.c_out).as_slice(), dev)?;
        let mut r = t.index_select(&rows, 0)?;
        if p.kind == metamorph::spec::ParamKind::Weight && m.query == metamorph::spec::Query::Pair {
            let cols = Tensor::new(pick(m.c_in, mf.c_in).as_slice(), dev)?;
            r = (r.index_select(&cols, 1)? * (mf.c_in as f64 / m.c_in as f64))?;
        }
        let norm = r.sqr()?.sum_all()?.to_scalar::<f32>()?.max(1e-12) as f64;
        out.push((r, norm));
    }
    Ok(out)
}

fn progress(opts: &FitOptions, start: usize) -> Option<ProgressBar> {
    opts.progress.then(|| {
        let bar = ProgressBar::new(opts.steps as u64).with_position(start as u64);
        bar.set_style(
            ProgressStyle::with_template("fit {bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}")
                .expect("valid template"),
        );
        bar
    })
}

/// Test accuracy of the INR's noise-free member at each width fraction, on up to `limit` images.
pub fn evaluate_widths(
    arch: &ArchSpec,
    inr: &Inr,
    frozen: &[Tensor],
    test: &Dataset,
    limit: usize,
    widths: &[f32],
    device: &Device,
) -> Result<Vec<(usize, f32)>> {
    let subset = test.take(limit);
    widths
        .iter()
        .map(|&w| {
            let h = arch.base_width(w);
            let params = inr.member(arch, h, frozen, None, device)?;
            Ok((h, crate::base::evaluate(arch, h, &params, &subset, device)?))
        })
        .collect()
}
