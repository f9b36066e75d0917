//! The budget planner: the largest width whose costs fit a device budget.
//!
//! ```
//! use metamorph::plan::{plan, Budget};
//! use metamorph::spec::{ArchSpec, Dim, Layer};
//! let mlp = ArchSpec::new("mlp", [1, 28, 28], 256, 8, &[
//!     Layer::Flatten, Layer::Dense { out: Dim::Width(1) }, Layer::Relu, Layer::Dense { out: Dim::Fixed(10) },
//! ]).unwrap();
//! // 100 kB of weights: (784 + 1 + 10) · h · 4 + 40 <= 100_000  →  h = 31.
//! let p = plan(&mlp, 0, &Budget { max_weight_bytes: Some(100_000), ..Budget::default() }).unwrap();
//! assert_eq!(p.costs.h, 31);
//! ```

use crate::error::{Error, Result};
use crate::exec;
use crate::spec::{ArchSpec, Costs};

/// Limits a member must fit; `None` means unconstrained.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// Bytes of f32 weights.
    pub max_weight_bytes: Option<usize>,
    /// Peak RAM: weights + activations + materialisation scratch (+ any fixed overhead).
    pub max_ram_bytes: Option<usize>,
    /// Multiply-accumulates per inference.
    pub max_macs: Option<usize>,
    /// Latency target, converted to MACs through the device's measured throughput.
    pub latency: Option<Latency>,
}

/// A latency target and the device calibration that turns it into a MAC budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Target milliseconds per inference.
    pub target_ms: f32,
    /// Measured multiply-accumulates per second of this device's executor.
    pub macs_per_second: f32,
}

impl Latency {
    /// Estimated milliseconds for `macs`.
    pub fn estimate_ms(&self, macs: usize) -> f32 {
        macs as f32 / self.macs_per_second * 1000.0
    }
}

/// The chosen member and what it costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Width fraction `h / h_max`.
    pub width: f32,
    /// Costs at the chosen base width (`costs.h`).
    pub costs: Costs,
    /// Peak RAM counted against the budget: weights (for [`plan_streamed`], the largest layer's)
    /// + activations + overhead.
    pub ram_bytes: usize,
}

impl Budget {
    /// Whether `costs` (with `overhead_bytes` of fixed RAM) fits.
    pub fn fits(&self, costs: &Costs, overhead_bytes: usize) -> bool {
        self.fits_ram(costs, ram_bytes(costs, overhead_bytes))
    }

    /// Whether `costs` fits when the member's peak RAM is `ram`.
    fn fits_ram(&self, costs: &Costs, ram: usize) -> bool {
        let ok = |limit: Option<usize>, v: usize| limit.is_none_or(|l| v <= l);
        let latency_ok =
            self.latency.is_none_or(|l| l.macs_per_second > 0.0 && l.estimate_ms(costs.macs) <= l.target_ms);
        ok(self.max_weight_bytes, costs.weight_bytes)
            && ok(self.max_ram_bytes, ram)
            && ok(self.max_macs, costs.macs)
            && latency_ok
    }
}

fn ram_bytes(costs: &Costs, overhead_bytes: usize) -> usize {
    costs.weight_bytes.saturating_add(costs.activation_bytes).saturating_add(overhead_bytes)
}

/// The largest base width in `[h_min, h_max]` that fits `budget`, counting `overhead_bytes`
/// (materialisation scratch, caches) in RAM. Scans every width, so it stays correct even if a
/// family's costs were not monotone. Errors with [`Error::NothingFits`] if no width fits.
pub fn plan(arch: &ArchSpec, overhead_bytes: usize, budget: &Budget) -> Result<Plan> {
    scan(arch, budget, |_, costs| Ok(ram_bytes(costs, overhead_bytes)))
}

/// As [`plan`], for a member run layer by layer ([`exec::run_streamed`]): each layer's parameters
/// are generated just before it runs, into one buffer of [`exec::layer_len`] `f32`s, so RAM counts
/// that buffer instead of all weights (plus activations and `overhead_bytes`, as in [`plan`]).
/// The weight, MAC and latency limits apply as in [`plan`].
///
/// ```
/// use metamorph::plan::{plan, plan_streamed, Budget};
/// use metamorph::spec::{ArchSpec, Dim, Layer};
/// let mlp = ArchSpec::new("mlp", [1, 4, 4], 64, 1, &[
///     Layer::Flatten, Layer::Dense { out: Dim::Width(1) }, Layer::Relu,
///     Layer::Dense { out: Dim::Width(1) }, Layer::Relu, Layer::Dense { out: Dim::Fixed(10) },
/// ]).unwrap();
/// let budget = Budget { max_ram_bytes: Some(8_000), ..Budget::default() };
/// // All weights: (h² + 28h + 10) · 4 + activations 2 · max(16, h) · 4 <= 8000  →  h = 32.
/// assert_eq!(plan(&mlp, 0, &budget).unwrap().costs.h, 32);
/// // The largest layer only: (h² + h) · 4 + 2 · max(16, h) · 4 <= 8000  →  h = 43.
/// assert_eq!(plan_streamed(&mlp, 0, &budget).unwrap().costs.h, 43);
/// ```
pub fn plan_streamed(arch: &ArchSpec, overhead_bytes: usize, budget: &Budget) -> Result<Plan> {
    scan(arch, budget, |h, costs| {
        let layer = exec::layer_len(arch, h)?.checked_mul(4).ok_or(Error::Overflow)?;
        Ok(layer.saturating_add(costs.activation_bytes).saturating_add(overhead_bytes))
    })
}

/// The largest width whose costs fit `budget` when its peak RAM is `ram_of(h, costs)`.
fn scan(arch: &ArchSpec, budget: &Budget, ram_of: impl Fn(usize, &Costs) -> Result<usize>) -> Result<Plan> {
    for h in (arch.h_min as usize..=arch.h_max as usize).rev() {
        let costs = arch.costs(h)?;
        let ram = ram_of(h, &costs)?;
        if budget.fits_ram(&costs, ram) {
            return Ok(Plan { width: arch.width_of(h), costs, ram_bytes: ram });
        }
    }
    Err(Error::NothingFits)
}
