//! `metamorph`: inspect, plan, materialise, evaluate, benchmark and demo hypernets.
//! Parses arguments and calls one library function per subcommand.

use clap::{Parser, Subcommand};
use metamorph_cli::{bench, demo, eval, inspect, materialise, plan};
use std::process::ExitCode;

/// Any width of a hypernet family, on demand: inspect a hypernet, plan a width for a budget,
/// materialise it as ONNX, and run it with the native executor, tract or ONNX Runtime.
#[derive(Parser)]
#[command(name = "metamorph", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Family, width range, INR size, bytes, checksum and the embedded accuracy table.
    Inspect(inspect::Args),
    /// The widest member that fits a budget, and its costs.
    Plan(plan::Args),
    /// Materialise one width and write it as an ONNX model.
    #[command(alias = "materialize")]
    Materialise(materialise::Args),
    /// Accuracy and latency of one width on an IDX test set.
    Eval(eval::Args),
    /// Switch, load, inference and INR throughput, all backends, one table.
    Bench(bench::Args),
    /// Replay a battery trace: re-plan, materialise and classify at every step.
    Demo(demo::Args),
}

fn main() -> ExitCode {
    metamorph_host::process::quiet_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Plan(a) => plan::run(&a),
        Command::Materialise(a) => materialise::run(&a),
        Command::Eval(a) => eval::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Demo(a) => demo::run(&a),
    };
    metamorph_host::process::exit_code(result)
}
