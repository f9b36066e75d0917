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
//! | `std` | `std` error plumbing and file helpers (implies `alloc` and `matrixmultiply`) |
//! | `onnx` | ONNX export of a materialised network and the tract engine (implies `std`) |
//! | `ort` | the ONNX Runtime engine, loaded dynamically (implies `onnx`) |
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod error;
pub mod spec;

pub use error::{Error, Result};
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod engine;
pub mod exec;
pub mod format;
pub mod gemm;
pub mod inr;
pub mod materialise;
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod onnx;
pub mod plan;
#[cfg(feature = "std")]
pub mod process;
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod switch;
