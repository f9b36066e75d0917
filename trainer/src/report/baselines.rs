//! Baselines that shrink a trained full-width network without retraining: slicing its first
//! channels (slimmable-style) and structured magnitude pruning.
//!
//! Both keep, for every coupled-channel group of [`channel_groups`] (a layer's output rows and
//! bias, the next layer's input columns through ReLU / pooling / `Flatten`, residual ties), a
//! subset of `C(h)` channels, and gather the kept slices into a network of base width `h`.
//! Frozen dimensions (the input, the classes) and branch scales are kept whole.
//!
//! ```
//! use metamorph_trainer::{base, preset::Preset, report::baselines};
//! let arch = Preset::load("digits-mlp").unwrap().arch;
//! let full = base::init_params(&arch, 32, 0, &candle_core::Device::Cpu).unwrap();
//! let small = baselines::slice(&arch, &full, 8).unwrap();
//! // 64 inputs -> 8 -> 8 -> 10: the first layer keeps rows 0..8 of its [32, 64] weight.
//! assert_eq!(small[0].dims(), &[8, 64]);
//! assert_eq!(small[2].dims(), &[8, 8]);
//! ```

use crate::net::param_shape;
use crate::permute::{channel_groups, to_tensors, to_vecs, Axis, Group};
use anyhow::{ensure, Context, Result};
use candle_core::Tensor;
use metamorph::spec::{ArchSpec, ParamKind};

/// How a shrinking baseline picks the channels it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The first `C(h)` channels of every group (slimmable-style slicing).
    First,
    /// The `C(h)` channels whose incoming weights (every output-axis weight slice of the group,
    /// summed) have the largest L1 norm; ties go to the lower index. Kept in ascending order.
    LargestL1,
}

/// The member of base width `h` sliced from the full-width `full` (canonical order, shaped by
/// [`param_shape`], `h_max`): every morphed dimension keeps its first `C(h)` channels. At
/// `h = h_max` it returns `full` unchanged. Errors if `full` is not a full-width member or `h`
/// is out of range.
pub fn slice(arch: &ArchSpec, full: &[Tensor], h: usize) -> Result<Vec<Tensor>> {
    shrink(arch, full, h, Selection::First)
}

/// The member of base width `h` pruned from `full` without fine-tuning: per group, the `C(h)`
/// output channels of largest L1 norm ([`Selection::LargestL1`]), with the same channels removed
/// from the next layer's inputs. Errors as [`slice`].
pub fn prune(arch: &ArchSpec, full: &[Tensor], h: usize) -> Result<Vec<Tensor>> {
    shrink(arch, full, h, Selection::LargestL1)
}

/// [`slice`] or [`prune`], by `how`.
pub fn shrink(arch: &ArchSpec, full: &[Tensor], h: usize, how: Selection) -> Result<Vec<Tensor>> {
    arch.check_h(h).map_err(anyhow::Error::msg).with_context(|| format!("width h = {h} of {}", arch.name))?;
    let h_max = arch.h_max as usize;
    let infos: Vec<_> = arch.params(h_max).collect();
    ensure!(infos.len() == full.len(), "{} tensors given, a full-width {} has {}", full.len(), arch.name, infos.len());
    for (p, t) in infos.iter().zip(full) {
        ensure!(t.dims() == param_shape(arch, p).as_slice(), "{} is {:?}, not full width", p.name(), t.dims());
    }
    let flat = to_vecs(full)?;
    let groups = channel_groups(arch, h_max)?;
    let small = channel_groups(arch, h)?;
    ensure!(groups.len() == small.len(), "channel groups differ between h = {h_max} and h = {h}");
    let keep: Vec<Vec<usize>> = groups
        .iter()
        .zip(&small)
        .map(|(g, s)| match how {
            Selection::First => (0..s.channels).collect(),
            Selection::LargestL1 => largest_l1(arch, &flat, g, s.channels),
        })
        .collect();
    let out = gather(arch, &flat, &groups, &keep)?;
    let device = full.first().map_or(candle_core::Device::Cpu, |t| t.device().clone());
    to_tensors(arch, h, &out, &device)
}

/// L1 norm of every channel of `group`: Σ |w| over the channel's rows of every output-axis
/// weight member (biases and input-axis slices are not counted).
pub fn channel_l1(arch: &ArchSpec, params: &[Vec<f32>], group: &Group) -> Vec<f64> {
    let infos: Vec<_> = arch.params(arch.h_max as usize).collect();
    let mut norms = vec![0.0f64; group.channels];
    for m in group.members.iter().filter(|m| m.axis == Axis::Out && infos[m.param].kind == ParamKind::Weight) {
        let row = params[m.param].len() / group.channels;
        for (c, n) in norms.iter_mut().enumerate() {
            *n += params[m.param][c * row..(c + 1) * row].iter().map(|v| v.abs() as f64).sum::<f64>();
        }
    }
    norms
}

/// Indices of the `n` channels of `group` with the largest [`channel_l1`], ascending.
pub fn largest_l1(arch: &ArchSpec, params: &[Vec<f32>], group: &Group, n: usize) -> Vec<usize> {
    let norms = channel_l1(arch, params, group);
    let mut order: Vec<usize> = (0..norms.len()).collect();
    order.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]).then(a.cmp(&b)));
    let mut kept = order[..n.min(order.len())].to_vec();
    kept.sort_unstable();
    kept
}

/// Gathers the kept channels `keep[g]` of every group `groups[g]` (at `h_max`) from the
/// full-width flat tensors `params`. Returns flat tensors in canonical order; their sizes are
/// whatever the selections give (the caller checks them against the target width).
pub fn gather(arch: &ArchSpec, params: &[Vec<f32>], groups: &[Group], keep: &[Vec<usize>]) -> Result<Vec<Vec<f32>>> {
    let infos: Vec<_> = arch.params(arch.h_max as usize).collect();
    let mut out_sel: Vec<Option<&[usize]>> = vec![None; infos.len()];
    let mut in_sel: Vec<Option<(&[usize], usize)>> = vec![None; infos.len()];
    for (g, kept) in groups.iter().zip(keep) {
        ensure!(kept.iter().all(|&c| c < g.channels), "kept channel out of range for a group of {}", g.channels);
        for m in &g.members {
            match m.axis {
                Axis::Out => out_sel[m.param] = Some(kept),
                Axis::In { block } => in_sel[m.param] = Some((kept, block)),
            }
        }
    }
    let mut out = Vec::with_capacity(infos.len());
    for (i, p) in infos.iter().enumerate() {
        let data = &params[i];
        let [rows, cin, k1, k2] = p.shape;
        let row_len = cin * k1 * k2;
        let all_rows: Vec<usize>;
        let rows_kept = match out_sel[i] {
            Some(r) => r,
            None => {
                all_rows = (0..rows).collect();
                &all_rows
            }
        };
        let mut v = Vec::new();
        for &r in rows_kept {
            let row = &data[r * row_len..(r + 1) * row_len];
            match in_sel[i] {
                None => v.extend_from_slice(row),
                Some((cols, block)) => {
                    let span = block * k1 * k2;
                    for &c in cols {
                        v.extend_from_slice(&row[c * span..(c + 1) * span]);
                    }
                }
            }
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;
    use candle_core::Device;

    #[test]
    fn largest_l1_prefers_heavy_rows_and_keeps_ascending_order() {
        let arch = Preset::load("digits-mlp").unwrap().arch;
        let mut flat = to_vecs(&crate::base::init_params(&arch, 32, 1, &Device::Cpu).unwrap()).unwrap();
        let g = &channel_groups(&arch, 32).unwrap()[0];
        for c in [30, 3, 17] {
            flat[0][c * 64..(c + 1) * 64].iter_mut().for_each(|v| *v = 10.0);
        }
        assert_eq!(largest_l1(&arch, &flat, g, 3), vec![3, 17, 30]);
    }
}
