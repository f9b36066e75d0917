//! `metamorph-train fit`: base network → fold → permute → INR → hypernet file, end to end.

use super::{checkpoint, fit, FitJob, FitOptions, FitState};
use crate::base::{self, BaseOptions, Checkpoint};
use crate::data::{Dataset, Split};
use crate::export;
use crate::preset::Preset;
use anyhow::{ensure, Context, Result};
use candle_core::{Device, Tensor};
use metamorph::format::{AccuracyRow, DType};
use std::path::PathBuf;

/// Everything `fit` needs beyond the preset.
#[derive(Debug, Clone)]
pub struct FitArgs {
    /// Preset name or JSON path.
    pub preset: String,
    /// Output hypernet file.
    pub out: PathBuf,
    /// Override the preset's step count.
    pub steps: Option<usize>,
    /// Use this base checkpoint (from `metamorph-train base`) instead of training one.
    pub base: Option<PathBuf>,
    /// Also save the full-width base network (before permutation) here, for `report --base`.
    pub save_base: Option<PathBuf>,
    /// Checkpoint file (written every `checkpoint_every` steps; resumed from if it exists).
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
    /// Storage type of the INR parameters in the exported file (default: int8 for a
    /// quantisation-aware preset, f16 otherwise).
    pub dtype: Option<DType>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Where to train.
    pub device: Device,
    /// Show progress bars.
    pub progress: bool,
}

/// What a finished `fit` produced.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// Test accuracy of the base network at full width.
    pub base_accuracy: Option<f32>,
    /// The exported file's accuracy table (K = 1, full test set).
    pub table: Vec<AccuracyRow>,
    /// Bytes of the exported file.
    pub bytes: u64,
}

/// Runs `fit` as the command line describes it.
pub fn run(args: &FitArgs) -> Result<FitReport> {
    let preset = Preset::load(&args.preset)?;
    // Every file the run will write, checked before the first step of training.
    for path in std::iter::once(&args.out).chain(&args.checkpoint).chain(&args.save_base) {
        metamorph_host::fs::check_writable(path)?;
    }
    let arch = &preset.arch;
    let dev = &args.device;
    let train = Dataset::load(&preset.dataset, Split::Train)?;
    let test = Dataset::load(&preset.dataset, Split::Test)?;
    let mut opts = FitOptions::from_preset(&preset);
    opts.seed = args.seed;
    opts.progress = args.progress;
    if let Some(steps) = args.steps {
        opts.set_steps(&preset, steps);
    }
    let mut fresh = FitState::new(arch, &preset, args.seed, dev)?;
    let resume = args.checkpoint.as_ref().filter(|p| p.exists());
    let (mut state, target, base_accuracy) = match resume {
        Some(path) => {
            let (state, target) = checkpoint::load(path, fresh, dev)?;
            eprintln!("resuming {} at step {}", path.display(), state.step);
            (state, target, None)
        }
        None => {
            let (params, acc) = base_network(&preset, args, &train, &test)?;
            if let Some(path) = &args.save_base {
                let metadata = std::collections::HashMap::from([
                    ("preset".to_string(), args.preset.clone()),
                    ("seed".to_string(), args.seed.to_string()),
                    ("test_accuracy".to_string(), format!("{acc:.6}")),
                ]);
                let h = arch.h_max as usize;
                Checkpoint { arch: arch.clone(), h, params: params.clone(), metadata }.save(path)?;
            }
            let h = arch.h_max as usize;
            let (target, report) = crate::permute::permute_tensors(arch, h, &params, args.seed)
                .context("permuting the base network's channels")?;
            let (before, after) = report.tv();
            eprintln!("channel permutation: total variation {before:.2} -> {after:.2}");
            if preset.fit.reconstruct {
                fresh.inr.fit_output_layers(arch, &target, 1e-3)?;
            } else {
                let (x, _) = train.batch(&(0..256.min(train.n)).collect::<Vec<_>>(), dev)?;
                fresh.inr.match_scale(arch, &target, &x)?;
            }
            fresh.ema = fresh.inr.vars().iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
            (fresh, target, Some(acc))
        }
    };
    ensure!(target.len() == arch.params(arch.h_max as usize).count(), "target network does not match {}", arch.name);
    let save = |s: &FitState| match &args.checkpoint {
        Some(path) => checkpoint::save(path, s, &target),
        None => Ok(()),
    };
    let job = FitJob {
        arch,
        target: &target,
        train: &train,
        test: &test,
        checkpoint_every: args.checkpoint_every,
        device: dev,
    };
    let (start, first) = (std::time::Instant::now(), state.step);
    fit(&job, &opts, &mut state, save)?;
    let seconds = start.elapsed().as_secs_f64();
    let steps = state.step - first;
    eprintln!("INR fitting: {steps} steps in {seconds:.0} s ({:.2} steps/s)", steps as f64 / seconds.max(1e-9));
    let inr = state.ema_inr()?;
    let frozen = crate::inr::frozen_of(arch, &target);
    let owned = export::owned(arch, &inr, &frozen, &preset.dataset, preset.train_h, opts.sigma)?;
    let dtype = args.dtype.unwrap_or(if preset.fit.int8_aware { DType::I8 } else { DType::F16 });
    let table = export::write(&args.out, owned, dtype, &test, dev)?;
    let bytes = std::fs::metadata(&args.out)?.len();
    Ok(FitReport { base_accuracy, table, bytes })
}

/// The full-width base network: loaded from `args.base`, or trained with the preset's settings.
fn base_network(preset: &Preset, args: &FitArgs, train: &Dataset, test: &Dataset) -> Result<(Vec<Tensor>, f32)> {
    let arch = &preset.arch;
    let h = arch.h_max as usize;
    match &args.base {
        Some(path) => {
            let ckpt = Checkpoint::load(path, &args.device)?;
            ensure!(ckpt.arch == *arch && ckpt.h == h, "{} is not a full-width {} network", path.display(), arch.name);
            let acc = base::evaluate(arch, h, &ckpt.params, test, &args.device)?;
            Ok((ckpt.params, acc))
        }
        None => {
            let mut opts = BaseOptions::from_preset(preset, None);
            opts.seed = args.seed;
            opts.progress = args.progress;
            let trained = base::train(arch, &opts, train, test, &args.device)?;
            eprintln!("base network (h = {h}): test accuracy {:.2}%", trained.test_accuracy * 100.0);
            Ok((trained.params, trained.test_accuracy))
        }
    }
}
