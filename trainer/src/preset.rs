//! Presets: a family, its data set, INR size and training hyperparameters, read from `models/<name>.json`.

use anyhow::{ensure, Context, Result};
use metamorph::inr::InrConfig;
use metamorph::spec::ArchSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Most random widths a sandwich step may add to its widest and narrowest member.
pub const MAX_SANDWICH: usize = 8;

/// Hyperparameters of base (ordinary) training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Insert BatchNorm after every convolution during base training (folded away afterwards).
    #[serde(default)]
    pub bn: bool,
}

/// Hyperparameters of INR fitting.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Peak AdamW learning rate.
    pub lr: f64,
    /// Coordinate noise width σ.
    pub sigma: f32,
    /// Evaluate every this many steps.
    pub eval_every: usize,
    /// Fraction of the steps spent on reconstruction-only warm-up at full width.
    #[serde(default = "default_warmup")]
    pub warmup: f32,
    /// Learning rate after the warm-up, as a fraction of `lr`.
    #[serde(default = "default_finetune_lr")]
    pub finetune_lr: f64,
    /// Start from the ridge read-out fitted to the base network and keep the reconstruction
    /// term (the default). `false`: a random read-out scaled to the base network's weights and no
    /// reconstruction, for tensors the INR cannot reproduce (5×5 kernels): fitting them drives
    /// their weights towards zero, where consecutive layers stall each other's gradients.
    #[serde(default = "default_true")]
    pub reconstruct: bool,
    /// Keep the reconstruction term on the full-width steps after the warm-up (the default).
    /// `false`: after the warm-up the full-width member learns from the data alone, so it is no
    /// longer held to the base network's exact weights.
    #[serde(default = "default_true")]
    pub reconstruct_after_warmup: bool,
    /// Start the classification phase as a fresh run: AdamW's moments zeroed and the rate ramped
    /// up again. Without it the phase inherits second moments sized to the reconstruction's
    /// gradients, and the first cross-entropy steps are far larger than the rate says.
    #[serde(default)]
    pub restart_at_switch: bool,
    /// Standardise each generated tensor by its read-out's mean and standard deviation over the
    /// full-width grid, then scale it by a fixed gain (all folded into the file on export). Without
    /// it, an optimiser step on the shared MLP shifts every value of a tensor together, by far more
    /// than the values differ. The price: each tensor's scale stays at its initial value and every
    /// bias vector has zero mean.
    #[serde(default)]
    pub standardise: bool,
    /// Weight of distillation from the full-width base network: `KL(teacher ‖ member)` on the
    /// step's images, added to the cross-entropy at every width.
    #[serde(default)]
    pub distill: f64,
    /// Sandwich rule: random widths per step besides the widest and the narrowest trained width,
    /// all members' losses summed before one optimiser step (0: one width per step).
    #[serde(default)]
    pub sandwich: usize,
    /// With the sandwich rule, weight of in-place distillation of the narrower members from the
    /// widest member's detached logits.
    #[serde(default)]
    pub self_distill: f64,
    /// Quantisation-aware fitting: the INR generates from the int8 round trip of its stored
    /// parameters (straight-through gradients), so the int8 file is what was trained. `fit`
    /// then exports int8 unless `--dtype` says otherwise.
    #[serde(default)]
    pub int8_aware: bool,
}

fn default_true() -> bool {
    true
}

fn default_finetune_lr() -> f64 {
    0.03
}

fn default_warmup() -> f32 {
    0.1
}

/// A training preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// What this preset is for (free text; experiment presets say what they change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The network family.
    pub arch: ArchSpec,
    /// Data set name: `mnist`, `fashion-mnist` or `digits`.
    pub dataset: String,
    /// INR size.
    pub inr: InrConfig,
    /// Base widths sampled during INR training (inclusive).
    pub train_h: [u16; 2],
    /// Base training.
    pub base: BaseConfig,
    /// INR fitting.
    pub fit: FitConfig,
}

impl Preset {
    /// Loads `models/<name>.json`, or a path to a JSON file if `name` contains a `/` or ends in `.json`.
    pub fn load(name: &str) -> Result<Self> {
        let path = if name.contains('/') || name.ends_with(".json") {
            PathBuf::from(name)
        } else {
            metamorph_host::fs::repo_root().join("models").join(format!("{name}.json"))
        };
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading preset {}", path.display()))?;
        let preset: Preset =
            serde_json::from_str(&text).with_context(|| format!("parsing preset {}", path.display()))?;
        preset.arch.validate().map_err(anyhow::Error::msg).with_context(|| format!("preset {}", path.display()))?;
        preset.inr.validate().map_err(anyhow::Error::msg).with_context(|| format!("preset {}", path.display()))?;
        preset.check_numbers().with_context(|| format!("preset {}", path.display()))?;
        Ok(preset)
    }

    /// Checks the hyperparameters a run would otherwise trip over only after training started
    /// (or never: zero epochs wrote an untrained file): counts at least 1, rates finite and
    /// positive, fractions in range, and a training range inside the family's widths.
    pub fn check_numbers(&self) -> Result<()> {
        let (b, f) = (&self.base, &self.fit);
        ensure!(b.epochs >= 1 && b.batch >= 1, "base epochs and batch must be at least 1");
        ensure!(f.steps >= 1 && f.batch >= 1, "fit steps and batch must be at least 1");
        for (name, v) in [("base lr", b.lr), ("fit lr", f.lr), ("fit finetune_lr", f.finetune_lr)] {
            ensure!(v.is_finite() && v > 0.0, "{name} must be a positive number, got {v}");
        }
        ensure!(f.sigma.is_finite() && f.sigma >= 0.0, "fit sigma must be a number >= 0, got {}", f.sigma);
        ensure!((0.0..=1.0).contains(&f.warmup), "fit warmup is a fraction in [0, 1], got {}", f.warmup);
        ensure!(f.distill.is_finite() && f.distill >= 0.0, "fit distill must be a number >= 0, got {}", f.distill);
        ensure!(
            f.self_distill.is_finite() && f.self_distill >= 0.0,
            "fit self_distill must be a number >= 0, got {}",
            f.self_distill
        );
        // Each sandwich member is a whole generated network per step; beyond a handful the step
        // costs more than it can teach.
        ensure!(f.sandwich <= MAX_SANDWICH, "fit sandwich is at most {MAX_SANDWICH} random widths, got {}", f.sandwich);
        let [lo, hi] = self.train_h;
        ensure!(
            self.arch.h_min <= lo && lo <= hi && hi <= self.arch.h_max,
            "train_h [{lo}, {hi}] must lie within {}'s widths {}..={}",
            self.arch.name,
            self.arch.h_min,
            self.arch.h_max
        );
        Ok(())
    }

    /// Checks that `h` is a width of this preset's family, naming the flag and the valid range.
    pub fn check_width(&self, flag: &str, h: usize) -> Result<()> {
        let a = &self.arch;
        ensure!(
            a.check_h(h).is_ok(),
            "{flag} {h} is not a width of {}: valid widths are {}..={}",
            a.name,
            a.h_min,
            a.h_max
        );
        Ok(())
    }
}
