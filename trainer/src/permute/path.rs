//! Shortest Hamiltonian paths over a dense float distance matrix.
//!
//! A path with free endpoints is a tour through one extra "dummy" node at distance 0 from every
//! node, cut at the dummy. [`shortest_path`] is exact (Held–Karp, `O(2ⁿ n²)`) up to
//! [`EXACT_MAX`] nodes; above that it runs nearest neighbour from several seeded starts, then
//! 2-opt and Or-opt to a local optimum, and keeps the best. Everything is deterministic.
//!
//! ```
//! use metamorph_trainer::permute::path::{path_cost, shortest_path};
//! // Points on a line, given out of order: the best path visits them in order.
//! let x = [0.0f64, 3.0, 1.0, 2.0];
//! let d: Vec<Vec<f64>> = x.iter().map(|a| x.iter().map(|b| (a - b).abs()).collect()).collect();
//! let p = shortest_path(&d, 0);
//! assert_eq!(path_cost(&d, &p), 3.0);
//! ```

use metamorph::rng::Rng;

/// Largest number of nodes solved exactly.
pub const EXACT_MAX: usize = 12;
const EPS: f64 = 1e-12;

/// Length of the open path visiting `order` (no return edge).
pub fn path_cost(d: &[Vec<f64>], order: &[usize]) -> f64 {
    order.windows(2).map(|w| d[w[0]][w[1]]).sum()
}

/// A shortest (exact for `n ≤ EXACT_MAX`, else locally optimal) path through all `n` nodes of
/// the symmetric matrix `d`, as node indices in visiting order. `seed` picks the heuristic's
/// restarts; the exact solver ignores it.
pub fn shortest_path(d: &[Vec<f64>], seed: u64) -> Vec<usize> {
    let n = d.len();
    if n <= 2 {
        return (0..n).collect();
    }
    if n <= EXACT_MAX {
        return held_karp(d);
    }
    heuristic(d, seed)
}

/// Exact shortest Hamiltonian path by Held–Karp dynamic programming (free endpoints).
pub fn held_karp(d: &[Vec<f64>]) -> Vec<usize> {
    let n = d.len();
    if n <= 1 {
        return (0..n).collect();
    }
    let full = (1usize << n) - 1;
    // cost[mask][last]: shortest path visiting exactly `mask`, ending at `last` (starting
    // anywhere: the dummy node reaches every node for free).
    let mut cost = vec![f64::INFINITY; (full + 1) * n];
    let mut from = vec![usize::MAX; (full + 1) * n];
    for v in 0..n {
        cost[(1 << v) * n + v] = 0.0;
    }
    for mask in 1..=full {
        for last in 0..n {
            let c = cost[mask * n + last];
            if mask & (1 << last) == 0 || !c.is_finite() {
                continue;
            }
            for next in 0..n {
                if mask & (1 << next) != 0 {
                    continue;
                }
                let m2 = mask | (1 << next);
                let c2 = c + d[last][next];
                if c2 < cost[m2 * n + next] - EPS {
                    cost[m2 * n + next] = c2;
                    from[m2 * n + next] = last;
                }
            }
        }
    }
    let mut last = (0..n).min_by(|&a, &b| cost[full * n + a].total_cmp(&cost[full * n + b])).expect("n > 0");
    let (mut mask, mut order) = (full, Vec::with_capacity(n));
    loop {
        order.push(last);
        let prev = from[mask * n + last];
        mask &= !(1 << last);
        if prev == usize::MAX {
            break;
        }
        last = prev;
    }
    order.reverse();
    order
}

/// Distance in the graph with the dummy node `n` appended (distance 0 to all).
fn dist(d: &[Vec<f64>], a: usize, b: usize) -> f64 {
    let n = d.len();
    if a == n || b == n {
        0.0
    } else {
        d[a][b]
    }
}

fn tour_cost(d: &[Vec<f64>], t: &[usize]) -> f64 {
    (0..t.len()).map(|i| dist(d, t[i], t[(i + 1) % t.len()])).sum()
}

/// Nearest-neighbour tour over the `n + 1` nodes (dummy included), starting at `start`.
pub fn nearest_neighbour(d: &[Vec<f64>], start: usize) -> Vec<usize> {
    let m = d.len() + 1;
    let mut used = vec![false; m];
    let mut tour = vec![start];
    used[start] = true;
    while tour.len() < m {
        let cur = *tour.last().expect("non-empty");
        let next = (0..m)
            .filter(|&v| !used[v])
            .min_by(|&a, &b| dist(d, cur, a).total_cmp(&dist(d, cur, b)))
            .expect("a node is left");
        used[next] = true;
        tour.push(next);
    }
    tour
}

/// Improves a tour (over the `n + 1` nodes, dummy included) with 2-opt moves until none helps.
pub fn two_opt(d: &[Vec<f64>], t: &mut [usize]) {
    let m = t.len();
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..m - 1 {
            for j in i + 2..m {
                if i == 0 && j == m - 1 {
                    continue;
                }
                let (a, b, c, e) = (t[i], t[i + 1], t[j], t[(j + 1) % m]);
                let delta = dist(d, a, c) + dist(d, b, e) - dist(d, a, b) - dist(d, c, e);
                if delta < -EPS {
                    t[i + 1..=j].reverse();
                    improved = true;
                }
            }
        }
    }
}

/// Improves a tour with Or-opt moves (a run of 1–3 nodes moved elsewhere, either way round).
/// Returns whether any move was made.
pub fn or_opt(d: &[Vec<f64>], t: &mut Vec<usize>) -> bool {
    let m = t.len();
    let mut any = false;
    let mut improved = true;
    while improved {
        improved = false;
        for len in 1..=3usize.min(m.saturating_sub(3)) {
            for i in 0..m {
                // Segment at cyclic positions i..i+len; rotate so it starts at 0 for simplicity.
                t.rotate_left(i);
                let (p, s0, sl, nx) = (t[m - 1], t[0], t[len - 1], t[len]);
                let gain = dist(d, p, s0) + dist(d, sl, nx) - dist(d, p, nx);
                // Insert between t[k], t[k+1] for k in len..m-1 (edges of the remaining path).
                let mut best: Option<(f64, usize, bool)> = None;
                for k in len..m - 1 {
                    let (u, v) = (t[k], t[k + 1]);
                    let fwd = dist(d, u, s0) + dist(d, sl, v) - dist(d, u, v);
                    let rev = dist(d, u, sl) + dist(d, s0, v) - dist(d, u, v);
                    let (c, r) = if rev < fwd { (rev, true) } else { (fwd, false) };
                    if c - gain < -EPS && best.is_none_or(|(bc, _, _)| c < bc) {
                        best = Some((c, k, r));
                    }
                }
                if let Some((_, k, r)) = best {
                    let mut seg: Vec<usize> = t.drain(..len).collect();
                    if r {
                        seg.reverse();
                    }
                    let at = k - len + 1;
                    t.splice(at..at, seg);
                    improved = true;
                    any = true;
                    continue;
                }
                t.rotate_right(i);
            }
        }
    }
    any
}

/// Nearest neighbour from the dummy and from seeded starts, each improved by 2-opt and Or-opt
/// until neither helps; the cheapest path, cut at the dummy.
pub fn heuristic(d: &[Vec<f64>], seed: u64) -> Vec<usize> {
    let n = d.len();
    let mut rng = Rng::new(seed);
    let mut starts = vec![n];
    starts.extend((0..8.min(n)).map(|_| rng.below(n)));
    let mut best: Option<(f64, Vec<usize>)> = None;
    // The identity order is a candidate too, so the result is never worse than no permutation.
    let mut candidates: Vec<Vec<usize>> = starts.iter().map(|&s| nearest_neighbour(d, s)).collect();
    candidates.push((0..=n).collect());
    for mut t in candidates {
        loop {
            two_opt(d, &mut t);
            if !or_opt(d, &mut t) {
                break;
            }
        }
        let c = tour_cost(d, &t);
        if best.as_ref().is_none_or(|(bc, _)| c < *bc - EPS) {
            best = Some((c, t));
        }
    }
    cut_at_dummy(best.expect("at least one candidate").1, n)
}

/// Rotates a tour over `n + 1` nodes so the dummy `n` comes first, and drops it.
pub fn cut_at_dummy(mut tour: Vec<usize>, n: usize) -> Vec<usize> {
    let at = tour.iter().position(|&v| v == n).expect("tour holds the dummy");
    tour.rotate_left(at);
    tour.remove(0);
    tour
}
