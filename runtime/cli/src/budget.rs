//! The budget flags shared by `plan`, `materialise` and `eval`.

use anyhow::{bail, ensure, Result};
use metamorph::plan::{Budget, Latency};
use metamorph::spec::ArchSpec;

/// Device budget flags; any subset may be given.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BudgetArgs {
    /// Most bytes of f32 weights.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<usize>,
    /// Most peak RAM bytes (weights + activations + materialisation scratch).
    #[arg(long, value_name = "BYTES")]
    pub max_ram: Option<usize>,
    /// Most multiply-accumulates per inference.
    #[arg(long, value_name = "MACS")]
    pub max_macs: Option<usize>,
    /// Latency target per inference, in milliseconds (uses --macs-per-second).
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<f32>,
    /// Device throughput used to turn --latency-ms into MACs.
    #[arg(long, value_name = "MACS/S", default_value_t = 1e9)]
    pub macs_per_second: f32,
}

impl BudgetArgs {
    /// Whether any limit was given.
    pub fn any(&self) -> bool {
        self.max_bytes.is_some() || self.max_ram.is_some() || self.max_macs.is_some() || self.latency_ms.is_some()
    }

    /// The planner's budget.
    pub fn budget(&self) -> Result<Budget> {
        let latency = match self.latency_ms {
            Some(t) => {
                ensure!(t.is_finite() && t > 0.0, "--latency-ms must be a positive number, got {t}");
                ensure!(
                    self.macs_per_second.is_finite() && self.macs_per_second > 0.0,
                    "--macs-per-second must be positive, got {}",
                    self.macs_per_second
                );
                Some(Latency { target_ms: t, macs_per_second: self.macs_per_second })
            }
            None => None,
        };
        Ok(Budget { max_weight_bytes: self.max_bytes, max_ram_bytes: self.max_ram, max_macs: self.max_macs, latency })
    }
}

/// A width fraction or a budget, for subcommands that build one member.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct WidthOrBudget {
    /// Width fraction in (0, 1] (base width round(W · h_max)); conflicts with budget flags.
    #[arg(long, value_name = "W")]
    pub width: Option<f32>,
    /// Budget flags, used when --width is not given.
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// What to build: an explicit base width or a budget to plan against.
pub enum Target {
    /// This base width.
    H(usize),
    /// Plan for this budget.
    Budget(Budget),
}

impl WidthOrBudget {
    /// Resolves the flags against `arch`. Errors if both or neither are given, or the width is
    /// out of range.
    pub fn target(&self, arch: &ArchSpec) -> Result<Target> {
        match (self.width, self.budget.any()) {
            (Some(_), true) => bail!("give either --width or budget flags, not both"),
            (None, false) => {
                bail!("give --width W or at least one budget flag (--max-bytes, --max-ram, --max-macs, --latency-ms)")
            }
            (Some(w), false) => {
                ensure!(w.is_finite() && w > 0.0 && w <= 1.0, "--width must be in (0, 1], got {w}");
                let h = (w * arch.h_max as f32).round() as usize;
                ensure!(
                    h >= arch.h_min as usize,
                    "--width {w} gives base width {h}, below the family's smallest {} (width {:.3})",
                    arch.h_min,
                    arch.width_of(arch.h_min as usize)
                );
                Ok(Target::H(h))
            }
            (None, true) => Ok(Target::Budget(self.budget.budget()?)),
        }
    }
}
