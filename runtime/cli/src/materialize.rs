//! `metamorph materialize FILE (--width W | budget flags) -o model.onnx`.

use crate::budget::{Target, WidthOrBudget};
use crate::{decode, human_bytes, read_file};
use anyhow::{ensure, Context, Result};
use metamorph::materialise::scratch_len;
use metamorph::materialise::Materialiser;
use metamorph::onnx::{to_onnx, Provenance};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `materialize`.
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
    #[arg(long, default_value_t = 1)]
    pub samples: u32,
    /// Noise seed for K > 1.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Materialises one width and writes it as ONNX.
pub fn run(args: &Args) -> Result<()> {
    ensure!(args.samples >= 1, "--samples must be at least 1");
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
    write_atomic(&args.output, &onnx)?;
    println!(
        "wrote {}: {} at width {width:.4} (h = {h}), {} params, {}",
        args.output.display(),
        net.arch.name,
        params.len(),
        human_bytes(onnx.len())
    );
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory, then renames it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let write = || -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("writing {}", path.display()))
}
