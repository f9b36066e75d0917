//! Width switching in memory: budget → plan → materialise → ONNX bytes → engine, no files.
//!
//! A [`Switcher`] holds a decoded hypernet and a [`Backend`]. [`Switcher::switch`] plans the
//! widest member that fits a [`Budget`], materialises it, writes it as ONNX (for ONNX backends)
//! and loads it, timing each phase. The planner's fixed RAM overhead is the materialiser's
//! scratch plus, when enabled, the per-width ONNX cache's current bytes.
//!
//! ```
//! # use metamorph::{format, inr::InrConfig, spec::{ArchSpec, Dim, Layer}};
//! use metamorph::plan::Budget;
//! use metamorph_host::{engine::Backend, switch::Switcher};
//! # let arch = ArchSpec::new("tiny", [1, 2, 2], 4, 1, &[
//! #     Layer::Flatten, Layer::Dense { out: Dim::Width(1) }, Layer::Relu, Layer::Dense { out: Dim::Fixed(2) },
//! # ]).unwrap();
//! # let inr = InrConfig { bands: 1, hidden: 4, depth: 1, norm: 4.0 };
//! # let bytes = format::OwnedHypernet::zeros(arch, inr, "none").unwrap().to_bytes().unwrap();
//! let net = format::read(&bytes).unwrap();
//! let mut switcher = Switcher::new(net, Backend::Tract);
//! let mut active = switcher.switch(&Budget { max_macs: Some(20), ..Budget::default() }).unwrap();
//! assert_eq!(active.plan.costs.h, 3); // (4 + 2) · h <= 20 → h = 3 of 4
//! assert_eq!(active.engine.run(&[0.0; 4], 1).unwrap(), [0.0, 0.0]);
//! ```

use crate::engine::{Backend, Engine, Source};
use crate::onnx::{to_onnx, Provenance};
use anyhow::{Context, Result};
use metamorph::format::Hypernet;
use metamorph::materialise::Materialiser;
use metamorph::plan::{plan, Budget, Plan};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Where one switch spent its time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Planning.
    pub plan: Duration,
    /// Evaluating the INR into parameters (zero on a cache hit).
    pub materialise: Duration,
    /// Writing the ONNX bytes (zero for the native backend and on a cache hit).
    pub export: Duration,
    /// Loading the engine.
    pub load: Duration,
}

impl Timings {
    /// Budget change → runnable model.
    pub fn total(&self) -> Duration {
        self.plan + self.materialise + self.export + self.load
    }
}

/// The member currently loaded, with its engine.
pub struct Active {
    /// The chosen width and its costs.
    pub plan: Plan,
    /// The loaded engine.
    pub engine: Box<dyn Engine>,
    /// Time per phase of this switch.
    pub timings: Timings,
    /// Bytes of the ONNX model (0 for the native backend).
    pub onnx_bytes: usize,
    /// Whether the member came from the cache.
    pub cached: bool,
}

/// Switches a hypernet's width in memory. See the [module docs](self).
pub struct Switcher<'a> {
    net: Hypernet<'a>,
    backend: Backend,
    samples: u32,
    seed: u64,
    cache_limit: usize,
    cache: BTreeMap<usize, Member>,
    threads: usize,
}

impl<'a> Switcher<'a> {
    /// A switcher for `net` on `backend`, with one INR sample per weight, seed 0, no cache and
    /// one materialising thread.
    pub fn new(net: Hypernet<'a>, backend: Backend) -> Self {
        Switcher { net, backend, samples: 1, seed: 0, cache_limit: 0, cache: BTreeMap::new(), threads: 1 }
    }

    /// Uses `samples` INR queries per weight (`K`, at least 1) and noise seed `seed`.
    pub fn with_samples(mut self, samples: u32, seed: u64) -> Self {
        self.samples = samples;
        self.seed = seed;
        self
    }

    /// Materialises with up to `threads` threads (at least 1). Each thread has its own scratch,
    /// and [`Switcher::overhead_bytes`] counts all of them; the weights are the same bits.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Keeps the serialised members (ONNX bytes, or raw parameters for the native backend) of
    /// recently used widths, up to `max_bytes` in all. The cache's bytes count in the planner's
    /// RAM overhead, so a tight budget evicts it.
    pub fn with_cache(mut self, max_bytes: usize) -> Self {
        self.cache_limit = max_bytes;
        self
    }

    /// The hypernet.
    pub fn net(&self) -> &Hypernet<'a> {
        &self.net
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Bytes currently held by the cache.
    pub fn cache_bytes(&self) -> usize {
        self.cache.values().map(Member::bytes).sum()
    }

    /// Fixed RAM the planner adds to every member: materialiser scratch (per thread) plus cache bytes.
    pub fn overhead_bytes(&self) -> usize {
        metamorph::materialise::scratch_len(&self.net) * 4 * self.threads + self.cache_bytes()
    }

    /// Plans the widest member that fits `budget` (counting [`Switcher::overhead_bytes`]).
    /// If nothing fits while the cache holds bytes, the cache is dropped and planning retried.
    pub fn plan(&mut self, budget: &Budget) -> Result<Plan> {
        match plan(&self.net.arch, self.overhead_bytes(), budget) {
            Err(_) if !self.cache.is_empty() => {
                self.cache.clear();
                self.plan(budget)
            }
            r => r.with_context(|| format!("planning {} for {budget:?}", self.net.arch.name)),
        }
    }

    /// Plans for `budget`, then builds and loads the chosen member.
    pub fn switch(&mut self, budget: &Budget) -> Result<Active> {
        let t = Instant::now();
        let p = self.plan(budget)?;
        let plan_time = t.elapsed();
        let mut active = self.build(p.costs.h)?;
        active.plan = p;
        active.timings.plan = plan_time;
        Ok(active)
    }

    /// Materialises and loads the member of base width `h` (no planning).
    pub fn build(&mut self, h: usize) -> Result<Active> {
        let arch = &self.net.arch;
        let name = arch.name.as_str();
        let costs = arch.costs(h).with_context(|| format!("{name} at h = {h}"))?;
        let ram_bytes = costs.weight_bytes + costs.activation_bytes + self.overhead_bytes();
        let plan = Plan { width: arch.width_of(h), costs, ram_bytes };
        let mut timings = Timings::default();
        let cached = self.cache.contains_key(&h);
        let fresh = match self.cache.get(&h) {
            Some(_) => None,
            None => {
                let t = Instant::now();
                let params = self.materialise(h)?;
                timings.materialise = t.elapsed();
                Some(if self.backend.wants_onnx() {
                    let t = Instant::now();
                    let onnx = to_onnx(arch, h, &params, &Provenance::of(&self.net))
                        .with_context(|| format!("writing {name} at width {:.3} (h = {h}) as ONNX", plan.width))?;
                    timings.export = t.elapsed();
                    Member::Onnx(onnx)
                } else {
                    Member::Params(params)
                })
            }
        };
        let member = fresh.as_ref().or(self.cache.get(&h)).context("a member is either cached or fresh")?;
        let t = Instant::now();
        let engine = match member {
            Member::Onnx(bytes) => self.backend.load(&Source::Onnx(bytes)),
            Member::Params(params) => self.backend.load(&Source::Params { arch, h, params }),
        }
        .with_context(|| format!("loading {name} at width {:.3} (h = {h}) into {}", plan.width, self.backend))?;
        timings.load = t.elapsed();
        let onnx_bytes = match member {
            Member::Onnx(bytes) => bytes.len(),
            Member::Params(_) => 0,
        };
        if let Some(m) = fresh.filter(|_| self.cache_limit > 0) {
            self.remember(h, m);
        }
        Ok(Active { plan, engine, timings, onnx_bytes, cached })
    }

    /// The parameters of base width `h`, all tensors in canonical order.
    pub fn materialise(&self, h: usize) -> Result<Vec<f32>> {
        let name = self.net.arch.name.as_str();
        Materialiser::new(&self.net, h, self.samples, self.seed)
            .map_err(anyhow::Error::from)
            .and_then(|m| crate::threads::materialise(&m, self.threads))
            .with_context(|| format!("materialising {name} at h = {h} (K = {})", self.samples))
    }

    fn remember(&mut self, h: usize, member: Member) {
        if member.bytes() > self.cache_limit {
            return;
        }
        while self.cache_bytes() + member.bytes() > self.cache_limit {
            // Evict the width farthest from the new one.
            let far = self.cache.keys().copied().max_by_key(|k| k.abs_diff(h));
            match far {
                Some(k) => self.cache.remove(&k),
                None => break,
            };
        }
        self.cache.insert(h, member);
    }
}

/// A serialised member: ONNX bytes for ONNX backends, raw parameters for the native one.
enum Member {
    Onnx(Vec<u8>),
    Params(Vec<f32>),
}

impl Member {
    /// Bytes held.
    fn bytes(&self) -> usize {
        match self {
            Member::Onnx(b) => b.len(),
            Member::Params(p) => p.len() * 4,
        }
    }
}
