//! Base training: one family member at one width, trained from scratch with AdamW.
//!
//! The same code gives the network the INR is fitted to (at full width) and the
//! "individually trained" baseline at every other width. Optional BatchNorm after every
//! convolution is trained here and folded away before anything is saved or evaluated.
//!
//! ```
//! use metamorph_trainer::{base, data::{Dataset, Split}, preset::Preset};
//! let preset = Preset::load("digits-mlp").unwrap();
//! let params = base::init_params(&preset.arch, 4, 0, &candle_core::Device::Cpu).unwrap();
//! let test = Dataset::load("digits", Split::Test).unwrap();
//! let acc = base::evaluate(&preset.arch, 4, &params, &test, &candle_core::Device::Cpu).unwrap();
//! assert!((0.0..=1.0).contains(&acc));
//! ```

mod converge;

pub use converge::{converge, Converge, Converged};

use crate::adamw::{AdamW, AdamWConfig};
use crate::bn::BatchNorm;
use crate::data::{Dataset, Split};
use crate::fold::fold_all;
use crate::net::{forward, forward_with, param_shape};
use crate::preset::Preset;
use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use indicatif::{ProgressBar, ProgressStyle};
use metamorph::rng::Rng;
use metamorph::spec::{ArchSpec, Layer, ParamKind};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// Settings of one base-training run.
#[derive(Debug, Clone)]
pub struct BaseOptions {
    /// Base width `h` of the member to train.
    pub h: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// Insert BatchNorm after every convolution (folded away at the end).
    pub bn: bool,
    /// Stop after this many optimiser steps (for tests and quick checks).
    pub max_steps: Option<usize>,
    /// Show progress bars on stderr.
    pub progress: bool,
}

impl BaseOptions {
    /// The preset's base-training settings at width `h` (default: the family's `h_max`), seed 0.
    pub fn from_preset(preset: &Preset, h: Option<usize>) -> Self {
        BaseOptions {
            h: h.unwrap_or(preset.arch.h_max as usize),
            epochs: preset.base.epochs,
            batch: preset.base.batch,
            lr: preset.base.lr,
            seed: 0,
            bn: preset.base.bn,
            max_steps: None,
            progress: true,
        }
    }

    /// Everything here that shapes the trained net except the epoch count (the caller's recipe
    /// says how long to train), as text: part of the names of cached and checkpointed nets.
    pub fn shaping(&self) -> String {
        format!(
            "h={}|batch={}|lr={}|bn={}|seed={}|max_steps={:?}",
            self.h, self.batch, self.lr, self.bn, self.seed, self.max_steps
        )
    }
}

/// Result of [`train`].
#[derive(Debug, Clone)]
pub struct Trained {
    /// Parameters in canonical order, shaped by [`param_shape`], BatchNorm folded in.
    pub params: Vec<Tensor>,
    /// Training loss of every step.
    pub losses: Vec<f32>,
    /// Test accuracy in `[0, 1]` after the last epoch.
    pub test_accuracy: f32,
    /// Wall-clock training time in seconds (evaluation included).
    pub seconds: f64,
}

/// Fresh parameters at width `h`: Kaiming-uniform weights (`U(±√(6 / fan_in))`), biases
/// `U(±1/√fan_in)`, residual scales 0 (skip-init). Deterministic in `seed`.
pub fn init_params(arch: &ArchSpec, h: usize, seed: u64, device: &Device) -> Result<Vec<Tensor>> {
    let mut rng = Rng::new(seed);
    let mut fan_in = 1;
    arch.params(h)
        .map(|p| {
            let shape = param_shape(arch, &p);
            let n = p.len();
            let values: Vec<f32> = match p.kind {
                ParamKind::Weight => {
                    fan_in = p.shape[1] * p.shape[2] * p.shape[3];
                    let bound = (6.0 / fan_in as f32).sqrt();
                    (0..n).map(|_| rng.uniform(-bound, bound)).collect()
                }
                ParamKind::Bias => {
                    let bound = 1.0 / (fan_in as f32).sqrt();
                    (0..n).map(|_| rng.uniform(-bound, bound)).collect()
                }
                ParamKind::Scale => vec![0.0; n],
            };
            Ok(Tensor::from_vec(values, shape, device)?)
        })
        .collect()
}

/// Fraction of `data` that the member at width `h` with `params` classifies correctly,
/// evaluated in batches of 1000.
pub fn evaluate(arch: &ArchSpec, h: usize, params: &[Tensor], data: &Dataset, device: &Device) -> Result<f32> {
    ensure!(data.n > 0, "evaluating on an empty data set");
    let mut correct = 0usize;
    for idx in data.batches(1000, None) {
        let (x, y) = data.batch(&idx, device)?;
        let logits = forward(arch, h, params, &x)?;
        correct += count_correct(&logits, &y)?;
    }
    Ok(correct as f32 / data.n as f32)
}

fn count_correct(logits: &Tensor, labels: &Tensor) -> Result<usize> {
    let pred = logits.argmax(D::Minus1)?;
    Ok(pred.eq(labels)?.to_dtype(DType::F32)?.sum_all()?.to_scalar::<f32>()? as usize)
}

/// One member in training: its variables, its BatchNorm layers and their optimiser.
struct Session<'a> {
    arch: &'a ArchSpec,
    h: usize,
    vars: Vec<Var>,
    bns: Vec<Option<BatchNorm>>,
    opt: AdamW,
    device: &'a Device,
}

/// What one pass over the training set saw.
struct EpochStats {
    seen: usize,
    correct: usize,
    loss_sum: f64,
}

impl EpochStats {
    fn line(&self) -> String {
        let n = self.seen.max(1) as f64;
        format!("train loss {:.4}, train acc {:.2}%", self.loss_sum / n, 100.0 * self.correct as f64 / n)
    }
}

impl<'a> Session<'a> {
    /// Fresh parameters ([`init_params`]) and, with `opts.bn`, a BatchNorm after every convolution.
    fn new(arch: &'a ArchSpec, opts: &BaseOptions, train: &Dataset, device: &'a Device) -> Result<Self> {
        let h = opts.h;
        arch.check_h(h).map_err(anyhow::Error::msg).with_context(|| format!("width h = {h} of {}", arch.name))?;
        let input = arch.input.map(|v| v as usize);
        ensure!(train.shape == input, "data images are {:?} but {} takes {:?}", train.shape, arch.name, input);
        let vars: Vec<Var> = init_params(arch, h, opts.seed, device)?
            .iter()
            .map(Var::from_tensor)
            .collect::<candle_core::Result<_>>()?;
        let mut bns: Vec<Option<BatchNorm>> = Vec::new();
        for (layer, _, output) in arch.walk(h) {
            bns.push(match (opts.bn, layer, output) {
                (true, Layer::Conv2d { .. }, metamorph::spec::Shape::Image(c, ..)) => Some(BatchNorm::new(c, device)?),
                _ => None,
            });
        }
        let mut trainable = vars.clone();
        for bn in bns.iter().flatten() {
            trainable.push(bn.gamma.clone());
            trainable.push(bn.beta.clone());
        }
        let opt = AdamW::new(trainable, AdamWConfig { lr: opts.lr, ..Default::default() })?;
        Ok(Session { arch, h, vars, bns, opt, device })
    }

    /// One pass over `train`, shuffled by `seed`, that stops once `losses` holds `limit` steps.
    fn epoch(
        &mut self,
        train: &Dataset,
        batch: usize,
        seed: u64,
        losses: &mut Vec<f32>,
        limit: usize,
        bar: &ProgressBar,
    ) -> Result<EpochStats> {
        let mut stats = EpochStats { seen: 0, correct: 0, loss_sum: 0.0 };
        for idx in train.batches(batch, Some(seed)) {
            if losses.len() == limit {
                break;
            }
            let (x, y) = train.batch(&idx, self.device)?;
            let p: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().clone()).collect();
            let bns = &mut self.bns;
            let logits = forward_with(self.arch, self.h, &p, &x, &mut |i, _, t| match bns[i].as_mut() {
                Some(bn) => bn.forward_train(&t),
                None => Ok(t),
            })?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            self.opt.step(&loss.backward()?, f64::INFINITY)?;
            let l = loss.to_scalar::<f32>()?;
            losses.push(l);
            stats.seen += idx.len();
            stats.correct += count_correct(&logits.detach(), &y)?;
            stats.loss_sum += l as f64 * idx.len() as f64;
            bar.set_message(stats.line());
            bar.inc(1);
        }
        Ok(stats)
    }

    /// The parameters with BatchNorm folded in, as a network without BatchNorm runs them: a copy,
    /// since the optimiser updates the variables' storage in place.
    fn folded(&self) -> Result<Vec<Tensor>> {
        let p: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        Ok(fold_all(self.arch, self.h, &p, &self.bns)?)
    }
}

/// The seed of epoch `epoch`'s shuffle.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9e37_79b9).wrapping_add(epoch as u64 + 1)
}

fn progress_bar(show: bool, total: usize, prefix: String) -> ProgressBar {
    let bar = if show { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}")
            .expect("valid template"),
    );
    bar.set_prefix(prefix);
    bar
}

/// Trains the member at width `opts.h` of `arch` on `train` for `opts.epochs` epochs, reporting
/// test accuracy on `test` after every epoch. Errors if the data's image shape differs from the
/// family's input.
pub fn train(arch: &ArchSpec, opts: &BaseOptions, train: &Dataset, test: &Dataset, device: &Device) -> Result<Trained> {
    let start = Instant::now();
    let mut session = Session::new(arch, opts, train, device)?;
    let steps_per_epoch = train.n.div_ceil(opts.batch.max(1));
    let total = opts.max_steps.map_or(opts.epochs * steps_per_epoch, |m| m.min(opts.epochs * steps_per_epoch));
    let bar = progress_bar(opts.progress, total, format!("base {} h={}", arch.name, opts.h));
    let mut losses = Vec::with_capacity(total);
    let mut test_accuracy = 0.0;
    for epoch in 0..opts.epochs {
        if losses.len() == total {
            break;
        }
        let stats = session.epoch(train, opts.batch, epoch_seed(opts.seed, epoch), &mut losses, total, &bar)?;
        test_accuracy = evaluate(arch, opts.h, &session.folded()?, test, device)?;
        if opts.progress {
            bar.suspend(|| {
                eprintln!(
                    "epoch {}/{}: {}, test acc {:.2}%",
                    epoch + 1,
                    opts.epochs,
                    stats.line(),
                    100.0 * test_accuracy
                )
            });
        }
    }
    bar.finish_and_clear();
    let params = session.folded()?;
    if losses.len() % steps_per_epoch != 0 {
        test_accuracy = evaluate(arch, opts.h, &params, test, device)?;
    }
    Ok(Trained { params, losses, test_accuracy, seconds: start.elapsed().as_secs_f64() })
}

/// `data`, a safetensors file, with its header's keys in sorted order. safetensors writes the
/// metadata in `HashMap` order, which differs from process to process, so the same checkpoint
/// would be different bytes each time it is written. Sorting changes no length, so every offset
/// stays valid; the header keeps its padding.
fn sorted_header(mut data: Vec<u8>) -> Result<Vec<u8>> {
    let len = data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes);
    let header = len.and_then(|n| data.get(8..8 + n as usize)).context("safetensors header out of range")?;
    // serde_json's map is a BTreeMap (no `preserve_order` in this workspace): parsing sorts.
    let value: serde_json::Value = serde_json::from_slice(header)?;
    let sorted = serde_json::to_vec(&value)?;
    let header_end = 8 + header.len();
    ensure!(8 + sorted.len() <= header_end, "sorted safetensors header is longer than the original");
    let end = 8 + sorted.len();
    data[8..end].copy_from_slice(&sorted);
    data[end..header_end].fill(b' ');
    Ok(data)
}

/// A member's parameters with what they belong to: the unit saved by base training.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The family.
    pub arch: ArchSpec,
    /// Base width of the member.
    pub h: usize,
    /// Parameters in canonical order, shaped by [`param_shape`].
    pub params: Vec<Tensor>,
    /// Free-form string metadata (preset, seed, test accuracy, ...).
    pub metadata: HashMap<String, String>,
}

impl Checkpoint {
    /// Writes a safetensors file: tensors named by `ParamInfo::name()` (`layer1.weight`, ...),
    /// f32, with `arch` (JSON), `h` and every `metadata` entry in its header. Atomic: writes
    /// `<path>.tmp`, then renames it over `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let infos: Vec<_> = self.arch.params(self.h).collect();
        ensure!(infos.len() == self.params.len(), "{} tensors for {} parameters", self.params.len(), infos.len());
        let mut bytes = Vec::with_capacity(infos.len());
        for (p, t) in infos.iter().zip(&self.params) {
            let want = param_shape(&self.arch, p);
            ensure!(t.dims() == want.as_slice(), "{} has shape {:?}, expected {:?}", p.name(), t.dims(), want);
            let v = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            bytes.push(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>());
        }
        let views = infos
            .iter()
            .zip(&bytes)
            .map(|(p, b)| {
                let view =
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, param_shape(&self.arch, p), b)?;
                Ok((p.name().to_string(), view))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut meta = self.metadata.clone();
        meta.insert("arch".into(), serde_json::to_string(&self.arch)?);
        meta.insert("h".into(), self.h.to_string());
        let data = safetensors::serialize(views, Some(meta)).context("serialising safetensors")?;
        metamorph_host::fs::write_bytes_atomic(path, &sorted_header(data)?)
    }

    /// Reads a file written by [`Checkpoint::save`]. Errors name the file and the missing or
    /// misshapen tensor.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let ctx = || format!("reading checkpoint {}", path.display());
        let data = std::fs::read(path).with_context(ctx)?;
        let st = safetensors::SafeTensors::deserialize(&data).with_context(ctx)?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&data).with_context(ctx)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let arch: ArchSpec = serde_json::from_str(
            metadata.get("arch").with_context(|| format!("{}: no arch in metadata", path.display()))?,
        )
        .with_context(ctx)?;
        let h: usize = metadata
            .get("h")
            .with_context(|| format!("{}: no h in metadata", path.display()))?
            .parse()
            .with_context(ctx)?;
        let mut params = Vec::new();
        for p in arch.params(h) {
            let name = p.name().to_string();
            let view = st.tensor(&name).with_context(|| format!("{}: tensor {name}", path.display()))?;
            let want = param_shape(&arch, &p);
            if view.dtype() != safetensors::Dtype::F32 || view.shape() != want.as_slice() {
                bail!("{}: {name} is {:?} {:?}, expected F32 {:?}", path.display(), view.dtype(), view.shape(), want);
            }
            let v: Vec<f32> =
                view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            params.push(Tensor::from_vec(v, want, device)?);
        }
        Ok(Checkpoint { arch, h, params, metadata })
    }
}

/// Base-trains preset `preset_name` (see [`Preset::load`]) with `opts` on its data set and
/// saves the folded parameters to `out`; what `metamorph-train base` runs.
pub fn run(preset_name: &str, opts: &BaseOptions, out: &Path, device: &Device) -> Result<Trained> {
    let preset = Preset::load(preset_name)?;
    preset.check_width("--h", opts.h)?;
    ensure!(opts.epochs >= 1, "base training needs at least 1 epoch");
    metamorph_host::fs::check_writable(out)?;
    let train_set = Dataset::load(&preset.dataset, Split::Train)?;
    let test_set = Dataset::load(&preset.dataset, Split::Test)?;
    let trained = train(&preset.arch, opts, &train_set, &test_set, device)
        .with_context(|| format!("base training {preset_name} at h = {}", opts.h))?;
    let metadata = HashMap::from([
        ("preset".to_string(), preset_name.to_string()),
        ("dataset".to_string(), preset.dataset.clone()),
        ("seed".to_string(), opts.seed.to_string()),
        ("epochs".to_string(), opts.epochs.to_string()),
        ("bn".to_string(), if opts.bn { "folded" } else { "none" }.to_string()),
        ("test_accuracy".to_string(), format!("{:.6}", trained.test_accuracy)),
    ]);
    let ckpt = Checkpoint { arch: preset.arch.clone(), h: opts.h, params: trained.params.clone(), metadata };
    ckpt.save(out)?;
    Ok(trained)
}
