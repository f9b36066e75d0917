//! `metamorph bench FILE`: one table, every number measured in this run.
//!
//! - switch latency (budget change → runnable model) against loading the same width's ONNX
//!   bytes (native: its parameters), per backend;
//! - inference latency per backend, against the native executor;
//! - INR throughput against bare GEMMs of the same shapes ([`metamorph::gemm::linear`]);
//! - peak RAM of streaming materialisation against the full weights.

use crate::limits::{count, MAX_BATCH, MAX_REPS};
use crate::{decode, human_bytes, read_file};
use anyhow::{ensure, Context, Result};
use metamorph::format::Hypernet;
use metamorph::gemm::linear;
use metamorph::materialise::Materialiser;
use metamorph::plan::Budget;
use metamorph_host::engine::{Backend, Source};
use metamorph_host::machine;
use metamorph_host::onnx::{to_onnx, Provenance};
use metamorph_host::switch::Switcher;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hypernet file (.mmh).
    pub file: PathBuf,
    /// Width fraction to measure.
    #[arg(long, default_value_t = 1.0)]
    pub width: f32,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = count::<usize>(MAX_REPS))]
    pub reps: usize,
    /// Batch size of the batched inference rows.
    #[arg(long, default_value_t = 64, value_parser = count::<usize>(MAX_BATCH))]
    pub batch: usize,
    /// Print a Markdown section (machine, command, table) for docs/RESULTS.md instead of text.
    #[arg(long)]
    pub markdown: bool,
}

struct Row {
    measure: String,
    value: String,
    reference: String,
    ratio: String,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<Duration> {
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed());
    }
    Ok(median(v))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64().max(1e-12))
}

/// Runs every measurement and prints the table.
pub fn run(args: &Args) -> Result<()> {
    ensure!(args.width > 0.0 && args.width <= 1.0, "--width must be in (0, 1], got {}", args.width);
    let bytes = read_file(&args.file)?;
    let net = decode(&bytes, &args.file)?;
    let arch = net.arch.clone();
    let h = arch.base_width(args.width);
    let costs = arch.costs(h)?;
    let name = format!("{} at width {:.3} (h = {h})", arch.name, arch.width_of(h));
    let params =
        Materialiser::new(&net, h, 1, 0).and_then(|m| m.to_vec()).with_context(|| format!("materialising {name}"))?;
    let onnx = to_onnx(&arch, h, &params, &Provenance::of(&net)).with_context(|| format!("writing {name} as ONNX"))?;
    let sample = arch.input_shape().len();
    let x1: Vec<f32> = (0..sample).map(|i| (i % 17) as f32 / 17.0).collect();
    let xb: Vec<f32> = (0..sample * args.batch).map(|i| (i % 23) as f32 / 23.0).collect();
    // A budget that selects exactly h: its own MAC count.
    let budget = Budget { max_macs: Some(costs.macs), ..Budget::default() };

    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut native_infer: Option<(Duration, Duration)> = None;
    for backend in Backend::ALL {
        let source =
            if backend.wants_onnx() { Source::Onnx(&onnx) } else { Source::Params { arch: &arch, h, params: &params } };
        let mut engine = match backend.load(&source) {
            Ok(e) => e,
            Err(e) => {
                notes.push(format!("{backend}: skipped: {e:#}"));
                continue;
            }
        };
        let load = time(args.reps, || backend.load(&source))?;
        let mut switcher = Switcher::new(net.clone(), backend).with_threads(metamorph_host::machine::cores());
        let switch = time(args.reps, || switcher.switch(&budget))?;
        let phases = switcher.switch(&budget)?.timings;
        notes.push(format!(
            "{backend}: one more switch: materialise {}, export {}, load {}, plan {}",
            ms(phases.materialise),
            ms(phases.export),
            ms(phases.load),
            ms(phases.plan)
        ));
        rows.push(Row {
            measure: format!("{backend}: switch (budget → runnable)"),
            value: ms(switch),
            reference: format!("{} load", ms(load)),
            ratio: ratio(switch, load),
        });
        let one = time(args.reps * 4, || engine.run(&x1, 1))?;
        let many = time(args.reps, || engine.run(&xb, args.batch))?;
        let (ref_one, ref_many) = *native_infer.get_or_insert((one, many));
        rows.push(Row {
            measure: format!("{backend}: inference, batch 1"),
            value: ms(one),
            reference: format!("{} native", ms(ref_one)),
            ratio: ratio(one, ref_one),
        });
        rows.push(Row {
            measure: format!("{backend}: inference, batch {}", args.batch),
            value: ms(many),
            reference: format!("{} native", ms(ref_many)),
            ratio: ratio(many, ref_many),
        });
        notes.push(format!("{backend}: {}", engine.describe()));
    }

    // A slimmable network copies its member from the file: there is no INR to time.
    if net.inr().is_some() {
        let (inr_flops, inr_time) = inr_throughput(&net, h, args.reps)?;
        let gemm_time = time(args.reps, || gemm_same_shapes(&net, h))?;
        let gflops = |t: Duration| inr_flops as f64 / t.as_secs_f64() / 1e9;
        rows.push(Row {
            measure: "INR materialisation throughput".into(),
            value: format!("{:.2} GFLOP/s", gflops(inr_time)),
            reference: format!("{:.2} GFLOP/s GEMM", gflops(gemm_time)),
            ratio: format!("{:.2}×", gflops(inr_time) / gflops(gemm_time)),
        });
        notes.push(format!(
            "INR: {:.3} GFLOP per materialisation by the definition (MLP GEMMs of every row); the GEMM reference runs those shapes without features or activations",
            inr_flops as f64 / 1e9
        ));
        notes.push("INR: pair weights' noise-free first layer is separable (A[i] + B[j]), so materialisation runs fewer FLOPs than the definition and can exceed the GEMM reference".into());
    }
    let m = Materialiser::new(&net, h, 1, 0)?;
    let peak = (m.largest_tensor() + m.scratch_len()) * 4;
    rows.push(Row {
        measure: "materialisation peak RAM, one thread".into(),
        value: human_bytes(peak),
        reference: format!("{} weights", human_bytes(costs.weight_bytes)),
        ratio: format!("{:.2}×", peak as f64 / costs.weight_bytes as f64),
    });

    let title = format!(
        "{name}: {} params, {} ONNX bytes, median of {} runs; switches materialise on {} threads, the INR throughput row on one",
        params.len(),
        human_bytes(onnx.len()),
        args.reps,
        metamorph_host::machine::cores()
    );
    if args.markdown {
        print_markdown(args, &title, &rows, &notes);
    } else {
        print_text(&title, &rows, &notes);
    }
    Ok(())
}

fn print_text(title: &str, rows: &[Row], notes: &[String]) {
    println!("{title}");
    let w = [42, 18, 24, 8];
    println!(
        "{:<w0$} {:>w1$} {:>w2$} {:>w3$}",
        "measure",
        "value",
        "reference",
        "ratio",
        w0 = w[0],
        w1 = w[1],
        w2 = w[2],
        w3 = w[3]
    );
    println!("{}", "-".repeat(w.iter().sum::<usize>() + 3));
    for r in rows {
        println!(
            "{:<w0$} {:>w1$} {:>w2$} {:>w3$}",
            r.measure,
            r.value,
            r.reference,
            r.ratio,
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
    }
    for n in notes {
        println!("  {n}");
    }
}

/// One section for `docs/RESULTS.md`, between `<!-- bench:FILE -->` markers so
/// `scripts/bench-results.sh` can replace it when rerun.
fn print_markdown(args: &Args, title: &str, rows: &[Row], notes: &[String]) {
    let file = args.file.display();
    let stem = args.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    println!("<!-- bench:{stem} -->");
    println!("## Performance: {stem}\n");
    println!("Produced by\n\n```sh\ncargo run --release --bin metamorph -- bench {file} --width {} --reps {} --batch {} --markdown\n```\n", args.width, args.reps, args.batch);
    println!("Machine: {}.\n", machine());
    println!("{title}.\n");
    println!("| measure | value | reference | ratio |\n|---|---:|---:|---:|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.measure, r.value, r.reference, r.ratio);
    }
    println!();
    for n in notes {
        println!("- {n}");
    }
    println!("\n<!-- /bench:{stem} -->");
}

/// CPU model and core count of this machine.
fn machine() -> String {
    let model = machine::cpu_name().unwrap_or_else(|| "unknown CPU".into());
    format!("{model}, {} cores available, CPU only", machine::cores())
}

fn inr_throughput(net: &Hypernet<'_>, h: usize, reps: usize) -> Result<(usize, Duration)> {
    let m = Materialiser::new(net, h, 1, 0)?;
    let flops = m.gemms().map(|(r, i, o)| 2 * r * i * o).sum();
    let mut out = vec![0.0; m.total_len()];
    let mut scratch = vec![0.0; m.scratch_len()];
    let t = time(reps, || m.all(&mut out, &mut scratch).map(|_| ()).map_err(anyhow::Error::from))?;
    Ok((flops, t))
}

/// The definition's GEMMs for `h` as bare [`linear`] calls (no bias, activation or features).
fn gemm_same_shapes(net: &Hypernet<'_>, h: usize) -> Result<()> {
    let m = Materialiser::new(net, h, 1, 0)?;
    let big = m.gemms().map(|(r, i, o)| (r * i).max(i * o).max(r * o)).max().unwrap_or(0);
    let (a, b, mut c) = (vec![0.5f32; big], vec![0.25f32; big], vec![0.0f32; big]);
    for (r, i, o) in m.gemms() {
        linear(&a[..r * i], &b[..i * o], &[], r, i, o, &mut c[..r * o])?;
    }
    std::hint::black_box(&c);
    Ok(())
}
