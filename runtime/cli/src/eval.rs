//! `metamorph eval FILE --data DIR (--width W | budget flags) [--backend B]`.

use crate::budget::{Target, WidthOrBudget};
use crate::data::{accuracy, check_shape, load_test_set};
use crate::limits::{count, MAX_BATCH, MAX_SAMPLES};
use crate::{decode, human_bytes, human_count, ms, read_file};
use anyhow::{ensure, Context, Result};
use metamorph_host::engine::Backend;
use metamorph_host::idx::ImageSet;
use metamorph_host::switch::{Active, Switcher};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hypernet file (.mmh).
    pub file: PathBuf,
    /// Directory holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Which member.
    #[command(flatten)]
    pub target: WidthOrBudget,
    /// Engine: native, tract or ort.
    #[arg(long, default_value = "tract")]
    pub backend: Backend,
    /// Evaluate only the first N images.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Images per inference call.
    #[arg(long, default_value_t = 256, value_parser = count::<usize>(MAX_BATCH))]
    pub batch: usize,
    /// INR samples averaged per weight (K ≥ 1).
    #[arg(long, default_value_t = 1, value_parser = count::<u32>(MAX_SAMPLES))]
    pub samples: u32,
}

/// Prints accuracy and latency of one member on the test set.
pub fn run(args: &Args) -> Result<()> {
    let bytes = read_file(&args.file)?;
    let net = decode(&bytes, &args.file)?;
    let family = net.arch.name.clone();
    // The flags are checked before the test set is read.
    let target = args.target.target(&net.arch)?;
    let set =
        load_test_set(&args.data, args.limit).with_context(|| format!("loading test set {}", args.data.display()))?;
    ensure!(!set.is_empty(), "test set {} is empty", args.data.display());
    check_shape(&set, net.arch.input, &args.data, &family)?;
    let mut switcher = Switcher::new(net, args.backend).with_samples(args.samples, 0);
    let mut active = match target {
        Target::H(h) => switcher.build(h)?,
        Target::Budget(b) => switcher.switch(&b)?,
    };
    let (acc, per_image) = classify(&mut active, &set, 0, set.len(), args.batch)?;
    let c = active.plan.costs;
    println!(
        "model       {family} at width {:.4} (h = {}), {} params, {} weights, {} MACs",
        active.plan.width,
        c.h,
        human_count(c.params),
        human_bytes(c.weight_bytes),
        human_count(c.macs)
    );
    println!("engine      {}", active.engine.describe());
    println!(
        "switch      {:.2} ms  (materialise {:.2}, ONNX {:.2}, load {:.2})",
        ms(active.timings.total()),
        ms(active.timings.materialise),
        ms(active.timings.export),
        ms(active.timings.load)
    );
    println!("data        {}: {} images {}×{}", args.data.display(), set.len(), set.rows, set.cols);
    println!("accuracy    {:.2}%", acc * 100.0);
    println!("latency     {:.4} ms per image (batch {})", per_image * 1e3, args.batch);
    Ok(())
}

/// Classifies images `start..start + n` (wrapping around the set) in batches of `batch`.
/// Returns the accuracy and the seconds per image spent in the engine.
pub fn classify(active: &mut Active, set: &ImageSet, start: usize, n: usize, batch: usize) -> Result<(f32, f64)> {
    let mut logits = Vec::with_capacity(n * 10);
    let mut labels = Vec::with_capacity(n);
    let mut spent = 0.0;
    let mut i = 0;
    while i < n {
        let s = (start + i) % set.len();
        let b = batch.min(n - i).min(set.len() - s);
        let t = Instant::now();
        let y = active.engine.run(set.batch(s, b), b).with_context(|| format!("classifying images {s}..{}", s + b))?;
        spent += t.elapsed().as_secs_f64();
        logits.extend_from_slice(&y);
        labels.extend_from_slice(&set.labels[s..s + b]);
        i += b;
    }
    Ok((accuracy(&logits, &labels), spent / n as f64))
}
