//! `metamorph plan FILE --max-bytes N …`.

use crate::budget::BudgetArgs;
use crate::{decode, human_bytes, human_count, read_file};
use anyhow::{Context, Result};
use metamorph::materialise::scratch_len;
use std::path::PathBuf;

/// Arguments of `plan`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hypernet file (.mmh).
    pub file: PathBuf,
    /// Budget flags.
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints the widest member that fits and its costs. Errors if nothing fits.
pub fn run(args: &Args) -> Result<()> {
    let bytes = read_file(&args.file)?;
    let net = decode(&bytes, &args.file)?;
    let budget = args.budget.budget()?;
    let overhead = scratch_len(&net) * 4;
    let p = metamorph::plan::plan(&net.arch, overhead, &budget).with_context(|| {
        let small = net
            .arch
            .costs(net.arch.h_min as usize)
            .map(|c| (c.weight_bytes, c.macs, c.weight_bytes + c.activation_bytes + overhead));
        let hint = small.map_or(String::new(), |(w, m, r)| {
            format!(" (the smallest member needs {w} weight bytes, {r} RAM bytes, {m} MACs)")
        });
        format!("planning {} in {} for {budget:?}{hint}", net.arch.name, args.file.display())
    })?;
    let c = p.costs;
    if args.json {
        let v = serde_json::json!({
            "family": net.arch.name.as_str(),
            "width": p.width,
            "h": c.h,
            "params": c.params,
            "weight_bytes": c.weight_bytes,
            "activation_bytes": c.activation_bytes,
            "overhead_bytes": overhead,
            "ram_bytes": p.ram_bytes,
            "macs": c.macs,
            "estimated_ms": budget.latency.map(|l| l.estimate_ms(c.macs)),
        });
        println!("{v}");
    } else {
        println!("family      {}", net.arch.name);
        println!("width       {:.4}  (h = {} of {})", p.width, c.h, net.arch.h_max);
        println!("params      {}", human_count(c.params));
        println!("weights     {}", human_bytes(c.weight_bytes));
        println!(
            "RAM         {}  (weights + activations {} + materialise scratch {})",
            human_bytes(p.ram_bytes),
            human_bytes(c.activation_bytes),
            human_bytes(overhead)
        );
        println!("MACs        {}", human_count(c.macs));
        if let Some(l) = budget.latency {
            println!("latency     {:.3} ms estimated", l.estimate_ms(c.macs));
        }
    }
    Ok(())
}
