//! `metamorph demo`: replay a battery trace, re-planning and classifying at every step.

use crate::data::{check_shape, load_test_set};
use crate::eval::classify;
use crate::limits::{count, MAX_BATCH};
use crate::{decode, human_bytes, human_count, ms, read_file};
use anyhow::{ensure, Context, Result};
use metamorph::plan::Budget;
use metamorph_host::engine::Backend;
use metamorph_host::fs::repo_root;
use metamorph_host::switch::Switcher;
use std::path::PathBuf;
use std::time::Instant;

/// Battery level (percent) at each step: draining, then charging.
pub const TRACE: [u32; 11] = [100, 85, 70, 55, 40, 25, 10, 30, 55, 80, 100];

/// Arguments of `demo` (all optional).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hypernet to run [default: models/mnist-mlp.mmh in the repository].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Test set directory [default: data/mnist in the repository].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Engine: native, tract or ort.
    #[arg(long, default_value = "tract")]
    pub backend: Backend,
    /// Test images classified at each step.
    #[arg(long, default_value_t = 500, value_parser = count::<usize>(MAX_BATCH))]
    pub batch: usize,
}

/// Runs the trace and prints one row per step.
pub fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let model = args.model.clone().unwrap_or_else(|| repo_root().join("models/mnist-mlp.mmh"));
    let data = args.data.clone().unwrap_or_else(|| repo_root().join("data/mnist"));
    let bytes = read_file(&model).with_context(|| {
        if args.model.is_none() {
            "the demo's hypernet is missing: train it (see README) or pass --model PATH".to_string()
        } else {
            format!("demo model {}", model.display())
        }
    })?;
    let net = decode(&bytes, &model)?;
    let family = net.arch.name.clone();
    let set = load_test_set(&data, None).with_context(|| format!("loading test set {}", data.display()))?;
    ensure!(!set.is_empty(), "test set {} is empty", data.display());
    check_shape(&set, net.arch.input, &data, &family)?;
    let lo = net.arch.costs(net.arch.h_min as usize)?.macs;
    let hi = net.arch.costs(net.arch.h_max as usize)?.macs;
    let mut switcher = Switcher::new(net, args.backend).with_threads(metamorph_host::machine::cores());
    println!(
        "{family} on {} ({} test images), backend {}; power budget = MACs per inference, scaled by battery",
        data.display(),
        set.len(),
        args.backend
    );
    println!(
        "{:>4} {:>7} {:>10} {:>6} {:>4} {:>9} {:>9} {:>10} {:>11} {:>8}",
        "step", "battery", "budget", "width", "h", "weights", "MACs", "switch ms", "infer ms/im", "accuracy"
    );
    for (step, &battery) in TRACE.iter().enumerate() {
        let max_macs = lo + hi.saturating_sub(lo) * battery as usize / 100;
        let budget = Budget { max_macs: Some(max_macs), ..Budget::default() };
        let mut active = switcher.switch(&budget).with_context(|| format!("step {step}, battery {battery}%"))?;
        let (acc, per_image) = classify(&mut active, &set, step * args.batch, args.batch, args.batch)
            .with_context(|| format!("step {step}, width {:.3}", active.plan.width))?;
        let c = active.plan.costs;
        println!(
            "{:>4} {:>6}% {:>10} {:>6.3} {:>4} {:>9} {:>9} {:>10.2} {:>11.4} {:>7.2}%",
            step,
            battery,
            human_count(max_macs),
            active.plan.width,
            c.h,
            human_bytes(c.weight_bytes),
            human_count(c.macs),
            ms(active.timings.total()),
            per_image * 1e3,
            acc * 100.0
        );
    }
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
