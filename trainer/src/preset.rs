//! Presets: a family, its data set, INR size and training hyperparameters, read from `models/<name>.json`.

use anyhow::{Context, Result};
use metamorph::inr::InrConfig;
use metamorph::spec::ArchSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// The repository root (where `models/` and `data/` live), from this crate's location.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("trainer/ has a parent").to_path_buf()
}

impl Preset {
    /// Loads `models/<name>.json`, or a path to a JSON file if `name` contains a `/` or ends in `.json`.
    pub fn load(name: &str) -> Result<Self> {
        let path = if name.contains('/') || name.ends_with(".json") {
            PathBuf::from(name)
        } else {
            repo_root().join("models").join(format!("{name}.json"))
        };
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading preset {}", path.display()))?;
        let preset: Preset =
            serde_json::from_str(&text).with_context(|| format!("parsing preset {}", path.display()))?;
        preset.arch.validate().map_err(anyhow::Error::msg).with_context(|| format!("preset {}", path.display()))?;
        preset.inr.validate().map_err(anyhow::Error::msg).with_context(|| format!("preset {}", path.display()))?;
        Ok(preset)
    }
}
