//! Channel permutation: reorder every group of coupled channels so the weights vary smoothly
//! along channel axes, without changing the network's function (method §2).
//!
//! A *group* is a set of tensor slices that must be permuted together: a morphable layer's
//! output rows and bias, the next parameter layer's input columns (through ReLU and pooling;
//! after `Flatten` of `[C, H, W]` each channel owns an `H·W` block of features), and every
//! group joined to it by a residual `Save`/`AddScaled`. The network's input channels and every
//! fixed-size output (the classes) are never permuted.
//!
//! Each group's channels are ordered by a shortest Hamiltonian path under the L1 distance
//! between per-channel vectors (all coupled slices concatenated); see [`path`].
//!
//! ```
//! use metamorph_trainer::permute::{channel_groups, Axis};
//! use metamorph_trainer::preset::Preset;
//! let arch = Preset::load("digits-mlp").unwrap().arch;
//! let groups = channel_groups(&arch, 4).unwrap();
//! // Two hidden layers: two groups of 4 channels, each = weight rows + bias + next weight's columns.
//! assert_eq!(groups.len(), 2);
//! assert_eq!(groups[0].channels, 4);
//! assert_eq!(groups[0].members.len(), 3);
//! assert_eq!(groups[0].members[2].axis, Axis::In { block: 1 });
//! ```

pub mod path;

use anyhow::{bail, ensure, Result};
use candle_core::{Device, Tensor};
use metamorph::spec::{ArchSpec, Layer, ParamKind, Shape};

use crate::net::param_shape;

/// Which axis of a parameter tensor a group permutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// The output axis (weight rows, bias entries).
    Out,
    /// The input axis, where each channel owns `block` consecutive input features
    /// (`H·W` after a `Flatten` of `[C, H, W]`, else 1).
    In {
        /// Input features per channel.
        block: usize,
    },
}

/// One slice family of a group: parameter `param` (canonical index) along `axis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Index of the tensor in `arch.params(h)`.
    pub param: usize,
    /// The permuted axis.
    pub axis: Axis,
}

/// A set of coupled channels: one permutation applies to all members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Number of channels.
    pub channels: usize,
    /// Coupled slices, in canonical parameter order.
    pub members: Vec<Member>,
}

#[derive(Clone, Copy)]
enum Tag {
    Fixed,
    Group(usize),
}

struct Builder {
    parent: Vec<usize>,
    channels: Vec<usize>,
    fixed: Vec<bool>,
    members: Vec<Vec<Member>>,
}

impl Builder {
    fn root(&mut self, mut g: usize) -> usize {
        while self.parent[g] != g {
            self.parent[g] = self.parent[self.parent[g]];
            g = self.parent[g];
        }
        g
    }
    fn add(&mut self, channels: usize) -> usize {
        let g = self.parent.len();
        self.parent.push(g);
        self.channels.push(channels);
        self.fixed.push(false);
        self.members.push(Vec::new());
        g
    }
    fn join(&mut self, a: Tag, b: Tag) -> Result<Tag> {
        Ok(match (a, b) {
            (Tag::Fixed, Tag::Fixed) => Tag::Fixed,
            (Tag::Fixed, Tag::Group(g)) | (Tag::Group(g), Tag::Fixed) => {
                let r = self.root(g);
                self.fixed[r] = true;
                Tag::Fixed
            }
            (Tag::Group(a), Tag::Group(b)) => {
                let (ra, rb) = (self.root(a), self.root(b));
                ensure!(self.channels[ra] == self.channels[rb], "residual add joins groups of different sizes");
                if ra != rb {
                    self.parent[rb] = ra;
                    self.fixed[ra] |= self.fixed[rb];
                    let moved = std::mem::take(&mut self.members[rb]);
                    self.members[ra].extend(moved);
                }
                Tag::Group(ra)
            }
        })
    }
}

/// The permutable channel groups of `arch` at base width `h`, in order of first appearance.
/// Groups whose channels reach a fixed-size tensor (the network input, the class output, or a
/// residual add with either) are left out.
pub fn channel_groups(arch: &ArchSpec, h: usize) -> Result<Vec<Group>> {
    arch.output_shape(h).map_err(anyhow::Error::msg)?;
    let infos: Vec<_> = arch.params(h).collect();
    let index_of = |layer: usize, kind: ParamKind| infos.iter().position(|p| p.layer == layer && p.kind == kind);
    let mut b = Builder { parent: vec![], channels: vec![], fixed: vec![], members: vec![] };
    // Tag of the current activation's channels, and features per channel once flattened.
    let (mut tag, mut block) = (Tag::Fixed, 1usize);
    let mut saved: Vec<(Tag, usize)> = Vec::new();
    for (index, (layer, input, output)) in arch.walk(h).enumerate() {
        match layer {
            Layer::Dense { out } | Layer::Conv2d { out, .. } => {
                let (Some(w), Some(bias)) = (index_of(index, ParamKind::Weight), index_of(index, ParamKind::Bias))
                else {
                    bail!("layer {index} has no weight and bias");
                };
                if let Tag::Group(g) = tag {
                    let r = b.root(g);
                    let block = if matches!(input, Shape::Flat(_)) { block } else { 1 };
                    b.members[r].push(Member { param: w, axis: Axis::In { block } });
                }
                tag = if out.is_morphable() {
                    let channels = match output {
                        Shape::Image(c, ..) => c,
                        Shape::Flat(f) => f,
                    };
                    let g = b.add(channels);
                    b.members[g].push(Member { param: w, axis: Axis::Out });
                    b.members[g].push(Member { param: bias, axis: Axis::Out });
                    Tag::Group(g)
                } else {
                    Tag::Fixed
                };
                block = 1;
            }
            Layer::Flatten => {
                if let Shape::Image(_, hh, ww) = input {
                    block = hh * ww;
                }
            }
            Layer::Relu | Layer::MaxPool { .. } | Layer::AvgPool { .. } | Layer::GlobalAvgPool => {}
            Layer::Save => saved.push((tag, block)),
            Layer::AddScaled => {
                let (skip, skip_block) = saved.pop().expect("validated spec");
                if let (Tag::Group(_), Tag::Group(_), true) = (skip, tag, skip_block != block) {
                    bail!("residual add at layer {index} joins flattened channels of different block sizes");
                }
                tag = b.join(skip, tag)?;
            }
        }
    }
    if let Tag::Group(g) = tag {
        let r = b.root(g);
        b.fixed[r] = true;
    }
    let mut groups = Vec::new();
    for g in 0..b.parent.len() {
        if b.root(g) == g && !b.fixed[g] {
            let mut members = b.members[g].clone();
            members.sort_by_key(|m| (m.param, matches!(m.axis, Axis::In { .. })));
            groups.push(Group { channels: b.channels[g], members });
        }
    }
    Ok(groups)
}

/// `(rows, in, k·k)` of parameter `param` of `arch` at width `h` (biases: `(out, 1, 1)`).
fn dims(arch: &ArchSpec, h: usize, param: usize) -> (usize, usize, usize) {
    let p = arch.params(h).nth(param).expect("member indices come from arch.params");
    (p.shape[0], p.shape[1], p.shape[2] * p.shape[3])
}

/// One vector per channel of `group`: all of its coupled slices concatenated.
pub fn channel_vectors(arch: &ArchSpec, h: usize, params: &[Vec<f32>], group: &Group) -> Vec<Vec<f32>> {
    let mut vecs = vec![Vec::new(); group.channels];
    for m in &group.members {
        let data = &params[m.param];
        let (rows, cin, kk) = dims(arch, h, m.param);
        for (c, v) in vecs.iter_mut().enumerate() {
            match m.axis {
                Axis::Out => {
                    let row = cin * kk;
                    v.extend_from_slice(&data[c * row..(c + 1) * row]);
                }
                Axis::In { block } => {
                    let span = block * kk;
                    for o in 0..rows {
                        let base = o * cin * kk + c * span;
                        v.extend_from_slice(&data[base..base + span]);
                    }
                }
            }
        }
    }
    vecs
}

/// Reorders every member of `group` in `params` so that new channel `p` is old channel
/// `order[p]`.
pub fn apply_order(arch: &ArchSpec, h: usize, params: &mut [Vec<f32>], group: &Group, order: &[usize]) {
    for m in &group.members {
        let (rows, cin, kk) = dims(arch, h, m.param);
        let old = params[m.param].clone();
        let new = &mut params[m.param];
        match m.axis {
            Axis::Out => {
                let row = cin * kk;
                for (p, &c) in order.iter().enumerate() {
                    new[p * row..(p + 1) * row].copy_from_slice(&old[c * row..(c + 1) * row]);
                }
            }
            Axis::In { block } => {
                let span = block * kk;
                for o in 0..rows {
                    let base = o * cin * kk;
                    for (p, &c) in order.iter().enumerate() {
                        new[base + p * span..base + (p + 1) * span]
                            .copy_from_slice(&old[base + c * span..base + (c + 1) * span]);
                    }
                }
            }
        }
    }
}

fn l1(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum()
}

/// Total variation of `group` along its channel axis: Σ over adjacent channels of the L1
/// distance between their vectors (= the sum over members of each slice's variation).
pub fn group_variation(arch: &ArchSpec, h: usize, params: &[Vec<f32>], group: &Group) -> f64 {
    let v = channel_vectors(arch, h, params, group);
    v.windows(2).map(|w| l1(&w[0], &w[1])).sum()
}

/// Total variation along channel axes, summed over all groups of `arch` at width `h`.
pub fn total_variation(arch: &ArchSpec, h: usize, params: &[Vec<f32>]) -> Result<f64> {
    Ok(channel_groups(arch, h)?.iter().map(|g| group_variation(arch, h, params, g)).sum())
}

/// What [`permute_flat`] did to one group.
#[derive(Debug, Clone)]
pub struct GroupReport {
    /// The group.
    pub group: Group,
    /// New channel `p` is old channel `order[p]`.
    pub order: Vec<usize>,
    /// Channel-axis total variation before.
    pub tv_before: f64,
    /// And after.
    pub tv_after: f64,
}

/// Permuted parameters and a report per group.
#[derive(Debug, Clone)]
pub struct Permuted {
    /// Parameters in canonical order, flat (row-major), permuted.
    pub params: Vec<Vec<f32>>,
    /// One entry per group.
    pub groups: Vec<GroupReport>,
}

impl Permuted {
    /// Total variation before and after, summed over groups.
    pub fn tv(&self) -> (f64, f64) {
        self.groups.iter().fold((0.0, 0.0), |(a, b), g| (a + g.tv_before, b + g.tv_after))
    }
}

/// Orders every channel group of `arch` at width `h` by a shortest Hamiltonian path (exact up
/// to [`path::EXACT_MAX`] channels, else seeded local search) and applies the orders to
/// `params` (flat tensors in canonical order). The network's function is unchanged.
pub fn permute_flat(arch: &ArchSpec, h: usize, params: &[Vec<f32>], seed: u64) -> Result<Permuted> {
    let infos: Vec<_> = arch.params(h).collect();
    ensure!(infos.len() == params.len(), "expected {} tensors at h = {h}, got {}", infos.len(), params.len());
    for (p, v) in infos.iter().zip(params) {
        ensure!(p.len() == v.len(), "{} has {} values, expected {}", p.name(), v.len(), p.len());
    }
    let mut out = params.to_vec();
    let mut reports = Vec::new();
    for (gi, group) in channel_groups(arch, h)?.into_iter().enumerate() {
        let vecs = channel_vectors(arch, h, &out, &group);
        let d: Vec<Vec<f64>> = vecs.iter().map(|a| vecs.iter().map(|b| l1(a, b)).collect()).collect();
        let tv_before: f64 = (1..d.len()).map(|i| d[i - 1][i]).sum();
        let order = path::shortest_path(&d, seed.wrapping_add(gi as u64));
        let tv_after = path::path_cost(&d, &order);
        apply_order(arch, h, &mut out, &group, &order);
        reports.push(GroupReport { group, order, tv_before, tv_after });
    }
    Ok(Permuted { params: out, groups: reports })
}

/// Flat `f32` copies of candle parameter tensors.
pub fn to_vecs(params: &[Tensor]) -> Result<Vec<Vec<f32>>> {
    params.iter().map(|t| Ok(t.flatten_all()?.to_vec1::<f32>()?)).collect()
}

/// Candle tensors (shaped by [`param_shape`]) from flat values in canonical order.
pub fn to_tensors(arch: &ArchSpec, h: usize, params: &[Vec<f32>], device: &Device) -> Result<Vec<Tensor>> {
    arch.params(h).zip(params).map(|(p, v)| Ok(Tensor::from_slice(v, param_shape(arch, &p), device)?)).collect()
}

/// [`permute_flat`] for candle tensors: returns the permuted tensors and the report.
pub fn permute_tensors(arch: &ArchSpec, h: usize, params: &[Tensor], seed: u64) -> Result<(Vec<Tensor>, Permuted)> {
    let device = params.first().map_or(Device::Cpu, |t| t.device().clone());
    let permuted = permute_flat(arch, h, &to_vecs(params)?, seed)?;
    Ok((to_tensors(arch, h, &permuted.params, &device)?, permuted))
}

/// The base width whose parameter shapes `params` has (the smallest, if several fit).
pub fn width_of(arch: &ArchSpec, params: &[Tensor]) -> Result<usize> {
    (arch.h_min as usize..=arch.h_max as usize)
        .find(|&h| {
            let infos: Vec<_> = arch.params(h).collect();
            infos.len() == params.len()
                && infos.iter().zip(params).all(|(p, t)| t.dims() == param_shape(arch, p).as_slice())
        })
        .ok_or_else(|| anyhow::anyhow!("parameters match no width of {}", arch.name))
}

/// Channel-permuted copy of a member's parameters (candle tensors in canonical order, width
/// inferred from their shapes), seed 0: what INR fitting uses as its target.
pub fn permute(arch: &ArchSpec, params: &[Tensor]) -> Result<Vec<Tensor>> {
    let h = width_of(arch, params)?;
    Ok(permute_tensors(arch, h, params, 0)?.0)
}

/// Permutes the checkpoint at `input` (from `metamorph-train base`) with `seed` and writes the
/// result to `output`, with `permuted = "seed <seed>"` added to its metadata; what
/// `metamorph-train permute` runs.
pub fn run(input: &std::path::Path, output: &std::path::Path, seed: u64) -> Result<Permuted> {
    metamorph_host::fs::check_writable(output)?;
    let mut ckpt = crate::base::Checkpoint::load(input, &Device::Cpu)?;
    let (params, report) = permute_tensors(&ckpt.arch, ckpt.h, &ckpt.params, seed)?;
    ckpt.params = params;
    ckpt.metadata.insert("permuted".into(), format!("seed {seed}"));
    ckpt.save(output)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::path::*;
    use metamorph::rng::Rng;

    fn random_matrix(n: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
        let pts: Vec<[f32; 3]> = (0..n).map(|_| [rng.next_f32(), rng.next_f32(), rng.next_f32()]).collect();
        pts.iter()
            .map(|a| pts.iter().map(|b| a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum()).collect())
            .collect()
    }

    fn brute(d: &[Vec<f64>]) -> f64 {
        fn go(d: &[Vec<f64>], order: &mut Vec<usize>, used: &mut [bool], best: &mut f64) {
            if order.len() == d.len() {
                *best = best.min(path_cost(d, order));
                return;
            }
            for v in 0..d.len() {
                if !used[v] {
                    used[v] = true;
                    order.push(v);
                    go(d, order, used, best);
                    order.pop();
                    used[v] = false;
                }
            }
        }
        let mut best = f64::INFINITY;
        go(d, &mut vec![], &mut vec![false; d.len()], &mut best);
        best
    }

    #[test]
    fn held_karp_equals_brute_force() {
        let mut rng = Rng::new(1);
        for n in 1..=8 {
            for _ in 0..4 {
                let d = random_matrix(n, &mut rng);
                let p = held_karp(&d);
                let mut sorted = p.clone();
                sorted.sort();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>());
                assert!((path_cost(&d, &p) - brute(&d)).abs() < 1e-9, "n = {n}");
            }
        }
    }

    #[test]
    fn local_search_no_worse_than_nearest_neighbour_and_close_to_exact() {
        let mut rng = Rng::new(2);
        for n in [10, 12, 40, 100] {
            let d = random_matrix(n, &mut rng);
            let nn = cut_at_dummy(nearest_neighbour(&d, n), n);
            let mut t = nearest_neighbour(&d, n);
            two_opt(&d, &mut t);
            let opt2 = cut_at_dummy(t.clone(), n);
            or_opt(&d, &mut t);
            let both = cut_at_dummy(t, n);
            let h = heuristic(&d, 0);
            assert!(path_cost(&d, &opt2) <= path_cost(&d, &nn) + 1e-9);
            assert!(path_cost(&d, &both) <= path_cost(&d, &opt2) + 1e-9);
            assert!(path_cost(&d, &h) <= path_cost(&d, &both) + 1e-9);
            assert_eq!(heuristic(&d, 0), h, "deterministic");
            if n <= 12 {
                let exact = path_cost(&d, &held_karp(&d));
                assert!(path_cost(&d, &h) <= exact * 1.05 + 1e-9, "n = {n}: {} vs {exact}", path_cost(&d, &h));
            }
        }
    }
}
