//! What a family member costs: parameters, bytes, multiply-accumulates and activation memory.

use super::{ArchSpec, Layer, Shape, MAX_SAVED};
use crate::error::{Error, Result};

/// Costs of one family member at base width `h`, for a batch of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    /// Base width.
    pub h: usize,
    /// Number of parameters (all tensors, morphed and frozen).
    pub params: usize,
    /// Bytes of the parameters as `f32`.
    pub weight_bytes: usize,
    /// Multiply-accumulates of one inference (Dense, Conv2d, branch scale).
    pub macs: usize,
    /// Activation elements the native executor needs for one sample: two ping-pong buffers of the
    /// largest activation plus one slot per residual nesting level.
    pub activation_elems: usize,
    /// Workspace elements of the native executor's convolutions, whatever the batch: the largest
    /// [`conv_workspace`] of the member's convolutions (0 without any).
    pub workspace_elems: usize,
    /// Bytes of the native executor's scratch for one sample: `(activation_elems + workspace_elems) · 4`.
    pub activation_bytes: usize,
}

impl ArchSpec {
    /// Costs at base width `h`. Errors if the spec does not chain at `h` or a count overflows.
    pub fn costs(&self, h: usize) -> Result<Costs> {
        self.output_shape(h)?;
        let mut params = 0usize;
        for p in self.params(h) {
            params = params.checked_add(p.len()).ok_or(Error::Overflow)?;
        }
        let mut macs = 0usize;
        let mut largest = self.input_shape().len();
        let mut workspace = 0usize;
        for (layer, input, output) in self.walk(h) {
            largest = largest.max(output.len());
            let add = match (layer, input, output) {
                (Layer::Dense { .. }, i, o) => i.len().checked_mul(o.len()),
                (Layer::Conv2d { kernel, stride, pad, .. }, i @ Shape::Image(ci, ..), o @ Shape::Image(..)) => {
                    let k = kernel as usize;
                    let need = conv_workspace(i, o, k, stride as usize, pad as usize).ok_or(Error::Overflow)?;
                    workspace = workspace.max(need);
                    o.len().checked_mul(ci).and_then(|v| v.checked_mul(k * k))
                }
                (Layer::AddScaled, ..) => Some(output.len()),
                _ => Some(0),
            };
            macs = add.and_then(|a| macs.checked_add(a)).ok_or(Error::Overflow)?;
        }
        let saved: usize = self.saved_slots(h).iter().sum();
        let activation_elems = largest.checked_mul(2).and_then(|v| v.checked_add(saved)).ok_or(Error::Overflow)?;
        Ok(Costs {
            h,
            params,
            weight_bytes: params.checked_mul(4).ok_or(Error::Overflow)?,
            macs,
            activation_elems,
            workspace_elems: workspace,
            activation_bytes: activation_elems
                .checked_add(workspace)
                .and_then(|v| v.checked_mul(4))
                .ok_or(Error::Overflow)?,
        })
    }
}

/// Workspace `f32`s of one convolution in the native executor (`None` on overflow, or when
/// `input` or `output` is not an image): the larger of the input patches of one output row plus
/// that row of every output channel (`wo · (ci · k² + co)`, the portable kernel) and, for stride 1,
/// the zero-padded input plus one vector of slack (`ci · (hi + 2p) · (wi + 2p) + 8`, the direct
/// kernel used where the CPU has AVX2 and FMA).
pub fn conv_workspace(input: Shape, output: Shape, k: usize, stride: usize, pad: usize) -> Option<usize> {
    let (Shape::Image(ci, hi, wi), Shape::Image(co, _, wo)) = (input, output) else {
        return None;
    };
    let rows = ci.checked_mul(k)?.checked_mul(k)?.checked_add(co)?.checked_mul(wo)?;
    if stride != 1 {
        return Some(rows);
    }
    let side = |n: usize| pad.checked_mul(2)?.checked_add(n);
    let padded = ci.checked_mul(side(hi)?)?.checked_mul(side(wi)?)?.checked_add(8)?;
    Some(rows.max(padded))
}

impl ArchSpec {
    /// Elements of each residual slot (per sample) at base width `h`: slot `d` holds the largest
    /// activation saved at nesting depth `d`.
    pub fn saved_slots(&self, h: usize) -> [usize; MAX_SAVED] {
        let mut slots = [0usize; MAX_SAVED];
        let mut depth = 0usize;
        for (layer, _, output) in self.walk(h) {
            match layer {
                Layer::Save if depth < MAX_SAVED => {
                    slots[depth] = slots[depth].max(output.len());
                    depth += 1;
                }
                Layer::AddScaled => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        slots
    }
}
