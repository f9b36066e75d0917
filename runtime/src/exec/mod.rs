//! The native executor: runs a materialised member on caller buffers, `no_std`, no allocation.
//!
//! It is both the microcontroller path and the oracle the ONNX engines are tested against.
//! Activations are `[batch, …]` row-major; one ping-pong pair, one slot per residual level and
//! the convolutions' workspace live in the caller's scratch ([`scratch_len`]).
//!
//! ```
//! use metamorph::{exec, spec::{ArchSpec, Dim, Layer}};
//! let arch = ArchSpec::new("id", [1, 1, 2], 2, 1, &[
//!     Layer::Flatten, Layer::Dense { out: Dim::Fixed(2) }, Layer::Relu,
//! ]).unwrap();
//! // weight [[1, 0], [0, -1]], bias [0.5, 0.5]
//! let params = [1.0, 0.0, 0.0, -1.0, 0.5, 0.5];
//! let mut scratch = [0.0; 16];
//! let y = exec::run(&arch, 2, &params, &[2.0, 3.0], 1, &mut scratch).unwrap();
//! assert_eq!(y, [2.5, 0.0]);
//! ```

mod conv;
mod dense;
mod pool;

use crate::error::{Error, Result};
use crate::spec::{ArchSpec, Layer, MAX_SAVED};

const MISSING: Error = Error::BadArgument("parameter tensor missing for a layer");

/// Scratch `f32`s [`run`] needs for `batch` samples at base width `h`.
pub fn scratch_len(arch: &ArchSpec, h: usize, batch: usize) -> Result<usize> {
    let c = arch.costs(h)?;
    c.activation_elems.checked_mul(batch).and_then(|v| v.checked_add(c.workspace_elems)).ok_or(Error::Overflow)
}

/// Runs `batch` samples of `input` (`batch × C·H·W`) through the member of base width `h` whose
/// parameters are `params` (all tensors concatenated in canonical order). Returns the logits,
/// `batch × classes`, as a slice of `scratch`.
pub fn run<'s>(
    arch: &ArchSpec,
    h: usize,
    params: &[f32],
    input: &[f32],
    batch: usize,
    scratch: &'s mut [f32],
) -> Result<&'s [f32]> {
    let costs = arch.costs(h)?;
    if params.len() != costs.params {
        return Err(Error::ShapeMismatch { expected: costs.params, found: params.len() });
    }
    let in_len = arch.input_shape().len() * batch;
    if input.len() != in_len {
        return Err(Error::ShapeMismatch { expected: in_len, found: input.len() });
    }
    let need = scratch_len(arch, h, batch)?;
    if scratch.len() < need {
        return Err(Error::BufferTooSmall { needed: need, provided: scratch.len() });
    }
    let slot_sizes = arch.saved_slots(h);
    let saved_total: usize = slot_sizes.iter().sum();
    let largest = (costs.activation_elems - saved_total) / 2 * batch;
    let (work, activations) = scratch.split_at_mut(costs.workspace_elems);
    let (mut cur, rest) = activations.split_at_mut(largest);
    let (mut next, slots) = rest.split_at_mut(largest);
    let mut slot_start = [0usize; MAX_SAVED];
    for d in 1..MAX_SAVED {
        slot_start[d] = slot_start[d - 1] + slot_sizes[d - 1] * batch;
    }
    let mut depth = 0usize;
    cur[..in_len].copy_from_slice(input);
    let mut tensors = arch.params(h).peekable();
    let mut len = in_len;
    for (index, (layer, ins, outs)) in arch.walk(h).enumerate() {
        let mut take = || tensors.next_if(|p| p.layer == index).map(|p| &params[p.offset..p.offset + p.len()]);
        let out_len = outs.len() * batch;
        match layer {
            Layer::Dense { .. } => {
                let (w, b) = (take().ok_or(MISSING)?, take().ok_or(MISSING)?);
                dense::forward(&cur[..len], w, b, batch, ins.len(), outs.len(), &mut next[..out_len])?;
            }
            Layer::Conv2d { stride, pad, kernel, .. } => {
                let (w, b) = (take().ok_or(MISSING)?, take().ok_or(MISSING)?);
                let geom = conv::Geometry::new(ins, outs, kernel, stride, pad)?;
                conv::forward(&cur[..len], w, b, batch, &geom, &mut next[..out_len], work)?;
            }
            Layer::MaxPool { kernel, stride } => {
                pool::window(&cur[..len], batch, ins, outs, kernel, stride, pool::Kind::Max, &mut next[..out_len])?
            }
            Layer::AvgPool { kernel, stride } => {
                pool::window(&cur[..len], batch, ins, outs, kernel, stride, pool::Kind::Avg, &mut next[..out_len])?
            }
            Layer::GlobalAvgPool => pool::global_avg(&cur[..len], batch, ins, &mut next[..out_len])?,
            Layer::Relu => {
                cur[..len].iter_mut().for_each(|v| *v = v.max(0.0));
                continue;
            }
            Layer::Flatten => continue,
            Layer::Save => {
                let start = *slot_start.get(depth).ok_or(Error::BadSpec("residual nesting too deep"))?;
                slots[start..start + len].copy_from_slice(&cur[..len]);
                depth += 1;
                continue;
            }
            Layer::AddScaled => {
                let alpha = take().ok_or(MISSING)?[0];
                depth = depth.checked_sub(1).ok_or(Error::BadSpec("AddScaled without Save"))?;
                let start = slot_start[depth];
                for (c, s) in cur[..len].iter_mut().zip(&slots[start..start + len]) {
                    *c = s + alpha * *c;
                }
                continue;
            }
        }
        core::mem::swap(&mut cur, &mut next);
        len = out_len;
    }
    Ok(&cur[..len])
}
