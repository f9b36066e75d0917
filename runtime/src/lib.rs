//! # Metamorph runtime
//!
//! Read a hypernet (an implicit neural representation of a whole family of networks), pick the
//! width that fits the device's budget, materialise that network's weights into caller buffers and
//! run it. The core is `no_std` and allocation-free; features add layers on top:
//!
//! | feature | adds |
//! |---|---|
//! | `alloc` | `Vec`-returning convenience wrappers |
//! | `matrixmultiply` | fast GEMM through `matrixmultiply`, which heap-allocates (implies `alloc`; without it a portable, allocation-free kernel) |
//! | `std` | links the standard library: the dependencies' std error plumbing and, with `matrixmultiply`, its run-time choice of AVX/FMA kernels (implies `alloc`) |
//!
//! Everything that needs an operating system (ONNX export, the tract and ONNX Runtime engines,
//! the width switcher, threaded materialisation, file and data helpers) is the `metamorph-host`
//! crate, built on this one.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod error;
pub mod spec;

pub use error::{Error, Result};
pub mod exec;
pub mod format;
pub mod gemm;
pub mod inr;
pub mod materialise;
pub mod plan;
pub mod rng;
