//! `metamorph materialise FILE (--width W | budget flags) -o model.onnx`.

use crate::budget::{Target, WidthOrBudget};
use crate::limits::{count, MAX_SAMPLES};
use crate::{decode, human_bytes, read_file};
use anyhow::{Context, Result};
use metamorph::materialise::scratch_len;
use metamorph::materialise::Materialiser;
use metamorph_host::fs::{check_writable, write_bytes_atomic};
use metamorph_host::onnx::{to_onnx, Provenance};
use std::path::PathBuf;

/// Arguments of `materialise`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hypernet file (.mmh).
    pub file: PathBuf,
    /// Which member.
    #[command(flatten)]
    pub target: WidthOrBudget,
    /// Output ONNX file (written atomically).
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// INR samples averaged per weight (K ≥ 1).
    #[arg(long, default_value_t = 1, value_parser = count::<u32>(MAX_SAMPLES))]
    pub samples: u32,
    /// Noise seed for K > 1.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Materialises one width and writes it as ONNX.
pub fn run(args: &Args) -> Result<()> {
    // Refused before the hypernet is read or anything is materialised.
    check_writable(&args.output)?;
    let bytes = read_file(&args.file)?;
    let net = decode(&bytes, &args.file)?;
    let h = match args.target.target(&net.arch)? {
        Target::H(h) => h,
        Target::Budget(b) => {
            metamorph::plan::plan(&net.arch, scratch_len(&net) * 4, &b)
                .with_context(|| format!("planning {} in {} for {b:?}", net.arch.name, args.file.display()))?
                .costs
                .h
        }
    };
    let width = net.arch.width_of(h);
    let params = Materialiser::new(&net, h, args.samples, args.seed)
        .and_then(|m| m.to_vec())
        .with_context(|| format!("materialising {} at width {width:.3} (h = {h})", net.arch.name))?;
    let onnx = to_onnx(&net.arch, h, &params, &Provenance::of(&net))
        .with_context(|| format!("writing {} at width {width:.3} (h = {h}) as ONNX", net.arch.name))?;
    write_bytes_atomic(&args.output, &onnx)?;
    println!(
        "wrote {}: {} at width {width:.4} (h = {h}), {} params, {}",
        args.output.display(),
        net.arch.name,
        params.len(),
        human_bytes(onnx.len())
    );
    Ok(())
}
