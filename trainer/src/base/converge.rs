//! Training until the net stops improving, judged on a validation split carved from the training
//! set (never the test set), with a checkpoint after every epoch so that a run of hours can stop
//! and resume in the same bytes.

use super::{epoch_seed, evaluate, progress_bar, BaseOptions, Session};
use crate::adamw::AdamW;
use crate::data::Dataset;
use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use metamorph::spec::ArchSpec;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// Training until the net stops improving.
#[derive(Debug, Clone, PartialEq)]
pub struct Converge {
    /// Fraction of the training set held out for validation (after a shuffle seeded by the
    /// run's seed).
    pub validation: f32,
    /// Epochs without a new best validation accuracy before the learning rate drops tenfold or,
    /// once it has dropped `decays` times, training stops.
    pub patience: usize,
    /// Tenfold learning-rate drops before stopping.
    pub decays: usize,
    /// Hard cap on epochs.
    pub max_epochs: usize,
}

impl Default for Converge {
    /// 10 % validation, patience 3, two decays, at most 60 epochs.
    fn default() -> Self {
        Converge { validation: 0.1, patience: 3, decays: 2, max_epochs: 60 }
    }
}

/// Result of [`converge`].
#[derive(Debug, Clone)]
pub struct Converged {
    /// The parameters of the epoch with the best validation accuracy (BatchNorm folded).
    pub params: Vec<Tensor>,
    /// Their validation accuracy.
    pub val_accuracy: f32,
    /// The epoch (1-based) they come from.
    pub best_epoch: usize,
    /// Epochs run in all.
    pub epochs: usize,
    /// Wall-clock seconds, over every run that resumed it.
    pub seconds: f64,
    /// Epochs done when this run started (0 unless resumed from a checkpoint).
    pub resumed_at: usize,
}

/// Where converging stands after an epoch: everything the next epoch's decision needs.
struct Progress {
    /// Epochs done.
    epochs: usize,
    /// Best validation accuracy, its epoch and its (folded) parameters.
    best: Option<(f32, usize, Vec<Tensor>)>,
    /// Epochs since the best.
    since: usize,
    /// Learning-rate drops so far.
    decays: usize,
    /// Current learning rate.
    lr: f64,
    /// Every step's training loss.
    losses: Vec<f32>,
    /// Seconds spent by earlier runs.
    seconds: f64,
}

/// Trains the member at width `opts.h` (learning rate, batch, BatchNorm and seed from `opts`;
/// `opts.epochs` is ignored) on the part of `train` that [`Dataset::split`] keeps, until
/// validation accuracy on the held-out part stops improving as `how` says, and returns the best
/// epoch's parameters. With `checkpoint`, the state after every epoch is written there and a run
/// finding the file resumes from it.
pub fn converge(
    arch: &ArchSpec,
    opts: &BaseOptions,
    how: &Converge,
    train: &Dataset,
    checkpoint: Option<&Path>,
    device: &Device,
) -> Result<Converged> {
    ensure!(how.max_epochs > 0 && how.patience > 0, "converging needs max_epochs and patience above 0");
    let start = Instant::now();
    let (fit, val) = train.split(how.validation, opts.seed)?;
    let mut session = Session::new(arch, opts, &fit, device)?;
    let mut at = match checkpoint.filter(|p| p.exists()) {
        Some(path) => load(path, &identity(arch, opts, how), &mut session, device)?,
        None => Progress { epochs: 0, best: None, since: 0, decays: 0, lr: opts.lr, losses: Vec::new(), seconds: 0.0 },
    };
    let resumed_at = at.epochs;
    session.opt.config.lr = at.lr;
    let steps_per_epoch = fit.n.div_ceil(opts.batch.max(1));
    let limit = opts.max_steps.unwrap_or(usize::MAX);
    let bar =
        progress_bar(opts.progress, how.max_epochs * steps_per_epoch, format!("converge {} h={}", arch.name, opts.h));
    bar.set_position(at.losses.len() as u64);
    while at.epochs < how.max_epochs && at.losses.len() < limit && !done(how, &at) {
        let seed = epoch_seed(opts.seed, at.epochs);
        let stats = session.epoch(&fit, opts.batch, seed, &mut at.losses, limit, &bar)?;
        at.epochs += 1;
        let params = session.folded()?;
        let acc = evaluate(arch, opts.h, &params, &val, device)?;
        if opts.progress {
            bar.suspend(|| {
                eprintln!(
                    "epoch {}: {}, validation acc {:.2}% (lr {:.1e})",
                    at.epochs,
                    stats.line(),
                    100.0 * acc,
                    at.lr
                )
            });
        }
        if at.best.as_ref().is_none_or(|(b, ..)| acc > *b) {
            at.best = Some((acc, at.epochs, params));
            at.since = 0;
        } else {
            at.since += 1;
            if at.since == how.patience && at.decays < how.decays {
                at.decays += 1;
                at.since = 0;
                at.lr *= 0.1;
                session.opt.config.lr = at.lr;
            }
        }
        if let Some(path) = checkpoint {
            let seconds = at.seconds + start.elapsed().as_secs_f64();
            save(path, &identity(arch, opts, how), &session, &at, seconds).context("writing checkpoint")?;
        }
    }
    bar.finish_and_clear();
    let (val_accuracy, best_epoch, params) = at.best.context("converging ran no epoch")?;
    let seconds = at.seconds + start.elapsed().as_secs_f64();
    Ok(Converged { params, val_accuracy, best_epoch, epochs: at.epochs, seconds, resumed_at })
}

/// Whether the last epoch ended training: `patience` epochs without a new best after the last
/// allowed learning-rate drop.
fn done(how: &Converge, at: &Progress) -> bool {
    at.since >= how.patience && at.decays == how.decays
}

/// What a resumed run must share with the one that wrote the checkpoint: everything that shapes
/// its epochs. The epoch cap is not among them (epoch `k` is the same under any cap above `k`), so
/// a run stopped by its cap continues under a higher one.
fn identity(arch: &ArchSpec, opts: &BaseOptions, how: &Converge) -> String {
    format!(
        "{}|{}|validation={}|patience={}|decays={}",
        arch.name,
        opts.shaping(),
        how.validation,
        how.patience,
        how.decays
    )
}

/// Writes the session and the progress after an epoch to `path` (atomically).
fn save(path: &Path, identity: &str, session: &Session, at: &Progress, seconds: f64) -> Result<()> {
    let cpu = Device::Cpu;
    let mut map: HashMap<String, Tensor> = HashMap::new();
    for (i, v) in session.vars.iter().enumerate() {
        map.insert(format!("param.{i}"), v.as_tensor().clone());
    }
    for (i, bn) in session.bns.iter().enumerate() {
        if let Some(bn) = bn {
            // γ and β are optimiser variables (saved with their moments' order below).
            map.insert(format!("bn.{i}.gamma"), bn.gamma.as_tensor().clone());
            map.insert(format!("bn.{i}.beta"), bn.beta.as_tensor().clone());
            map.insert(format!("bn.{i}.mean"), bn.mean.clone());
            map.insert(format!("bn.{i}.var"), bn.var.clone());
        }
    }
    session.opt.save_moments(&mut map);
    let (best_acc, best_epoch) = at.best.as_ref().map_or((f32::NAN, 0), |(acc, epoch, params)| {
        for (i, p) in params.iter().enumerate() {
            map.insert(format!("best.{i}"), p.clone());
        }
        (*acc, *epoch)
    });
    let counters = [at.epochs, session.opt.t, best_epoch, at.since, at.decays].map(|c| c as i64);
    map.insert("counters".into(), Tensor::new(&counters, &cpu)?);
    map.insert("reals".into(), Tensor::new(&[best_acc as f64, at.lr, seconds], &cpu)?);
    map.insert("losses".into(), Tensor::new(at.losses.as_slice(), &cpu)?);
    map.insert("identity".into(), Tensor::new(identity.as_bytes(), &cpu)?);
    metamorph_host::fs::write_atomic(path, |tmp| Ok(candle_core::safetensors::save(&map, tmp)?))
}

/// Restores `session` (fresh, of the same options) from the checkpoint at `path` and returns the
/// progress saved with it.
fn load(path: &Path, identity: &str, session: &mut Session, device: &Device) -> Result<Progress> {
    let what = || format!("reading checkpoint {}", path.display());
    let map = candle_core::safetensors::load(path, device).with_context(what)?;
    let get = |name: &str| -> Result<Tensor> {
        map.get(name).cloned().with_context(|| format!("checkpoint {} lacks tensor {name}", path.display()))
    };
    let like = |name: &str, fresh: &Tensor| -> Result<Tensor> {
        let t = get(name)?;
        ensure!(
            t.dims() == fresh.dims(),
            "checkpoint tensor {name} has shape {:?}, expected {:?}",
            t.dims(),
            fresh.dims()
        );
        Ok(t)
    };
    let saved = String::from_utf8(get("identity")?.to_dtype(DType::U8)?.to_vec1::<u8>()?).with_context(what)?;
    ensure!(
        saved == identity,
        "checkpoint {} belongs to another run ({saved}); this run is {identity}. Delete it or pass the same options",
        path.display()
    );
    let counters = get("counters")?.to_vec1::<i64>()?;
    let reals = get("reals")?.to_vec1::<f64>()?;
    ensure!(
        counters.len() == 5 && counters.iter().all(|&c| c >= 0) && reals.len() == 3,
        "checkpoint {} has malformed counters",
        path.display()
    );
    let [epochs, t, best_epoch, since, decays] = [0, 1, 2, 3, 4].map(|i| counters[i] as usize);
    for (i, v) in session.vars.iter_mut().enumerate() {
        *v = Var::from_tensor(&like(&format!("param.{i}"), v.as_tensor())?)?;
    }
    for (i, bn) in session.bns.iter_mut().enumerate() {
        if let Some(bn) = bn {
            bn.gamma = Var::from_tensor(&like(&format!("bn.{i}.gamma"), bn.gamma.as_tensor())?)?;
            bn.beta = Var::from_tensor(&like(&format!("bn.{i}.beta"), bn.beta.as_tensor())?)?;
            bn.mean = like(&format!("bn.{i}.mean"), &bn.mean)?;
            bn.var = like(&format!("bn.{i}.var"), &bn.var)?;
        }
    }
    let mut trainable = session.vars.clone();
    for bn in session.bns.iter().flatten() {
        trainable.extend([bn.gamma.clone(), bn.beta.clone()]);
    }
    session.opt = AdamW::resume(trainable, session.opt.config, t, &map).with_context(what)?;
    let best = if best_epoch > 0 {
        let params = (0..session.vars.len())
            .map(|i| like(&format!("best.{i}"), session.vars[i].as_tensor()))
            .collect::<Result<Vec<_>>>()?;
        Some((reals[0] as f32, best_epoch, params))
    } else {
        None
    };
    let losses = get("losses")?.to_vec1::<f32>()?;
    Ok(Progress { epochs, best, since, decays, lr: reals[1], losses, seconds: reals[2] })
}
