//! The zoo frontier: the exact search against hand-worked answers and against an independent
//! brute force on random tables.

use metamorph::rng::Rng;
use metamorph_trainer::report::zoo::{best, Candidate};

fn c(h: usize, bytes: u64, accuracy: f32) -> Candidate {
    Candidate { h, bytes, accuracy }
}

fn widths_of(zoo: Option<metamorph_trainer::report::zoo::Zoo>) -> Vec<usize> {
    zoo.map(|z| z.members.iter().map(|m| m.h).collect()).unwrap_or_default()
}

#[test]
fn hand_worked_budgets() {
    // The widest net is slightly worse than the next one (overfitted), so a zoo never wants it.
    let sweep = [c(64, 80, 0.96), c(8, 10, 0.90), c(32, 40, 0.97), c(16, 20, 0.95)];
    let widths = [8, 16, 32, 64];
    assert_eq!(widths_of(best(&sweep, 9, &widths).unwrap()), Vec::<usize>::new(), "nothing fits");
    assert_eq!(widths_of(best(&sweep, 10, &widths).unwrap()), [8]);
    // {8, 16}: 0.90 + 3 · 0.95 = 3.75 beats {8}: 3.60 and {16}: 2.85.
    assert_eq!(widths_of(best(&sweep, 30, &widths).unwrap()), [8, 16]);
    // {8, 16, 32} (70 B): 3.79 beats {8, 32} (50 B): 3.74.
    assert_eq!(widths_of(best(&sweep, 70, &widths).unwrap()), [8, 16, 32]);
    // All four (150 B) score 3.78 < 3.79: the device would run the worse widest net at h = 64.
    let all = best(&sweep, 1000, &widths).unwrap().unwrap();
    assert_eq!(all.members.iter().map(|m| m.h).collect::<Vec<_>>(), [8, 16, 32]);
    assert_eq!((all.bytes, all.accuracy_at(7), all.accuracy_at(63)), (70, None, Some(0.97)));
}

#[test]
fn bad_candidate_lists_are_errors() {
    assert!(best(&[c(8, 1, 0.5), c(8, 2, 0.6)], 10, &[8]).is_err());
    let many: Vec<Candidate> = (1..=17).map(|h| c(h, 1, 0.5)).collect();
    assert!(best(&many, 100, &[8]).is_err());
}

/// Every subset by recursion, scored from scratch.
fn brute(cands: &[Candidate], budget: u64, widths: &[usize]) -> Option<(f64, u64)> {
    fn score(chosen: &[Candidate], widths: &[usize]) -> f64 {
        widths
            .iter()
            .map(|&w| {
                let mut best: Option<&Candidate> = None;
                for m in chosen.iter().filter(|m| m.h <= w) {
                    if best.is_none_or(|b| m.h > b.h) {
                        best = Some(m);
                    }
                }
                best.map_or(0.0, |m| m.accuracy as f64)
            })
            .sum()
    }
    fn go(
        i: usize,
        cands: &[Candidate],
        chosen: &mut Vec<Candidate>,
        budget: u64,
        widths: &[usize],
        out: &mut Option<(f64, u64)>,
    ) {
        if i == cands.len() {
            let bytes: u64 = chosen.iter().map(|m| m.bytes).sum();
            if !chosen.is_empty() && bytes <= budget {
                let s = score(chosen, widths);
                if out.is_none_or(|(bs, bb)| s > bs || (s == bs && bytes < bb)) {
                    *out = Some((s, bytes));
                }
            }
            return;
        }
        go(i + 1, cands, chosen, budget, widths, out);
        chosen.push(cands[i]);
        go(i + 1, cands, chosen, budget, widths, out);
        chosen.pop();
    }
    let mut out = None;
    go(0, cands, &mut Vec::new(), budget, widths, &mut out);
    out
}

#[test]
fn agrees_with_brute_force_on_random_tables() {
    let mut rng = Rng::new(2026);
    for _ in 0..200 {
        let n = 1 + rng.below(7);
        let cands: Vec<Candidate> =
            (0..n).map(|i| c(4 * (i + 1), 1 + rng.below(100) as u64, rng.uniform(0.1, 1.0))).collect();
        let widths: Vec<usize> = (1..=n).map(|i| 4 * i).collect();
        let budget = rng.below(300) as u64;
        let found = best(&cands, budget, &widths).unwrap().map(|z| (z.score(&widths), z.bytes));
        assert_eq!(found, brute(&cands, budget, &widths), "{cands:?} within {budget} B");
    }
}
