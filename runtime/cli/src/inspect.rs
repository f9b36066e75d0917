//! `metamorph inspect FILE`.

use crate::{decode, human_bytes, human_count, read_file};
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hypernet file (.mmh).
    pub file: PathBuf,
}

/// Prints family, width range, INR size, bytes, checksum and the accuracy table.
pub fn run(args: &Args) -> Result<()> {
    let bytes = read_file(&args.file)?;
    let net = decode(&bytes, &args.file)?;
    let arch = &net.arch;
    let (lo, hi) = (arch.h_min as usize, arch.h_max as usize);
    let full = arch.costs(hi)?;
    let small = arch.costs(lo)?;
    let dtype = net.dtype().map_or_else(|| "-".into(), |d| format!("{d:?}"));
    println!("file        {}", args.file.display());
    println!(
        "family      {}  (input {:?}, {} classes, {} layers)",
        arch.name,
        arch.input,
        arch.classes()?,
        arch.layers.len()
    );
    println!("dataset     {}", net.meta.dataset);
    println!("widths      h {lo}..={hi}  (width {:.3}..=1), trained on h {:?}", arch.width_of(lo), net.meta.trained_h);
    println!(
        "members     {} .. {} params, {} .. {} weights, {} .. {} MACs",
        human_count(small.params),
        human_count(full.params),
        human_bytes(small.weight_bytes),
        human_bytes(full.weight_bytes),
        human_count(small.macs),
        human_count(full.macs)
    );
    let shape = match net.inr() {
        Some((cfg, tensors)) => {
            // The definition's cost at full width: every query row through the whole MLP.
            let (mut macs, mut values) = (0.0, 0usize);
            for (m, t) in arch.params(hi).filter_map(|p| p.morph).zip(tensors) {
                let o = t.out_size as usize;
                macs += cfg.macs_per_value(o) * (m.rows() * o) as f64;
                values += m.rows() * o;
            }
            format!(
                "bands {}, hidden {}, depth {}; {:.0} MACs per generated weight at full width",
                cfg.bands,
                cfg.hidden,
                cfg.depth,
                macs / values.max(1) as f64
            )
        }
        None => "full-width tensors, width h = their leading channels".into(),
    };
    println!(
        "generator   {}: {} tensors + {} frozen; {shape}; {} params, {} stored ({dtype})",
        net.kind(),
        net.generated_count(),
        net.frozen.len(),
        human_count(net.generator_params()),
        human_bytes(net.generator_bytes())
    );
    println!(
        "file size   {}  (full-width weights are {:.1}× that)",
        human_bytes(bytes.len()),
        full.weight_bytes as f64 / bytes.len() as f64
    );
    println!("sigma       {}", net.meta.sigma);
    println!("checksum    {:08x} (CRC-32)", net.checksum);
    if net.meta.accuracy.is_empty() {
        println!("accuracy    (no table)");
    } else {
        println!("accuracy    {:>5} {:>7} {:>3} {:>8}", "h", "width", "K", "acc");
        for row in &net.meta.accuracy {
            println!(
                "            {:>5} {:>7.3} {:>3} {:>7.2}%",
                row.h,
                arch.width_of(row.h as usize),
                row.samples,
                row.accuracy * 100.0
            );
        }
    }
    Ok(())
}
