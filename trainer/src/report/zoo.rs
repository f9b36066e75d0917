//! The int8 zoo a device engineer would flash instead of a hypernet: a few individually trained
//! nets, of which the device runs the widest that its width budget allows.
//!
//! [`best`] finds, for a byte budget, the set of candidates that gives the best accuracy over a
//! sweep of width budgets, by trying every subset (a sweep of 7 widths is 128 subsets).
//!
//! ```
//! use metamorph_trainer::report::zoo::{best, Candidate};
//! let c = |h, bytes, accuracy| Candidate { h, bytes, accuracy };
//! let sweep = [c(8, 10, 0.90), c(16, 20, 0.95), c(32, 40, 0.97)];
//! let zoo = best(&sweep, 30, &[8, 16, 32]).unwrap().unwrap();
//! assert_eq!(zoo.members.iter().map(|m| m.h).collect::<Vec<_>>(), [8, 16]);
//! assert_eq!((zoo.accuracy_at(4), zoo.accuracy_at(32)), (None, Some(0.95)));
//! ```

use anyhow::{ensure, Result};

/// Most candidates [`best`] searches exhaustively (2¹⁶ subsets).
pub const MAX_CANDIDATES: usize = 16;

/// One individually trained net that a zoo may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Base width.
    pub h: usize,
    /// Bytes it is stored in (int8 weights and their scales).
    pub bytes: u64,
    /// Test accuracy measured on those stored bytes.
    pub accuracy: f32,
}

/// A chosen set of candidates, narrowest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Zoo {
    /// The members, by increasing width.
    pub members: Vec<Candidate>,
    /// Their bytes together.
    pub bytes: u64,
}

impl Zoo {
    /// The accuracy at width budget `h`: that of the widest member with base width `≤ h`, which is
    /// the one a device would run; `None` where no member fits.
    pub fn accuracy_at(&self, h: usize) -> Option<f32> {
        self.members.iter().filter(|m| m.h <= h).max_by_key(|m| m.h).map(|m| m.accuracy)
    }

    /// The sum over `widths` of [`Zoo::accuracy_at`], a width where nothing fits counting 0.
    pub fn score(&self, widths: &[usize]) -> f64 {
        widths.iter().map(|&h| self.accuracy_at(h).unwrap_or(0.0) as f64).sum()
    }
}

/// The zoo of at most `budget` bytes with the highest [`Zoo::score`] over `widths`; among equal
/// scores, the one with fewer bytes, then the one found first (subsets in binary order). `None`
/// when no candidate fits the budget at all.
///
/// Errors for more than [`MAX_CANDIDATES`] candidates or two candidates of the same width.
pub fn best(candidates: &[Candidate], budget: u64, widths: &[usize]) -> Result<Option<Zoo>> {
    ensure!(candidates.len() <= MAX_CANDIDATES, "{} zoo candidates: at most {MAX_CANDIDATES}", candidates.len());
    let mut sorted = candidates.to_vec();
    sorted.sort_by_key(|c| c.h);
    ensure!(sorted.windows(2).all(|w| w[0].h != w[1].h), "two zoo candidates share a width");
    let mut found: Option<(f64, Zoo)> = None;
    for mask in 1u32..1 << sorted.len() {
        let members: Vec<Candidate> =
            sorted.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1).map(|(_, c)| *c).collect();
        let bytes = members.iter().map(|m| m.bytes).sum();
        if bytes > budget {
            continue;
        }
        let zoo = Zoo { members, bytes };
        let score = zoo.score(widths);
        let better = match &found {
            None => true,
            Some((s, z)) => score > *s || (score == *s && bytes < z.bytes),
        };
        if better {
            found = Some((score, zoo));
        }
    }
    Ok(found.map(|(_, zoo)| zoo))
}
