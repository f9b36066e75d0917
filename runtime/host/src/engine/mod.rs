//! Inference engines behind one narrow trait, selected by the [`Backend`] enum.
//!
//! | backend | runs | built from |
//! |---|---|---|
//! | [`Backend::Native`] | the runtime core's executor ([`exec::run`](metamorph::exec::run)) | materialised parameters |
//! | [`Backend::Tract`] | tract (pure Rust), the default | ONNX bytes |
//! | [`Backend::Ort`] | ONNX Runtime, loaded from `ORT_DYLIB_PATH` (feature `ort`) | ONNX bytes |
//!
//! Every variant exists whatever the features; one that is not compiled in returns an error
//! from [`Backend::load`], so callers need no `cfg`.
//!
//! ```
//! use metamorph_host::engine::{Backend, Source};
//! use metamorph::spec::{ArchSpec, Dim, Layer};
//! let arch = ArchSpec::new("id", [1, 1, 2], 2, 1, &[
//!     Layer::Flatten, Layer::Dense { out: Dim::Fixed(2) }, Layer::Relu,
//! ]).unwrap();
//! let params = [1.0, 0.0, 0.0, -1.0, 0.5, 0.5];
//! let mut engine = Backend::Native.load(&Source::Params { arch: &arch, h: 2, params: &params }).unwrap();
//! assert_eq!(engine.run(&[2.0, 3.0], 1).unwrap(), [2.5, 0.0]);
//! ```

mod native;
#[cfg(feature = "ort")]
mod ort;
mod tract;

pub use native::NativeEngine;
#[cfg(feature = "ort")]
pub use ort::{ort_environment, OrtEngine};
pub use tract::TractEngine;

use anyhow::{bail, Result};
use core::fmt;
use core::str::FromStr;
use metamorph::spec::ArchSpec;

/// What an engine is built from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A serialised ONNX model as written by [`onnx::to_onnx`](crate::onnx::to_onnx).
    Onnx(&'a [u8]),
    /// A member's parameters, all tensors in canonical order.
    Params {
        /// The family.
        arch: &'a ArchSpec,
        /// Base width.
        h: usize,
        /// `arch.costs(h).params` values.
        params: &'a [f32],
    },
}

/// A loaded model, ready to classify batches.
pub trait Engine {
    /// Builds the engine from `source`. Errors if the engine cannot use that kind of source or
    /// the model is invalid.
    fn load(source: &Source<'_>) -> Result<Self>
    where
        Self: Sized;

    /// Runs `batch` samples. `input` is `batch × C·H·W` float pixels in `[0, 1]`, row-major
    /// `[N, C, H, W]`; returns `batch × classes` logits. Errors if `input.len()` is not
    /// `batch` times the model's sample size.
    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>>;

    /// One line naming the engine and the model it holds.
    fn describe(&self) -> String;
}

/// The engines this build knows, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The runtime core's executor, straight from parameters (no ONNX).
    Native,
    /// tract, from ONNX bytes.
    Tract,
    /// ONNX Runtime, from ONNX bytes (needs feature `ort` and `ORT_DYLIB_PATH`).
    Ort,
}

impl Backend {
    /// Every backend, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Native, Backend::Tract, Backend::Ort];

    /// Lower-case name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Tract => "tract",
            Backend::Ort => "ort",
        }
    }

    /// Whether this backend is built from ONNX bytes (otherwise from parameters).
    pub fn wants_onnx(self) -> bool {
        !matches!(self, Backend::Native)
    }

    /// Whether this backend is compiled into this build.
    pub fn compiled_in(self) -> bool {
        match self {
            Backend::Native | Backend::Tract => true,
            Backend::Ort => cfg!(feature = "ort"),
        }
    }

    /// Loads `source` into this backend's engine. Errors if the backend is not compiled in,
    /// cannot use this kind of source, or rejects the model.
    pub fn load(self, source: &Source<'_>) -> Result<Box<dyn Engine>> {
        Ok(match self {
            Backend::Native => Box::new(NativeEngine::load(source)?),
            Backend::Tract => Box::new(TractEngine::load(source)?),
            #[cfg(feature = "ort")]
            Backend::Ort => Box::new(OrtEngine::load(source)?),
            #[cfg(not(feature = "ort"))]
            Backend::Ort => bail!("the ort backend is not compiled in (build with feature `ort`)"),
        })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "native" => Ok(Backend::Native),
            "tract" => Ok(Backend::Tract),
            "ort" | "onnxruntime" => Ok(Backend::Ort),
            _ => bail!("unknown backend {s:?} (expected native, tract or ort)"),
        }
    }
}

/// Checks `input.len() == batch · sample` and names the engine on mismatch.
pub(crate) fn check_input(engine: &str, input: &[f32], batch: usize, sample: usize) -> Result<()> {
    if batch == 0 || input.len() != batch * sample {
        bail!("{engine}: input has {} values, expected batch {batch} × {sample} per sample", input.len());
    }
    Ok(())
}
