//! Choosing where candle runs.

use anyhow::{Context, Result};
use candle_core::Device;

/// Parses a device name: `cpu`, or `cuda` / `cuda:N` (needs the `cuda` feature).
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        cuda if cuda.starts_with("cuda") => {
            let ordinal =
                cuda.strip_prefix("cuda:").map(str::parse).transpose().context("device ordinal")?.unwrap_or(0);
            Device::new_cuda(ordinal)
                .with_context(|| format!("opening {cuda} (was metamorph-train built with --features cuda?)"))
        }
        other => anyhow::bail!("unknown device {other:?}: expected cpu or cuda[:N]"),
    }
}
