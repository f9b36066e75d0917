//! # metamorph-host
//!
//! Everything Metamorph needs on a machine with an operating system, around the `no_std`
//! `metamorph` core: ONNX export ([`onnx`]), the engines that run a member ([`engine`]: native,
//! tract, ONNX Runtime), the in-memory width switcher ([`switch`]), threaded materialisation
//! ([`threads`]), and the one copy of each helper the `metamorph` command and the trainer share:
//! IDX data sets ([`idx`]), atomic writes and the repository root ([`fs`]), the CPU's name
//! ([`machine`]) and process set-up ([`process`]). Errors are `anyhow` chains that name the file,
//! layer or width they concern.
//!
//! | feature | adds |
//! |---|---|
//! | `ort` | the ONNX Runtime engine, loaded dynamically from `ORT_DYLIB_PATH` (without it, [`engine::Backend::Ort`] reports that it is not compiled in) |
#![deny(missing_docs)]

pub mod engine;
pub mod fs;
pub mod idx;
pub mod machine;
pub mod onnx;
pub mod process;
pub mod switch;
pub mod threads;
