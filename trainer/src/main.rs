//! `metamorph-train`: the trainer's command line. Each subcommand parses its arguments and
//! calls one library function; the logic lives in `metamorph_trainer`.

use anyhow::Result;
use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};
use metamorph::format::DType;
use metamorph_trainer::{base, fit::command, permute, preset::Preset, report, slimmable};
use std::path::PathBuf;

// Ceilings of the count flags, checked by clap before any file is read: zero trains nothing (and
// used to write an untrained file), and a count beyond these would run for weeks. Widths only
// need to fit the file format's u16; the family's own range is checked before training.
const MAX_STEPS: u64 = 10_000_000;
const MAX_EPOCHS: u64 = 10_000;
const MAX_WIDTH: u64 = u16::MAX as u64;

/// A count flag's parser: an integer in `1..=max`.
fn count(max: u64) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=max)
}

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
    /// Train a hypernet end to end (base network, BN fold, permutation, INR) and export it.
    Fit(FitArgs),
    /// Sweep widths: the hypernet against individually trained, sliced and pruned nets; writes
    /// docs/RESULTS.md (this preset's section) and docs/accuracy-<preset>.svg.
    Report(ReportArgs),
    /// Train a universally slimmable net (US-Nets: sandwich rule, in-place distillation) and export
    /// it as a hypernet file with the slimmable generator.
    Slimmable(SlimArgs),
    /// Cut a slimmable file to a narrower widest member, by width or by bytes: the same members
    /// up to that width in fewer bytes, with an accuracy table measured on the cut's own bytes.
    Cut(CutArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("size").required(true).args(["h", "max_bytes"])))]
struct CutArgs {
    /// Slimmable hypernet file to cut (from `metamorph-train slimmable`).
    #[arg(long)]
    from: PathBuf,
    /// Widest base width to keep.
    #[arg(long, value_parser = count(MAX_WIDTH))]
    h: Option<usize>,
    /// Keep the widest members whose file fits in this many bytes.
    #[arg(long, value_parser = RangedU64ValueParser::<u64>::new().range(1..))]
    max_bytes: Option<u64>,
    /// Output hypernet file (.mmh); replaced atomically if it exists.
    #[arg(short, long)]
    out: PathBuf,
    /// Storage of the kept tensors: f32, f16 or int8.
    #[arg(long, default_value = "int8", value_parser = parse_dtype)]
    dtype: DType,
    /// cpu, or cuda[:N] (needs the `cuda` feature), for measuring the accuracy table.
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
struct SlimArgs {
    /// Preset name (models/<name>.json) or path to a preset JSON file.
    #[arg(long)]
    preset: String,
    /// Epochs (default 30).
    #[arg(long, value_parser = count(MAX_EPOCHS))]
    epochs: Option<usize>,
    /// Narrowest width trained (default: 25 % of h_max).
    #[arg(long, value_parser = count(MAX_WIDTH))]
    h_min: Option<usize>,
    /// Stop after this many steps.
    #[arg(long, value_parser = count(MAX_STEPS))]
    max_steps: Option<usize>,
    /// Output hypernet file (.mmh).
    #[arg(short, long)]
    out: PathBuf,
    /// Storage of the full-width tensors: f32, f16 or int8.
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
    /// Checkpoint file: written every --checkpoint-every steps, resumed from when it exists.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 100, value_parser = count(MAX_STEPS))]
    checkpoint_every: usize,
    #[command(flatten)]
    run: RunArgs,
}

/// Options every training subcommand shares.
#[derive(Args)]
struct RunArgs {
    /// Seed of every random choice (initialisation, shuffling, widths, noise).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, or cuda[:N] (needs the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// Preset name (models/<name>.json) or path to a preset JSON file.
    #[arg(long)]
    preset: String,
    /// The hypernet file (.mmh) to evaluate.
    #[arg(long)]
    hypernet: PathBuf,
    /// Full-width base checkpoint for slicing and pruning (default: train it with the preset's recipe).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Directory of RESULTS.md and the plot (default: the repository's docs/).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Train each individually trained net for N epochs instead of to convergence (early stopping
    /// on a validation split of the training set).
    #[arg(long, value_parser = count(MAX_EPOCHS))]
    epochs: Option<usize>,
    /// Folder caching the individually trained nets (default: .cache/individual/ in the repository).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// A slimmable net of the family (from `metamorph-train slimmable`) to compare at fp32 and int8.
    #[arg(long)]
    slimmable: Option<PathBuf>,
    /// Use only the first N training and test examples (quick checks).
    #[arg(long, value_parser = count(u32::MAX as u64))]
    limit: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct FitArgs {
    /// Preset name (models/<name>.json) or path to a preset JSON file.
    #[arg(long)]
    preset: String,
    /// Output hypernet file (.mmh).
    #[arg(short, long)]
    out: PathBuf,
    /// INR steps (default: the preset's).
    #[arg(long, value_parser = count(MAX_STEPS))]
    steps: Option<usize>,
    /// Start from this full-width base checkpoint instead of training one.
    #[arg(long)]
    base: Option<PathBuf>,
    /// Also save the full-width base network (before permutation), e.g. for `report --base`.
    #[arg(long)]
    save_base: Option<PathBuf>,
    /// Checkpoint file: written every --checkpoint-every steps, resumed from when it exists.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 100, value_parser = count(MAX_STEPS))]
    checkpoint_every: usize,
    /// Storage of the INR parameters: f32, f16 or int8 (default: int8 for a quantisation-aware
    /// preset, f16 otherwise).
    #[arg(long, value_parser = parse_dtype)]
    dtype: Option<DType>,
    #[command(flatten)]
    run: RunArgs,
}

fn parse_dtype(s: &str) -> Result<DType, String> {
    match s {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        "int8" | "i8" => Ok(DType::I8),
        other => Err(format!("unknown dtype {other:?}: expected f32, f16 or int8")),
    }
}

#[derive(Args)]
struct BaseArgs {
    /// Preset name (models/<name>.json) or path to a preset JSON file.
    #[arg(long)]
    preset: String,
    /// Base width h (default: the family's largest).
    #[arg(long, value_parser = count(MAX_WIDTH))]
    h: Option<usize>,
    /// Epochs (default: the preset's).
    #[arg(long, value_parser = count(MAX_EPOCHS))]
    epochs: Option<usize>,
    /// BatchNorm after every convolution, folded before saving (default: the preset's `bn`).
    #[arg(long)]
    bn: bool,
    /// Stop after this many steps.
    #[arg(long, value_parser = count(MAX_STEPS))]
    max_steps: Option<usize>,
    /// Output safetensors file.
    #[arg(short, long)]
    out: PathBuf,
    #[command(flatten)]
    run: RunArgs,
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

fn main() -> std::process::ExitCode {
    metamorph_host::process::quiet_broken_pipe();
    metamorph_trainer::malloc::retain_freed_memory();
    metamorph_host::process::exit_code(match Cli::parse().command {
        Command::Base(args) => run_base(args),
        Command::Permute(args) => run_permute(args),
        Command::Fit(args) => run_fit(args),
        Command::Report(args) => run_report(args),
        Command::Slimmable(args) => run_slimmable(args),
        Command::Cut(args) => run_cut(args),
    })
}

fn run_base(args: BaseArgs) -> Result<()> {
    let preset = Preset::load(&args.preset)?;
    let mut opts = base::BaseOptions::from_preset(&preset, args.h);
    opts.epochs = args.epochs.unwrap_or(opts.epochs);
    opts.seed = args.run.seed;
    opts.bn |= args.bn;
    opts.max_steps = args.max_steps;
    opts.progress = !args.run.quiet;
    let device = metamorph_trainer::device::device(&args.run.device)?;
    let trained = base::run(&args.preset, &opts, &args.out, &device)?;
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
    println!(
        "total TV {before:.3} -> {after:.3} ({:.1}% lower) -> {}",
        100.0 * (1.0 - after / before.max(f64::MIN_POSITIVE)),
        args.out.display()
    );
    Ok(())
}

fn run_fit(args: FitArgs) -> Result<()> {
    let fit = command::FitArgs {
        preset: args.preset,
        out: args.out.clone(),
        steps: args.steps,
        base: args.base,
        save_base: args.save_base,
        checkpoint: args.checkpoint,
        checkpoint_every: args.checkpoint_every,
        dtype: args.dtype,
        seed: args.run.seed,
        device: metamorph_trainer::device::device(&args.run.device)?,
        progress: !args.run.quiet,
    };
    let report = command::run(&fit)?;
    if let Some(acc) = report.base_accuracy {
        println!("base network (full width): {:.2}%", acc * 100.0);
    }
    println!("hypernet {} ({} bytes), test accuracy with K = 1:", args.out.display(), report.bytes);
    for row in &report.table {
        println!("  h = {:>4}: {:.2}%", row.h, row.accuracy * 100.0);
    }
    Ok(())
}

fn run_slimmable(args: SlimArgs) -> Result<()> {
    let preset = Preset::load(&args.preset)?;
    let mut opts = slimmable::SlimOptions::from_preset(&preset);
    opts.epochs = args.epochs.unwrap_or(opts.epochs);
    opts.range[0] = args.h_min.unwrap_or(opts.range[0]);
    opts.max_steps = args.max_steps;
    opts.seed = args.run.seed;
    opts.progress = !args.run.quiet;
    opts.checkpoint = args.checkpoint;
    opts.checkpoint_every = args.checkpoint_every;
    let device = metamorph_trainer::device::device(&args.run.device)?;
    let table = slimmable::run(&args.preset, &opts, &args.out, args.dtype, &device)?;
    println!(
        "slimmable {} (h {}..={}, {} epochs) -> {}, test accuracy:",
        preset.arch.name,
        opts.range[0],
        opts.range[1],
        opts.epochs,
        args.out.display()
    );
    for row in &table {
        println!("  h = {:>4}: {:.2}%", row.h, row.accuracy * 100.0);
    }
    Ok(())
}

fn run_cut(args: CutArgs) -> Result<()> {
    let size = match (args.h, args.max_bytes) {
        (Some(h), _) => slimmable::cut::Size::Width(h),
        (None, Some(b)) => slimmable::cut::Size::Bytes(b),
        (None, None) => unreachable!("clap requires --h or --max-bytes"),
    };
    let device = metamorph_trainer::device::device(&args.device)?;
    let (h, table) = slimmable::cut::run(&args.from, size, args.dtype, &args.out, &device)?;
    let bytes = std::fs::metadata(&args.out)?.len();
    println!("{} cut to h = {h}: {} ({bytes} bytes), test accuracy:", args.from.display(), args.out.display());
    for row in &table {
        println!("  h = {:>4}: {:.2}%", row.h, row.accuracy * 100.0);
    }
    Ok(())
}

fn run_report(args: ReportArgs) -> Result<()> {
    let (report, written) = report::run(&report::ReportArgs {
        preset: args.preset,
        hypernet: args.hypernet,
        base: args.base,
        out_dir: args.out_dir,
        epochs: args.epochs,
        cache: args.cache,
        slimmable: args.slimmable,
        limit: args.limit,
        seed: args.run.seed,
        device: args.run.device,
        progress: !args.run.quiet,
    })?;
    println!("{}", report::table::section(&report));
    println!(
        "wrote {}, {} and {} in {:.0} s",
        written.results.display(),
        written.plot.display(),
        written.bytes_plot.display(),
        report.seconds.total
    );
    Ok(())
}
