//! The slimmable net at a byte budget below its whole file: its widest cut that fits as int8
//! ([`crate::slimmable::cut::widest_within`]), of which a device runs member `min(h, widest)` at
//! width budget `h`. At equal bytes it is the slimmable net's answer to the int8 zoo.

use anyhow::Result;
use candle_core::Device;
use metamorph::format::DType;
use metamorph::spec::ArchSpec;

use crate::data::Dataset;
use crate::export::runtime_member;
use crate::slimmable::cut::widest_within;

/// A slimmable file cut to a byte budget.
#[derive(Debug, Clone, PartialEq)]
pub struct SlimCut {
    /// Its widest member.
    pub h: usize,
    /// Its int8 file's bytes (accuracy table included).
    pub bytes: u64,
    /// Test accuracy at each width budget of the sweep, measured on those bytes.
    pub accuracy: Vec<f32>,
}

/// The widest int8 cut of the slimmable `file` within `budget` bytes, measured at width budgets
/// `widths`; `None` when not even its narrowest member fits.
pub fn measure(
    file: &[u8],
    budget: u64,
    arch: &ArchSpec,
    widths: &[usize],
    test: &Dataset,
    device: &Device,
) -> Result<Option<SlimCut>> {
    let Some((h, bytes)) = widest_within(file, budget, DType::I8)? else {
        return Ok(None);
    };
    // Every width budget from `h` up runs the same member: evaluate each member once.
    let mut measured: Vec<(usize, f32)> = Vec::new();
    let mut accuracy = Vec::new();
    for &w in widths {
        let member = w.min(h);
        let acc = match measured.iter().find(|(m, _)| *m == member) {
            Some(&(_, acc)) => acc,
            None => {
                let acc =
                    crate::base::evaluate(arch, member, &runtime_member(&bytes, member, 1, device)?, test, device)?;
                measured.push((member, acc));
                acc
            }
        };
        accuracy.push(acc);
    }
    Ok(Some(SlimCut { h, bytes: bytes.len() as u64, accuracy }))
}
