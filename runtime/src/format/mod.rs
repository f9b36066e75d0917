//! The hypernet file: everything the device needs to build any width of a family.
//!
//! Layout (all integers little-endian; full field list in `docs/format.md`):
//!
//! ```text
//! "MMHN" | version: u16 | reserved: u16 (0) | body_len: u32 | body (postcard) | crc32: u32
//! ```
//!
//! The body names its [`Generator`]: an INR, or a universally slimmable network. Version 1 files
//! (INR only, no generator kind) are still read.
//!
//! The CRC-32 (ISO-HDLC) covers every byte before it. The body is a postcard-encoded
//! [`Hypernet`]; tensors are little-endian byte slices borrowed straight from the input, so
//! [`read`] never allocates and works on a slice mapped from flash.
//!
//! ```
//! # use metamorph::{format, inr::InrConfig, spec::{ArchSpec, Dim, Layer}};
//! # #[cfg(feature = "alloc")] { // building the example file needs `alloc`
//! let arch = ArchSpec::new("tiny", [1, 2, 2], 4, 1, &[
//!     Layer::Flatten, Layer::Dense { out: Dim::Width(1) }, Layer::Relu, Layer::Dense { out: Dim::Fixed(2) },
//! ]).unwrap();
//! let inr = InrConfig { bands: 1, hidden: 4, depth: 1, norm: 4.0 };
//! let owned = format::OwnedHypernet::zeros(arch, inr, "none").unwrap();
//! let bytes = owned.to_bytes().unwrap();
//! let net = format::read(&bytes).unwrap();
//! assert_eq!(net.arch.name.as_str(), "tiny");
//! // INR tensors: layer1 weight + bias, layer3 weight (morphed input); layer3's bias is frozen.
//! assert_eq!((net.kind(), net.generated_count(), net.frozen.len()), ("INR", 3, 1));
//! # }
//! ```

pub mod blob;
mod header;
#[cfg(feature = "alloc")]
mod owned;

pub use blob::{Blob, DType};
pub use header::{read, write, HEADER_LEN, MAGIC, OLDEST_VERSION, TRAILER_LEN, VERSION};
#[cfg(feature = "alloc")]
pub use owned::{OwnedGenerator, OwnedHypernet};

use crate::error::{Error, Result};
use crate::inr::InrConfig;
use crate::spec::ArchSpec;
use serde::{Deserialize, Serialize};

/// Most morphed tensors a hypernet may hold.
pub const MAX_TENSORS: usize = 24;
/// Most frozen tensors a hypernet may hold.
pub const MAX_FROZEN: usize = 24;
/// Most rows of the accuracy table.
pub const MAX_ACCURACY_ROWS: usize = 16;

/// One morphed tensor's MLP parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InrTensor<'a> {
    /// Values each query returns (`k²`, or `C_in · k²` for whole-row queries).
    pub out_size: u32,
    /// The MLP parameters, laid out as [`InrConfig::segments`] says (one int8 scale per segment).
    #[serde(borrow)]
    pub params: Blob<'a>,
}

impl InrTensor<'_> {
    /// Checks the blob's lengths against the MLP of `cfg` with this tensor's output size.
    pub fn check(&self, cfg: &InrConfig) -> Result<()> {
        let out = self.out_size as usize;
        self.params.check(cfg.param_count(out), cfg.segment_count())
    }

    /// Decodes the MLP parameters into `out` (exactly [`InrConfig::param_count`] values).
    pub fn unpack(&self, cfg: &InrConfig, out: &mut [f32]) -> Result<()> {
        let out_size = self.out_size as usize;
        self.check(cfg)?;
        self.params.unpack(cfg.segments(out_size).map(|s| s.range()), out)
    }
}

/// What generates a member's morphed tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Generator<'a> {
    /// NeuMeta's implicit neural representation: one small MLP per morphed tensor, queried at the
    /// coordinates of the member's weights.
    Inr {
        /// INR size.
        config: InrConfig,
        /// One MLP per morphed tensor, in canonical order.
        #[serde(borrow)]
        tensors: heapless::Vec<InrTensor<'a>, MAX_TENSORS>,
    },
    /// A universally slimmable network: every morphed tensor at full width (`h_max`, shaped as
    /// [`ArchSpec::params`] gives it there), in canonical order; the member of base width `h` is
    /// the leading entries of every dimension. Int8 blobs carry one scale per tensor.
    Slimmable {
        /// The full-width morphed tensors.
        #[serde(borrow)]
        tensors: heapless::Vec<Blob<'a>, MAX_TENSORS>,
    },
}

/// One row of the accuracy table measured at export.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AccuracyRow {
    /// Base width.
    pub h: u16,
    /// INR samples `K` averaged.
    pub samples: u16,
    /// Test accuracy in `[0, 1]`.
    pub accuracy: f32,
}

/// Provenance and measured quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    /// Data set the hypernet was trained on (e.g. `mnist`).
    pub dataset: &'a str,
    /// Smallest and largest base width seen in training.
    pub trained_h: [u16; 2],
    /// Coordinate noise width σ used in training.
    pub sigma: f32,
    /// Test accuracy per width, measured at export.
    pub accuracy: heapless::Vec<AccuracyRow, MAX_ACCURACY_ROWS>,
}

/// A decoded hypernet, borrowing its tensors from the input bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypernet<'a> {
    /// The network family.
    pub arch: ArchSpec,
    /// What generates the morphed tensors.
    #[serde(borrow)]
    pub generator: Generator<'a>,
    /// Frozen tensors (f32 little-endian), in canonical order.
    #[serde(borrow)]
    pub frozen: heapless::Vec<&'a [u8], MAX_FROZEN>,
    /// Provenance and the accuracy table.
    #[serde(borrow)]
    pub meta: Metadata<'a>,
    /// CRC-32 of the file this was read from (not part of the body).
    #[serde(skip)]
    pub checksum: u32,
}

impl Hypernet<'_> {
    /// Checks that every section agrees with the spec: tensor counts, output sizes, blob lengths,
    /// frozen lengths, finite metadata. [`read`] calls this; a hypernet that passes is safe to
    /// materialise at any width of its range.
    pub fn validate(&self) -> Result<()> {
        self.arch.validate()?;
        if let Generator::Inr { config, .. } = &self.generator {
            config.validate()?;
        }
        let h = self.arch.h_max as usize;
        let (mut morphed, mut frozen) = (0, 0);
        for p in self.arch.params(h) {
            match p.morph {
                Some(m) => {
                    let missing = Error::Invalid("fewer generated tensors than the spec morphs");
                    match &self.generator {
                        Generator::Inr { config, tensors } => {
                            let t = tensors.get(morphed).ok_or(missing)?;
                            if t.out_size as usize != m.values_per_row() {
                                return Err(Error::Invalid("INR output size does not match the tensor's kernel"));
                            }
                            t.check(config)?;
                        }
                        Generator::Slimmable { tensors } => tensors.get(morphed).ok_or(missing)?.check(p.len(), 1)?,
                    }
                    morphed += 1;
                }
                None => {
                    let f =
                        self.frozen.get(frozen).ok_or(Error::Invalid("fewer frozen tensors than the spec needs"))?;
                    if f.len() != p.len() * 4 {
                        return Err(Error::Invalid("frozen tensor length does not match its shape"));
                    }
                    frozen += 1;
                }
            }
        }
        if morphed != self.generated_count() || frozen != self.frozen.len() {
            return Err(Error::Invalid("more tensors than the spec uses"));
        }
        let [lo, hi] = self.meta.trained_h;
        if lo > hi || hi > self.arch.h_max || !self.meta.sigma.is_finite() {
            return Err(Error::Invalid("metadata out of range"));
        }
        Ok(())
    }

    /// The INR's configuration and tensors, for an INR file.
    pub fn inr(&self) -> Option<(&InrConfig, &[InrTensor<'_>])> {
        match &self.generator {
            Generator::Inr { config, tensors } => Some((config, tensors)),
            Generator::Slimmable { .. } => None,
        }
    }

    /// The generator's kind in words: `INR` or `slimmable`.
    pub fn kind(&self) -> &'static str {
        match self.generator {
            Generator::Inr { .. } => "INR",
            Generator::Slimmable { .. } => "slimmable",
        }
    }

    /// Number of generated (morphed) tensors the generator stores.
    pub fn generated_count(&self) -> usize {
        match &self.generator {
            Generator::Inr { tensors, .. } => tensors.len(),
            Generator::Slimmable { tensors } => tensors.len(),
        }
    }

    /// Bytes of the generator's parameters as stored (after quantisation).
    pub fn generator_bytes(&self) -> usize {
        match &self.generator {
            Generator::Inr { tensors, .. } => tensors.iter().map(|t| t.params.stored_bytes()).sum(),
            Generator::Slimmable { tensors } => tensors.iter().map(Blob::stored_bytes).sum(),
        }
    }

    /// Number of the generator's parameters.
    pub fn generator_params(&self) -> usize {
        match &self.generator {
            Generator::Inr { config, tensors } => tensors.iter().map(|t| config.param_count(t.out_size as usize)).sum(),
            Generator::Slimmable { tensors } => tensors.iter().map(|b| b.data.len() / b.dtype.size()).sum(),
        }
    }

    /// The storage type of the generator's parameters (of its first tensor; `None` without any).
    pub fn dtype(&self) -> Option<DType> {
        match &self.generator {
            Generator::Inr { tensors, .. } => tensors.first().map(|t| t.params.dtype),
            Generator::Slimmable { tensors } => tensors.first().map(|b| b.dtype),
        }
    }
}
