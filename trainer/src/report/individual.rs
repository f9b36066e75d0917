//! The report's individually trained nets: converged ([`base::converge`], early stopping on a
//! validation split of the training set) or trained for a fixed number of epochs, and cached on
//! disk so that rerunning a report does not retrain them.
//!
//! A cached net is a [`Checkpoint`] named `<family>-h<h>-<key>.safetensors`, where the key is a
//! hash of everything that determines it (so presets that share a family and a base recipe share
//! their nets): the family, the data set and its size, the width, the
//! base recipe (batch, learning rate, BatchNorm, seed, step cap) and the [`Recipe`]. Change any of
//! them and the net is trained anew.

use crate::base::{self, BaseOptions, Checkpoint, Converge};
use crate::data::Dataset;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use metamorph::spec::ArchSpec;
use std::collections::HashMap;
use std::path::Path;

/// How the individually trained nets are trained.
#[derive(Debug, Clone, PartialEq)]
pub enum Recipe {
    /// Until validation accuracy stops improving.
    Converge(Converge),
    /// A fixed number of epochs on the whole training set (quick checks, older reports).
    Epochs(usize),
}

impl Recipe {
    /// The recipe in words, for the report.
    pub fn describe(&self) -> String {
        match self {
            Recipe::Converge(c) => format!(
                "trained to convergence: AdamW at the preset's learning rate, {:.0} % of the training set held \
                 out for validation, the learning rate cut tenfold after {} epochs without a new best (at most {} \
                 times, then stop), at most {} epochs, the best validation epoch kept",
                100.0 * c.validation,
                c.patience,
                c.decays,
                c.max_epochs
            ),
            Recipe::Epochs(n) => format!("the preset's base recipe for {}", super::table::epochs(*n)),
        }
    }
}

/// One individually trained net.
#[derive(Debug, Clone)]
pub struct Individual {
    /// Parameters in canonical order (BatchNorm folded).
    pub params: Vec<Tensor>,
    /// Epochs trained, and the epoch kept (the best on validation, or the last).
    pub epochs: [usize; 2],
    /// Seconds it took to train (when it was trained, not when it was read from the cache).
    pub seconds: f64,
    /// Whether it came from the cache.
    pub cached: bool,
}

/// The net of base width `opts.h` trained by `recipe`: read from `cache` when a net with the same
/// key is there, else trained on `train` and written there. Converging checkpoints every epoch
/// next to it (`.partial`), so a sweep cut short resumes that net where it stopped.
pub fn get(
    cache: Option<&Path>,
    arch: &ArchSpec,
    opts: &BaseOptions,
    recipe: &Recipe,
    train: &Dataset,
    device: &Device,
) -> Result<Individual> {
    let path = cache
        .map(|dir| dir.join(format!("{}-h{}-{:016x}.safetensors", arch.name, opts.h, key(arch, opts, recipe, train))));
    if let Some(path) = path.as_ref().filter(|p| p.exists()) {
        let ckpt = Checkpoint::load(path, device)?;
        let number = |k: &str| -> Result<f64> {
            ckpt.metadata.get(k).with_context(|| format!("{}: no {k}", path.display()))?.parse().context(k.to_string())
        };
        let epochs = [number("epochs")? as usize, number("kept_epoch")? as usize];
        return Ok(Individual { params: ckpt.params, epochs, seconds: number("seconds")?, cached: true });
    }
    if let Some(dir) = path.as_ref().and_then(|p| p.parent()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the cache folder {}", dir.display()))?;
    }
    let partial = path.as_ref().map(|p| p.with_extension("partial"));
    let (params, epochs, seconds) = match recipe {
        Recipe::Converge(how) => {
            let c = base::converge(arch, opts, how, train, partial.as_deref(), device)?;
            (c.params, [c.epochs, c.best_epoch], c.seconds)
        }
        Recipe::Epochs(n) => {
            let opts = BaseOptions { epochs: *n, ..opts.clone() };
            // The test set is not at hand: the per-epoch progress line shows a training sample.
            let t = base::train(arch, &opts, train, &train.take(1000), device)?;
            (t.params, [*n, *n], t.seconds)
        }
    };
    if let Some(path) = &path {
        let metadata = HashMap::from([
            ("epochs".to_string(), epochs[0].to_string()),
            ("kept_epoch".to_string(), epochs[1].to_string()),
            ("seconds".to_string(), format!("{seconds:.3}")),
            ("recipe".to_string(), format!("{recipe:?}")),
        ]);
        Checkpoint { arch: arch.clone(), h: opts.h, params: params.clone(), metadata }.save(path)?;
        if let Some(partial) = partial.filter(|p| p.exists()) {
            std::fs::remove_file(&partial).with_context(|| format!("removing {}", partial.display()))?;
        }
    }
    Ok(Individual { params, epochs, seconds, cached: false })
}

/// FNV-1a of everything that determines the trained net.
fn key(arch: &ArchSpec, opts: &BaseOptions, recipe: &Recipe, train: &Dataset) -> u64 {
    let text = format!(
        "{}|{}|{:?}|{}|{}|{recipe:?}",
        serde_json::to_string(arch).unwrap_or_default(),
        train.n,
        train.shape,
        train.labels.iter().map(|&l| l as u64).sum::<u64>(),
        opts.shaping(),
    );
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}
