//! # metamorph-trainer
//!
//! The workstation side of Metamorph: data, base training, BatchNorm folding, channel
//! permutation, INR fitting and hypernet export. Writes the file format of the `metamorph`
//! runtime crate, which owns the format and the coordinate spec.
#![deny(missing_docs)]

pub mod preset;
pub mod net;
pub mod base;
pub mod bn;
pub mod data;
pub mod device;
pub mod fold;
pub mod permute;
pub mod rng;
pub mod export;
pub mod fit;
pub mod inr;
pub mod io;
pub mod report;
