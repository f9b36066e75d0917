//! The implicit neural representation (INR): coordinates of a weight slot → that weight.
//!
//! For a morphed tensor `l` of `L`, row `r` of the tensor has the raw coordinate
//! `[l, i, j, L, C_out, C_in]` (see [`coords`]). It is normalised to
//! `[l/L, i/C_out, j/C_in, L/N, C_out/N, C_in/N]`, expanded with Fourier features
//! `[x, sin(2^f π x_d), cos(2^f π x_d) …]` (see [`features`]) and fed to the tensor's own residual MLP:
//!
//! ```text
//! h   = relu(W_in · pe + b_in)
//! h   = s_k · relu(W_k · h + b_k) + h        for k in 0..depth
//! out = (W_out · h + b_out) / C_in
//! ```
//!
//! The parameters of each MLP are laid out as [`layout`] says.
//!
//! With `K > 1` samples the weight is the mean over sample 0 (no noise) and samples `1..K` whose
//! coordinates carry the deterministic noise of [`noise`].
//!
//! ```
//! use metamorph::inr::InrConfig;
//! let cfg = InrConfig { bands: 4, hidden: 16, depth: 1, norm: 64.0 };
//! assert_eq!(cfg.features(), 6 + 12 * 4);
//! // W_in + b_in + one hidden layer (W, b, s) + W_out + b_out for a 3×3 kernel output.
//! assert_eq!(cfg.param_count(9), 16 * 54 + 16 + (16 * 16 + 16 + 1) + 9 * 16 + 9);
//! ```

pub mod coords;
pub mod features;
pub mod layout;
pub mod mlp;
pub mod noise;

use serde::{Deserialize, Serialize};

/// Size of the INR: shared by every morphed tensor's MLP (only the output size differs per tensor).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InrConfig {
    /// Fourier bands `F` per coordinate (features: `6 + 12 F`).
    pub bands: u8,
    /// Hidden size `H` of the MLP.
    pub hidden: u16,
    /// Number of residual hidden layers.
    pub depth: u8,
    /// Normaliser `N` for the size coordinates (the family's largest channel count).
    pub norm: f32,
}

/// Largest number of Fourier bands accepted (higher bands are f32 noise anyway).
pub const MAX_BANDS: u8 = 20;
/// Largest hidden size accepted.
pub const MAX_HIDDEN: u16 = 1024;
/// Largest number of residual hidden layers accepted.
pub const MAX_DEPTH: u8 = 16;

impl InrConfig {
    /// Input features per row: `6 + 12 · bands`.
    pub fn features(&self) -> usize {
        6 + 12 * self.bands as usize
    }

    /// Checks the configuration against the crate limits.
    pub fn validate(&self) -> crate::Result<()> {
        if self.bands > MAX_BANDS || self.hidden == 0 || self.hidden > MAX_HIDDEN || self.depth > MAX_DEPTH {
            return Err(crate::Error::Invalid("INR config out of range"));
        }
        if !(self.norm.is_finite() && self.norm >= 1.0) {
            return Err(crate::Error::Invalid("INR normaliser must be finite and >= 1"));
        }
        Ok(())
    }
}
