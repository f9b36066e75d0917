//! Cutting a slimmable file down to a narrower widest member: the same net, its members up to that
//! width unchanged, in fewer bytes. A device that never runs the widest members need not store them,
//! so at a byte budget below the whole file the slimmable net competes as its widest cut that fits.
//!
//! ```
//! use metamorph::format::{DType, OwnedHypernet};
//! use metamorph_trainer::{base, preset::Preset, slimmable::cut};
//! let arch = Preset::load("digits-mlp").unwrap().arch;
//! let full = base::init_params(&arch, 32, 0, &candle_core::Device::Cpu).unwrap();
//! let full = full.iter().map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect();
//! let file = OwnedHypernet::slimmable(arch, full, "digits").unwrap().to_bytes_as(DType::F32).unwrap();
//! let half = cut::cut(&file, 16).unwrap();
//! assert_eq!((half.arch.h_max, half.arch.h_min), (16, 2));
//! let (h, bytes) = cut::widest_within(&file, 3_000, DType::I8).unwrap().unwrap();
//! assert!(h < 32 && bytes.len() <= 3_000);
//! ```

use anyhow::{bail, ensure, Context, Result};
use candle_core::Device;
use metamorph::format::{self, AccuracyRow, DType, OwnedHypernet};
use metamorph::materialise::Materialiser;
use std::path::Path;

use crate::data::{Dataset, Split};
use crate::export::unmeasured_table;

/// The slimmable file `file` cut to widest base width `h`, within its trained range: its member
/// `h` becomes the full width (`h_max = h`), narrower members are unchanged, and the trained range
/// (capped at `h`) and data set carry over.
/// The accuracy table is left empty: it belongs to the bytes the cut is written as.
pub fn cut(file: &[u8], h: usize) -> Result<OwnedHypernet> {
    let net = format::read(file).map_err(anyhow::Error::msg).context("reading the slimmable file")?;
    ensure!(
        net.kind() == "slimmable",
        "only a slimmable file can be cut (this one holds an {} generator; metamorph-train slimmable writes one)",
        net.kind()
    );
    // Members below the trained range were never trained (a slimmable net is poor there), so a
    // cut keeps at least one trained width.
    let (lo, h_max) = (net.meta.trained_h[0] as usize, net.arch.h_max as usize);
    ensure!((lo..=h_max).contains(&h), "cut width {h} is outside the file's trained widths [{lo}, {h_max}]");
    let flat = Materialiser::new(&net, h, 1, 0).and_then(|m| m.to_vec()).map_err(anyhow::Error::msg)?;
    let mut arch = net.arch.clone();
    arch.h_max = h as u16;
    let params = arch.params(h).map(|p| flat[p.offset..p.offset + p.len()].to_vec()).collect();
    let mut owned = OwnedHypernet::slimmable(arch, params, net.meta.dataset).map_err(anyhow::Error::msg)?;
    owned.trained_h = net.meta.trained_h.map(|t| t.min(h as u16));
    Ok(owned)
}

/// The widest cut of the slimmable file `file` that takes at most `budget` bytes as `dtype` with
/// the accuracy table [`crate::export::write`] adds: its width and its bytes (with that table
/// unmeasured); `None` when not even the narrowest trained member fits. Bytes grow with the width, so a
/// bisection finds it.
pub fn widest_within(file: &[u8], budget: u64, dtype: DType) -> Result<Option<(usize, Vec<u8>)>> {
    let net = format::read(file).map_err(anyhow::Error::msg).context("reading the slimmable file")?;
    let encoded = |h| cut_as_written(file, h, dtype);
    let (mut lo, mut hi) = (net.meta.trained_h[0] as usize, net.arch.h_max as usize);
    let narrowest = encoded(lo)?;
    if narrowest.len() as u64 > budget {
        return Ok(None);
    }
    // Invariant: the cut at `lo` fits; every cut above `hi` does not.
    let mut best = narrowest;
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let bytes = encoded(mid)?;
        if bytes.len() as u64 <= budget {
            (lo, best) = (mid, bytes);
        } else {
            hi = mid - 1;
        }
    }
    Ok(Some((lo, best)))
}

/// How wide a cut [`run`] makes.
#[derive(Debug, Clone, Copy)]
pub enum Size {
    /// This widest base width.
    Width(usize),
    /// The widest that fits in this many bytes.
    Bytes(u64),
}

/// Cuts the slimmable file at `from` to `size` and writes it to `out` as `dtype`, with an accuracy
/// table measured on its own bytes; what `metamorph-train cut` runs. Checks that `out` can be
/// written before any work. Returns the cut's width and its table.
pub fn run(from: &Path, size: Size, dtype: DType, out: &Path, device: &Device) -> Result<(usize, Vec<AccuracyRow>)> {
    metamorph_host::fs::check_writable(out)?;
    let file = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let h = match size {
        Size::Width(h) => h,
        Size::Bytes(budget) => match widest_within(&file, budget, dtype)? {
            Some((h, _)) => h,
            None => bail!("not even the narrowest member of {} fits in {budget} bytes at this --dtype", from.display()),
        },
    };
    let net = cut(&file, h).with_context(|| format!("cutting {}", from.display()))?;
    let test = Dataset::load(&net.dataset, Split::Test)?;
    Ok((h, crate::export::write(out, net, dtype, &test, device)?))
}

/// The cut at `h` encoded as `dtype`, with the accuracy table unmeasured: the bytes of the file
/// [`run`] writes.
pub fn cut_as_written(file: &[u8], h: usize, dtype: DType) -> Result<Vec<u8>> {
    let mut net = cut(file, h)?;
    net.accuracy = unmeasured_table(&net.arch);
    net.to_bytes_as(dtype).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    fn slimmable_file() -> Vec<u8> {
        let arch = Preset::load("digits-mlp").unwrap().arch;
        let full = crate::base::init_params(&arch, arch.h_max as usize, 3, &candle_core::Device::Cpu).unwrap();
        let full = full.iter().map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect();
        OwnedHypernet::slimmable(arch, full, "digits").unwrap().to_bytes_as(DType::F32).unwrap()
    }

    fn member(file: &[u8], h: usize) -> Vec<f32> {
        let net = format::read(file).unwrap();
        Materialiser::new(&net, h, 1, 0).unwrap().to_vec().unwrap()
    }

    /// Every member of a cut, written as f32, is the original file's member bit for bit.
    #[test]
    fn a_cut_keeps_every_member_up_to_its_width_bit_for_bit() {
        let file = slimmable_file();
        for cut_h in [2, 13, 32] {
            let bytes = cut(&file, cut_h).unwrap().to_bytes_as(DType::F32).unwrap();
            assert!(cut_h == 32 || bytes.len() < file.len());
            for h in 2..=cut_h {
                let (a, b) = (member(&file, h), member(&bytes, h));
                assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()) && a.len() == b.len(), "h = {h}");
            }
        }
    }

    /// The bisection finds what trying every width finds, including budgets nothing fits.
    #[test]
    fn the_widest_cut_within_a_budget_is_what_trying_every_width_finds() {
        let file = slimmable_file();
        let sizes: Vec<u64> = (2..=32).map(|h| cut_as_written(&file, h, DType::I8).unwrap().len() as u64).collect();
        for budget in [0, sizes[0] - 1, sizes[0], sizes[7] + 1, sizes[30] - 1, sizes[30], u64::MAX] {
            let expected = (2..=32).zip(&sizes).filter(|(_, &s)| s <= budget).map(|(h, _)| h).max();
            let found = widest_within(&file, budget, DType::I8).unwrap().map(|(h, bytes)| {
                assert!(bytes.len() as u64 <= budget);
                h
            });
            assert_eq!(found, expected, "budget {budget}");
        }
    }

    /// `run` with a byte budget writes a file within it: the accuracy table it measures has the
    /// bytes the bisection counted.
    #[test]
    fn a_cut_written_to_a_byte_budget_fits_it() {
        let dir = tempfile::tempdir().unwrap();
        let (from, out) = (dir.path().join("slim.mmh"), dir.path().join("cut.mmh"));
        std::fs::write(&from, slimmable_file()).unwrap();
        let budget = 3_000;
        let (h, table) = run(&from, Size::Bytes(budget), DType::I8, &out, &Device::Cpu).unwrap();
        let written = std::fs::read(&out).unwrap();
        assert!(written.len() as u64 <= budget && h < 32, "{} bytes at h = {h}", written.len());
        let net = format::read(&written).unwrap();
        assert_eq!((net.arch.h_max as usize, table[0].h as usize), (h, h));
        assert_eq!(net.meta.accuracy.len(), table.len());
    }

    /// An INR file, or a width outside the file's range, is refused with a clear error.
    #[test]
    fn cutting_an_inr_file_or_out_of_range_is_refused() {
        let file = slimmable_file();
        for h in [0, 1, 33] {
            assert!(cut(&file, h).unwrap_err().to_string().contains("outside the file's trained widths"), "h = {h}");
        }
        let inr = std::fs::read(metamorph_host::fs::repo_root().join("models/mnist-mlp.mmh")).unwrap();
        assert!(cut(&inr, 64).unwrap_err().to_string().contains("only a slimmable file"));
    }
}
