//! The `metamorph` command's logic: one module per subcommand, plus the CLI-only helpers
//! (budget flags, hypernet loading, test-set checks). Engines, the switcher, ONNX export and the
//! shared std helpers come from `metamorph-host`.

pub mod bench;
pub mod budget;
pub mod data;
pub mod demo;
pub mod eval;
pub mod inspect;
pub mod limits;
pub mod materialise;
pub mod plan;
pub mod sample;

use anyhow::{Context, Result};
use metamorph::format::{self, Hypernet};
use std::path::Path;

/// Reads a hypernet file's bytes, naming the file on error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading hypernet {}", path.display()))
}

/// Decodes hypernet bytes read from `path`, naming the file on error.
pub fn decode<'a>(bytes: &'a [u8], path: &Path) -> Result<Hypernet<'a>> {
    format::read(bytes).with_context(|| format!("decoding hypernet {}", path.display()))
}

/// Formats a byte count as `12.3 kB`.
pub fn human_bytes(b: usize) -> String {
    match b {
        b if b >= 10_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 10_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

/// Formats a count as `1.23 M`.
pub fn human_count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 => format!("{:.2} M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.1} k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

/// Milliseconds of a duration, as f64.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
