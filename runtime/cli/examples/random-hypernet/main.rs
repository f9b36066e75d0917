//! Writes a hypernet with random parameters, to try `metamorph` before a trained one exists.
//!
//! Usage: `random-hypernet mnist-mlp|mnist-lenet|digits-mlp OUT.mmh [SEED]`

use anyhow::{bail, Context, Result};
use metamorph_cli::sample::{digits_mlp, mnist_lenet, mnist_mlp, random_hypernet};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (family, out) = match &args[..] {
        [f, o] | [f, o, _] => (f.as_str(), o),
        _ => bail!("usage: random-hypernet mnist-mlp|mnist-lenet|digits-mlp OUT.mmh [SEED]"),
    };
    let seed = args.get(2).map(|s| s.parse()).transpose().context("SEED must be an integer")?.unwrap_or(1);
    let ((arch, inr), dataset) = match family {
        "mnist-mlp" => (mnist_mlp(), "mnist"),
        "digits-mlp" => (digits_mlp(), "digits"),
        "mnist-lenet" => (mnist_lenet(), "mnist"),
        _ => bail!("unknown family {family:?} (mnist-mlp, mnist-lenet or digits-mlp)"),
    };
    let bytes = random_hypernet(arch, inr, dataset, seed)?;
    metamorph_host::fs::write_bytes_atomic(out.as_ref(), &bytes)?;
    println!("wrote {out}: random {family}, {} bytes", bytes.len());
    Ok(())
}
