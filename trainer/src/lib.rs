//! # metamorph-trainer
//!
//! The workstation side of Metamorph: data, base training, BatchNorm folding, channel
//! permutation, INR fitting and hypernet export. Writes the file format of the `metamorph`
//! runtime crate, which owns the format and the coordinate spec.
#![deny(missing_docs)]

pub mod adamw;
pub mod base;
pub mod bn;
pub mod cpu;
pub mod data;
pub mod device;
pub mod export;
pub mod fit;
pub mod fold;
pub mod inr;
pub mod malloc;
pub mod net;
pub mod permute;
pub mod preset;
pub mod report;
pub mod sandwich;
pub mod slimmable;
