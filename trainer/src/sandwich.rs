//! The sandwich rule (US-Nets, Yu & Huang, ICCV 2019): the widths one training step trains, shared
//! by the slimmable trainer and INR fitting.

use metamorph::rng::Rng;

/// The widths of one sandwich step: the range's widest and narrowest end, then `n` uniform draws
/// between them (inclusive).
pub fn widths(range: [usize; 2], n: usize, rng: &mut Rng) -> Vec<usize> {
    let [lo, hi] = range;
    let mut widths = vec![hi, lo];
    widths.extend((0..n).map(|_| lo + rng.below(hi - lo + 1)));
    widths
}
