//! `metamorph-train report`: a hypernet against its baselines over a width sweep, written to
//! `docs/RESULTS.md` (one section per preset), `docs/accuracy-<preset>.svg` and
//! `docs/bytes-<preset>.svg`.
//!
//! At every width of [`REPORT_WIDTHS`] it measures the test accuracy of
//! - the hypernet, materialised by the runtime from the file's bytes with `K = 1` and
//!   `K = 10` samples ([`crate::export::runtime_member`]);
//! - a net individually trained at that width, to convergence or for a fixed epoch budget, and
//!   cached ([`individual`]), at fp32 and quantised to int8 ([`int8`]);
//! - optionally a slimmable file's member, re-encoded at fp32 and at int8;
//! - the full-width base net sliced to its first channels ([`baselines::slice`]);
//! - the full-width base net magnitude-pruned to that width ([`baselines::prune`]);
//!
//! then the storage of each option ([`storage::Storage`]), the best int8 zoo at three byte
//! budgets ([`zoo::best`]) and a PASS/MISS verdict on every target ([`targets::evaluate`]), all
//! computed from the measured numbers.
//!
//! ```
//! use metamorph_trainer::report::REPORT_WIDTHS;
//! assert_eq!(REPORT_WIDTHS.len(), 7);
//! assert_eq!(REPORT_WIDTHS[6], 0.25);
//! ```

pub mod baselines;
pub mod individual;
pub mod int8;
pub mod plot;
pub mod slim_cut;
pub mod storage;
pub mod table;
pub mod targets;
pub mod zoo;

use crate::base::{self, BaseOptions, Checkpoint};
use crate::data::{Dataset, Split};
use crate::export::runtime_member;
use crate::preset::Preset;
use anyhow::{ensure, Context, Result};
use candle_core::Tensor;
use metamorph_host::fs::repo_root;
use std::path::{Path, PathBuf};
use std::time::Instant;
use storage::Storage;

/// Width fractions of the sweep, widest first. 25 % is meant to be unseen in training.
pub const REPORT_WIDTHS: [f32; 7] = [1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25];

/// INR samples `K` of the two hypernet columns.
pub const SAMPLES: [u32; 2] = [1, 10];

/// Everything `report` needs.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    /// Preset name (`models/<name>.json`) or JSON path.
    pub preset: String,
    /// The hypernet file to evaluate.
    pub hypernet: PathBuf,
    /// Full-width base checkpoint for slicing and pruning (default: trained here with the
    /// preset's base recipe and `seed`, which is what `fit` trains with the same seed).
    pub base: Option<PathBuf>,
    /// Where `RESULTS.md` and the plot go (default: the repository's `docs/`).
    pub out_dir: Option<PathBuf>,
    /// Train every individually trained net for this many epochs instead of to convergence.
    pub epochs: Option<usize>,
    /// Where trained individual nets are cached (default: `.cache/individual/` in the repository).
    pub cache: Option<PathBuf>,
    /// A slimmable hypernet file of the family (`metamorph-train slimmable`) to compare, re-encoded
    /// at fp32 and at int8.
    pub slimmable: Option<PathBuf>,
    /// Use only the first `limit` training and test examples (quick checks).
    pub limit: Option<usize>,
    /// Seed of every trained net (the runtime's `K > 1` noise always uses seed 0).
    pub seed: u64,
    /// `cpu` or `cuda[:N]`.
    pub device: String,
    /// Show progress bars and per-width lines on stderr.
    pub progress: bool,
}

impl ReportArgs {
    /// The `metamorph-train report` command line that reproduces these arguments.
    pub fn command_line(&self) -> String {
        let mut c = format!(
            "cargo run --release --bin metamorph-train -- report --preset {} --hypernet {}",
            self.preset,
            self.hypernet.display()
        );
        if let Some(b) = &self.base {
            c += &format!(" --base {}", b.display());
        }
        if let Some(d) = &self.out_dir {
            c += &format!(" --out-dir {}", d.display());
        }
        if let Some(e) = self.epochs {
            c += &format!(" --epochs {e}");
        }
        if let Some(s) = &self.slimmable {
            c += &format!(" --slimmable {}", s.display());
        }
        if let Some(d) = &self.cache {
            c += &format!(" --cache {}", d.display());
        }
        if let Some(n) = self.limit {
            c += &format!(" --limit {n}");
        }
        if self.seed != 0 {
            c += &format!(" --seed {}", self.seed);
        }
        if self.device != "cpu" {
            c += &format!(" --device {}", self.device);
        }
        c
    }

    /// The output directory: `out_dir`, or the repository's `docs/`.
    pub fn out_dir(&self) -> PathBuf {
        self.out_dir.clone().unwrap_or_else(|| repo_root().join("docs"))
    }

    /// The folder caching the individually trained nets: `cache`, or `.cache/individual/` in the
    /// repository.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(|| repo_root().join(".cache/individual"))
    }
}

/// Test accuracies (in `[0, 1]`) at one width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Width fraction.
    pub width: f32,
    /// Base width `h = arch.base_width(width)`.
    pub h: usize,
    /// The hypernet at `K = SAMPLES[0]` and `K = SAMPLES[1]`.
    pub hypernet: [f32; 2],
    /// The net individually trained at this width.
    pub individual: f32,
    /// Its epochs trained and the epoch kept.
    pub individual_epochs: [usize; 2],
    /// That net quantised to int8 ([`int8::quantise`]).
    pub individual_int8: f32,
    /// Its int8 bytes.
    pub int8_bytes: u64,
    /// The slimmable net's member at this width, fp32 and int8 (when the report has one).
    pub slimmable: Option<[f32; 2]>,
    /// The full-width base net sliced to its first channels.
    pub sliced: f32,
    /// The full-width base net magnitude-pruned to this width.
    pub pruned: f32,
}

/// The machine a report ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Logical CPUs available to the process (what `nproc` prints).
    pub cpus: usize,
    /// `model name` of `/proc/cpuinfo`, or `unknown`.
    pub cpu_model: String,
    /// The candle device (`cpu`, `cuda:0`).
    pub device: String,
}

impl Machine {
    /// This machine, running on `device`.
    pub fn detect(device: &str) -> Self {
        let cpu_model = metamorph_host::machine::cpu_name().unwrap_or_else(|| "unknown".into());
        let cpus = metamorph_host::machine::cores();
        Machine { cpus, cpu_model, device: device.into() }
    }
}

/// Wall-clock seconds of the parts of a report.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    /// Materialising and evaluating the hypernet at every width and `K`.
    pub hypernet: f64,
    /// Training the individually trained nets (the base included when it is trained here).
    pub individual: f64,
    /// Everything, writing excluded.
    pub total: f64,
}

/// A finished report: what `docs/RESULTS.md` and the plot are rendered from.
#[derive(Debug, Clone)]
pub struct Report {
    /// Preset name (the section's key in `RESULTS.md` and the plot's file name).
    pub name: String,
    /// Data set.
    pub dataset: String,
    /// The command that reproduces the report.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// The hypernet file as named on the command line.
    pub hypernet_path: String,
    /// Smallest and largest base width the hypernet saw in training (from its metadata).
    pub trained_h: [u16; 2],
    /// The family's largest base width.
    pub h_max: usize,
    /// Where the full-width base net came from, in words.
    pub base_source: String,
    /// Its test accuracy.
    pub base_accuracy: f32,
    /// How the individually trained nets were trained, in words.
    pub recipe: String,
    /// Training and test examples used.
    pub examples: [usize; 2],
    /// Whether `--limit` cut the data.
    pub limited: bool,
    /// One row per width of [`REPORT_WIDTHS`].
    pub rows: Vec<Row>,
    /// Bytes of each option.
    pub storage: Storage,
    /// The slimmable net compared, if any: its file and its file bytes at fp32 and at int8.
    pub slimmable: Option<(String, [u64; 2])>,
    /// The best int8 zoo of the sweep's individually trained nets at half, once and twice the
    /// hypernet's bytes: `(budget, zoo)`, `None` where no net fits.
    pub zoos: Vec<(u64, Option<zoo::Zoo>)>,
    /// With a slimmable file, its widest int8 cut at the same budgets: `(budget, cut)`, `None`
    /// where not even its narrowest member fits.
    pub slim_cuts: Vec<(u64, Option<slim_cut::SlimCut>)>,
    /// Timings.
    pub seconds: Timings,
}

impl Report {
    /// The row of width fraction `w`, if the sweep has it.
    pub fn row(&self, w: f32) -> Option<&Row> {
        self.rows.iter().find(|r| r.width == w)
    }

    /// Whether base width `h` lies outside the hypernet's training range.
    pub fn unseen(&self, h: usize) -> bool {
        h < self.trained_h[0] as usize || h > self.trained_h[1] as usize
    }
}

/// Measures everything of a report (no files written); see the module docs.
pub fn measure(args: &ReportArgs) -> Result<Report> {
    let start = Instant::now();
    let preset = Preset::load(&args.preset)?;
    let arch = &preset.arch;
    let dev = &crate::device::device(&args.device)?;
    let mut train = Dataset::load(&preset.dataset, Split::Train)?;
    let mut test = Dataset::load(&preset.dataset, Split::Test)?;
    if let Some(n) = args.limit {
        train = train.take(n);
        test = test.take(n);
    }
    let bytes =
        std::fs::read(&args.hypernet).with_context(|| format!("reading hypernet {}", args.hypernet.display()))?;
    let net = metamorph::format::read(&bytes)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("decoding hypernet {}", args.hypernet.display()))?;
    ensure!(
        net.arch == *arch,
        "{} holds family {} which differs from preset {}",
        args.hypernet.display(),
        net.arch.name,
        args.preset
    );
    let trained_h = net.meta.trained_h;
    let h_max = arch.h_max as usize;
    // Every other input file is read and checked before the sweep trains anything.
    let given_base = match &args.base {
        Some(path) => {
            let ckpt = Checkpoint::load(path, dev)?;
            ensure!(
                ckpt.arch == *arch && ckpt.h == h_max,
                "{} is not a full-width {} network",
                path.display(),
                arch.name
            );
            Some((ckpt.params, format!("checkpoint `{}`", path.display())))
        }
        None => None,
    };
    // The slimmable net's file, re-encoded at fp32 and at int8: both columns are measured on the
    // bytes a device would flash.
    let slim = match &args.slimmable {
        Some(path) => {
            let file = std::fs::read(path).with_context(|| format!("reading slimmable net {}", path.display()))?;
            let net = metamorph::format::read(&file)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("decoding {}", path.display()))?;
            ensure!(
                net.kind() == "slimmable" && net.arch == *arch,
                "{} is not a slimmable {} network (metamorph-train slimmable writes one)",
                path.display(),
                arch.name
            );
            let owned = metamorph::format::OwnedHypernet::from_hypernet(&net).map_err(anyhow::Error::msg)?;
            let encode = |dtype| owned.to_bytes_as(dtype).map_err(anyhow::Error::msg);
            let files = [encode(metamorph::format::DType::F32)?, encode(metamorph::format::DType::I8)?];
            Some((path.display().to_string(), files))
        }
        None => None,
    };
    let recipe = match args.epochs {
        Some(n) => individual::Recipe::Epochs(n),
        None => individual::Recipe::Converge(Default::default()),
    };
    let cache = args.cache_dir();
    let log = |s: String| {
        if args.progress {
            eprintln!("{s}");
        }
    };

    let mut seconds = Timings::default();
    let mut individual = Vec::new();
    let mut base_params: Option<Vec<Tensor>> = None;
    // Narrowest first: they train fastest, so a sweep cut short leaves the most nets cached.
    for w in REPORT_WIDTHS.into_iter().rev() {
        let h = arch.base_width(w);
        let mut opts = BaseOptions::from_preset(&preset, Some(h));
        opts.seed = args.seed;
        opts.progress = args.progress;
        let trained = individual::get(Some(&cache), arch, &opts, &recipe, &train, dev)
            .with_context(|| format!("training the individual {} net at h = {h}", arch.name))?;
        seconds.individual += trained.seconds;
        let acc = base::evaluate(arch, h, &trained.params, &test, dev)?;
        let quantised = int8::quantise(&trained.params)?;
        let acc_int8 = base::evaluate(arch, h, &quantised.params, &test, dev)?;
        log(format!(
            "individually trained h = {h}: {:.2}%, int8 {:.2}% ({} epochs, kept {}; {:.1} s{})",
            100.0 * acc,
            100.0 * acc_int8,
            trained.epochs[0],
            trained.epochs[1],
            trained.seconds,
            if trained.cached { ", cached" } else { "" }
        ));
        if h == h_max && base_params.is_none() {
            base_params = Some(trained.params);
        }
        individual.push((acc, acc_int8, quantised.bytes, trained.epochs));
    }
    individual.reverse();

    let (base_params, base_source) = match given_base {
        Some(given) => given,
        None => (
            base_params.context("the sweep has no full-width member")?,
            format!("trained here: the 100 % individually trained net (seed {})", args.seed),
        ),
    };
    let base_accuracy = base::evaluate(arch, h_max, &base_params, &test, dev)?;

    let mut rows = Vec::new();
    for (w, (individual, individual_int8, int8_bytes, individual_epochs)) in REPORT_WIDTHS.into_iter().zip(individual) {
        let h = arch.base_width(w);
        let t = Instant::now();
        let mut hypernet = [0.0; 2];
        for (acc, k) in hypernet.iter_mut().zip(SAMPLES) {
            let params =
                runtime_member(&bytes, h, k, dev).with_context(|| format!("materialising h = {h}, K = {k}"))?;
            *acc = base::evaluate(arch, h, &params, &test, dev)?;
        }
        seconds.hypernet += t.elapsed().as_secs_f64();
        let slimmable = match &slim {
            Some((_, files)) => {
                let mut acc = [0.0; 2];
                for (a, file) in acc.iter_mut().zip(files) {
                    *a = base::evaluate(arch, h, &runtime_member(file, h, 1, dev)?, &test, dev)?;
                }
                Some(acc)
            }
            None => None,
        };
        let sliced = base::evaluate(arch, h, &baselines::slice(arch, &base_params, h)?, &test, dev)?;
        let pruned = base::evaluate(arch, h, &baselines::prune(arch, &base_params, h)?, &test, dev)?;
        log(format!(
            "h = {h:>4}: hypernet K=1 {:.2}%  K=10 {:.2}%  individual {:.2}%  slicing {:.2}%  pruning {:.2}%",
            100.0 * hypernet[0],
            100.0 * hypernet[1],
            100.0 * individual,
            100.0 * sliced,
            100.0 * pruned
        ));
        rows.push(Row {
            width: w,
            h,
            hypernet,
            individual,
            individual_epochs,
            individual_int8,
            int8_bytes,
            slimmable,
            sliced,
            pruned,
        });
    }
    let widths: Vec<usize> = rows.iter().map(|r| r.h).collect();
    let storage = Storage::new(arch, bytes.len() as u64, &widths)?;
    let candidates: Vec<zoo::Candidate> =
        rows.iter().map(|r| zoo::Candidate { h: r.h, bytes: r.int8_bytes, accuracy: r.individual_int8 }).collect();
    let file = bytes.len() as u64;
    let budgets = [file / 2, file, 2 * file];
    let zoos = budgets
        .map(|budget| Ok((budget, zoo::best(&candidates, budget, &widths)?)))
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let slim_cuts = match &slim {
        Some((_, [fp32, _])) => budgets
            .map(|budget| Ok((budget, slim_cut::measure(fp32, budget, arch, &widths, &test, dev)?)))
            .into_iter()
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    seconds.total = start.elapsed().as_secs_f64();
    Ok(Report {
        // The preset's name, not the family's: one family can ship several hypernets.
        name: Path::new(&args.preset).file_stem().map_or(args.preset.clone(), |s| s.to_string_lossy().into_owned()),
        dataset: preset.dataset.clone(),
        command: args.command_line(),
        machine: Machine::detect(&args.device),
        hypernet_path: args.hypernet.display().to_string(),
        trained_h,
        h_max,
        base_source,
        base_accuracy,
        recipe: recipe.describe(),
        examples: [train.n, test.n],
        limited: args.limit.is_some(),
        rows,
        storage,
        slimmable: slim.map(|(path, [fp32, int8])| (path, [fp32.len() as u64, int8.len() as u64])),
        zoos,
        slim_cuts,
        seconds,
    })
}

/// Files a report wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The markdown file (its section for this preset replaced).
    pub results: PathBuf,
    /// The accuracy-vs-width plot.
    pub plot: PathBuf,
    /// The accuracy-vs-bytes plot.
    pub bytes_plot: PathBuf,
}

/// Writes `report` into `dir`: its section of `RESULTS.md` (other sections kept) and
/// `accuracy-<name>.svg`, both atomically.
pub fn write(report: &Report, dir: &Path) -> Result<Written> {
    let plot = dir.join(plot::file_name(&report.name));
    metamorph_host::fs::write_bytes_atomic(&plot, plot::svg(report)?.as_bytes())?;
    let bytes_plot = dir.join(plot::bytes_file_name(&report.name));
    metamorph_host::fs::write_bytes_atomic(&bytes_plot, plot::bytes_svg(report)?.as_bytes())?;
    let results = dir.join("RESULTS.md");
    table::write(&results, &report.name, &table::section(report))?;
    Ok(Written { results, plot, bytes_plot })
}

/// Measures and writes a report; what `metamorph-train report` runs.
pub fn run(args: &ReportArgs) -> Result<(Report, Written)> {
    metamorph_host::fs::check_writable(&args.out_dir().join("RESULTS.md"))?;
    // The cache is written after the first net is trained: a folder that cannot be made or
    // written is refused now. (Making it is what the first write would do anyway.)
    let cache = args.cache_dir();
    std::fs::create_dir_all(&cache).with_context(|| format!("creating the cache folder {}", cache.display()))?;
    metamorph_host::fs::check_writable(&cache.join("individual.safetensors"))?;
    let report = measure(args)?;
    let written = write(&report, &args.out_dir())?;
    Ok((report, written))
}
