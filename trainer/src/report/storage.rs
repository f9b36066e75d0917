//! What each way of shipping a width range costs in bytes.
//!
//! ```
//! use metamorph_trainer::{preset::Preset, report::storage::Storage};
//! let arch = Preset::load("digits-mlp").unwrap().arch;
//! let s = Storage::new(&arch, 1000, &[32, 16]).unwrap();
//! // 64·32 + 32 + 32·32 + 32 + 32·10 + 10 = 3466 parameters.
//! assert_eq!(s.fp32_bytes, 4 * 3466);
//! assert_eq!(s.int8_bytes, 3466 + 4 * 6);
//! ```

use anyhow::Result;
use metamorph::spec::ArchSpec;

/// Bytes of the hypernet against the networks it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// The hypernet file, as shipped.
    pub hypernet_bytes: u64,
    /// The full-width network's parameters as `f32` (`costs(h_max).weight_bytes`).
    pub fp32_bytes: u64,
    /// The full-width network quantised to int8: one byte per parameter plus one `f32` scale per
    /// tensor.
    pub int8_bytes: u64,
    /// Every individually trained network of the sweep, as `f32`, summed.
    pub individual_bytes: u64,
}

impl Storage {
    /// Storage of a hypernet of `hypernet_bytes` for `arch`, against individually trained nets
    /// at the base widths `widths`. Errors if a width does not fit the family.
    pub fn new(arch: &ArchSpec, hypernet_bytes: u64, widths: &[usize]) -> Result<Self> {
        let h_max = arch.h_max as usize;
        let full = arch.costs(h_max).map_err(anyhow::Error::msg)?;
        let tensors = arch.params(h_max).count();
        let mut individual_bytes = 0u64;
        for &h in widths {
            individual_bytes += arch.costs(h).map_err(anyhow::Error::msg)?.weight_bytes as u64;
        }
        Ok(Storage {
            hypernet_bytes,
            fp32_bytes: full.weight_bytes as u64,
            int8_bytes: (full.params + 4 * tensors) as u64,
            individual_bytes,
        })
    }

    /// `bytes / fp32_bytes`.
    pub fn ratio(&self, bytes: u64) -> f64 {
        bytes as f64 / self.fp32_bytes.max(1) as f64
    }
}
