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

mod classify;
mod conv;
mod dense;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod direct;
mod pool;

pub use classify::argmax;

use crate::error::{Error, Result};
use crate::spec::{ArchSpec, Layer, ParamInfo, MAX_SAVED};

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
    forward(arch, h, input, batch, scratch, Source::<NoFill>::Whole(params))
}

/// `f32`s of the largest layer's parameters at base width `h` (its weight and bias together): the
/// `layer` buffer [`run_streamed`] needs.
pub fn layer_len(arch: &ArchSpec, h: usize) -> Result<usize> {
    arch.costs(h)?;
    let (mut largest, mut current, mut layer) = (0usize, 0usize, usize::MAX);
    for p in arch.params(h) {
        current = if p.layer == layer { current.saturating_add(p.len()) } else { p.len() };
        layer = p.layer;
        largest = largest.max(current);
    }
    Ok(largest)
}

/// As [`run`], but each layer's parameters are written into `layer` (at least [`layer_len`]
/// `f32`s) just before the layer runs, by `fill(info, out)`, which must write tensor `info` into
/// `out[..info.len()]` (e.g. [`Materialiser::tensor`](crate::materialise::Materialiser::tensor)).
/// Only one layer's parameters are ever held; the result is bit-identical to [`run`] on the same
/// parameters. Errors if `layer` is short or `fill` fails.
pub fn run_streamed<'s, F>(
    arch: &ArchSpec,
    h: usize,
    input: &[f32],
    batch: usize,
    scratch: &'s mut [f32],
    layer: &mut [f32],
    fill: F,
) -> Result<&'s [f32]>
where
    F: FnMut(&ParamInfo, &mut [f32]) -> Result<()>,
{
    let need = layer_len(arch, h)?;
    if layer.len() < need {
        return Err(Error::BufferTooSmall { needed: need, provided: layer.len() });
    }
    forward(arch, h, input, batch, scratch, Source::Streamed { layer, fill })
}

/// One layer's parameter slices: its first tensor (weight or scale) and its second (bias), each
/// `None` where the layer has no such tensor.
type LayerParams<'a> = (Option<&'a [f32]>, Option<&'a [f32]>);

/// [`Source::Whole`]'s fill type, never called.
type NoFill = fn(&ParamInfo, &mut [f32]) -> Result<()>;

/// Where [`forward`] gets each layer's parameters.
enum Source<'p, F> {
    /// All tensors concatenated in canonical order.
    Whole(&'p [f32]),
    /// Written into `layer` on demand by `fill`.
    Streamed { layer: &'p mut [f32], fill: F },
}

impl<F: FnMut(&ParamInfo, &mut [f32]) -> Result<()>> Source<'_, F> {
    /// The parameters of one layer's tensors `first` and `second` (consecutive in canonical order).
    fn layer(&mut self, first: Option<ParamInfo>, second: Option<ParamInfo>) -> Result<LayerParams<'_>> {
        let Some(a) = first else {
            return Ok((None, None));
        };
        let start = a.offset;
        let end = second.map_or(a.offset + a.len(), |b| b.offset + b.len());
        let all: &[f32] = match self {
            Source::Whole(params) => params.get(start..end).ok_or(MISSING)?,
            Source::Streamed { layer, fill } => {
                let layer = layer.get_mut(..end - start).ok_or(MISSING)?;
                for p in [Some(a), second].into_iter().flatten() {
                    fill(&p, &mut layer[p.offset - start..][..p.len()])?;
                }
                layer
            }
        };
        let (x, y) = all.split_at(a.len());
        Ok((Some(x), second.map(|_| y)))
    }
}

/// The executor proper: [`run`] and [`run_streamed`] differ only in `params`.
fn forward<'s, F: FnMut(&ParamInfo, &mut [f32]) -> Result<()>>(
    arch: &ArchSpec,
    h: usize,
    input: &[f32],
    batch: usize,
    scratch: &'s mut [f32],
    mut params: Source<'_, F>,
) -> Result<&'s [f32]> {
    let costs = arch.costs(h)?;
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
        // This layer's tensors: none, a scale, or a weight and a bias.
        let first = tensors.next_if(|p| p.layer == index);
        let second = first.and_then(|_| tensors.next_if(|p| p.layer == index));
        let (w, b) = params.layer(first, second)?;
        let out_len = outs.len() * batch;
        match layer {
            Layer::Dense { .. } => {
                let (w, b) = (w.ok_or(MISSING)?, b.ok_or(MISSING)?);
                dense::forward(&cur[..len], w, b, batch, ins.len(), outs.len(), &mut next[..out_len])?;
            }
            Layer::Conv2d { stride, pad, kernel, .. } => {
                let (w, b) = (w.ok_or(MISSING)?, b.ok_or(MISSING)?);
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
                let alpha = w.ok_or(MISSING)?[0];
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
