//! `metamorph-train`: the trainer's command line. Each subcommand parses its arguments and
//! calls one library function; the logic lives in `metamorph_trainer`.

use anyhow::Result;
use candle_core::Device;
use clap::{Args, Parser, Subcommand};
use metamorph_trainer::{base, permute, preset::Preset};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "metamorph-train", version, about = "Train Metamorph base networks and hypernets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one width of a preset's family from scratch and save it as safetensors.
    Base(BaseArgs),
    /// Reorder a base checkpoint's coupled channels for smoothness (function unchanged).
    Permute(PermuteArgs),
}

#[derive(Args)]
struct BaseArgs {
    /// Preset name (models/<name>.json) or path to a preset JSON file.
    #[arg(long)]
    preset: String,
    /// Base width h (default: the family's largest).
    #[arg(long)]
    h: Option<usize>,
    /// Epochs (default: the preset's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// BatchNorm after every convolution, folded before saving (default: the preset's `bn`).
    #[arg(long)]
    bn: bool,
    /// Stop after this many steps.
    #[arg(long)]
    max_steps: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Output safetensors file.
    #[arg(short, long)]
    out: PathBuf,
}

#[derive(Args)]
struct PermuteArgs {
    /// Input checkpoint (from `base`).
    #[arg(short, long)]
    input: PathBuf,
    /// Output checkpoint.
    #[arg(short, long)]
    out: PathBuf,
    /// Seed of the heuristic solver (groups above 12 channels).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Base(args) => run_base(args),
        Command::Permute(args) => run_permute(args),
    }
}

fn run_base(args: BaseArgs) -> Result<()> {
    let preset = Preset::load(&args.preset)?;
    let mut opts = base::BaseOptions::from_preset(&preset, args.h);
    opts.epochs = args.epochs.unwrap_or(opts.epochs);
    opts.seed = args.seed;
    opts.bn |= args.bn;
    opts.max_steps = args.max_steps;
    opts.progress = !args.quiet;
    let trained = base::run(&args.preset, &opts, &args.out, &Device::Cpu)?;
    println!(
        "{} h={}: test accuracy {:.2}% after {} steps in {:.1} s -> {}",
        preset.arch.name,
        opts.h,
        100.0 * trained.test_accuracy,
        trained.losses.len(),
        trained.seconds,
        args.out.display()
    );
    Ok(())
}

fn run_permute(args: PermuteArgs) -> Result<()> {
    let report = permute::run(&args.input, &args.out, args.seed)?;
    for (i, g) in report.groups.iter().enumerate() {
        println!(
            "group {i}: {} channels, {} slices, TV {:.3} -> {:.3} ({:.1}% lower)",
            g.group.channels,
            g.group.members.len(),
            g.tv_before,
            g.tv_after,
            100.0 * (1.0 - g.tv_after / g.tv_before.max(f64::MIN_POSITIVE))
        );
    }
    let (before, after) = report.tv();
    println!("total TV {before:.3} -> {after:.3} ({:.1}% lower) -> {}", 100.0 * (1.0 - after / before.max(f64::MIN_POSITIVE)), args.out.display());
    Ok(())
}
