//! One step of the trace: materialise the planned member in the arena and classify the images,
//! either whole (all weights generated once, then every image runs) or streamed (every image
//! runs layer by layer, each layer's weights generated into one buffer just before it runs).

use crate::arena::Bump;
use crate::clock::Clock;
use metamorph::exec::{self, argmax};
use metamorph::format::Hypernet;
use metamorph::materialise::Materialiser;
use metamorph::Error;

/// Pixels of one 28 × 28 image.
pub const PIXELS: usize = 28 * 28;

/// How the member is held.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    /// All weights at once ([`metamorph::plan::plan`]).
    Whole,
    /// One layer's weights at a time ([`metamorph::plan::plan_streamed`]).
    Streamed,
}

/// What a step measured.
pub struct Outcome<const N: usize> {
    /// Cycles generating weights: once for [`Mode::Whole`], per inference (mean) for [`Mode::Streamed`].
    pub materialise_cycles: u64,
    /// Cycles of the executor's layers per inference (mean), weight generation excluded.
    pub infer_cycles: u64,
    /// Predicted class per image, as ASCII digits.
    pub predictions: [u8; N],
    /// Arena bytes handed out.
    pub reserved: usize,
}

/// Runs every image of `images` (`N` × [`PIXELS`] bytes) through the member of `m` held as `mode`,
/// with every buffer taken from `bump`.
pub fn run<const N: usize>(
    net: &Hypernet<'_>,
    m: &Materialiser<'_, '_>,
    mode: Mode,
    images: &[u8],
    bump: &mut Bump<'_>,
    clock: &Clock,
) -> Result<Outcome<N>, Error> {
    let (arch, h) = (&net.arch, m.h());
    let weights = bump.take(match mode {
        Mode::Whole => m.total_len(),
        Mode::Streamed => exec::layer_len(arch, h)?,
    })?;
    let scratch = bump.take(m.scratch_len())?;
    let activations = bump.take(exec::scratch_len(arch, h, 1)?)?;
    let n = N as u64;
    match mode {
        Mode::Whole => {
            let t0 = clock.now();
            let weights = &*m.all(weights, scratch)?;
            let materialise_cycles = clock.now() - t0;
            // The materialiser's scratch is free now: it holds the input image.
            let input = scratch.get_mut(..PIXELS).ok_or(Error::BufferTooSmall { needed: PIXELS, provided: 0 })?;
            let reserved = bump.reserved_bytes();
            let (predictions, total) =
                classify(images, input, clock, |x| Ok(argmax(exec::run(arch, h, weights, x, 1, activations)?)))?;
            Ok(Outcome { materialise_cycles, infer_cycles: total / n, predictions, reserved })
        }
        Mode::Streamed => {
            let input = bump.take(PIXELS)?;
            let reserved = bump.reserved_bytes();
            let mut generating = 0;
            let (predictions, total) = classify(images, input, clock, |x| {
                let logits = exec::run_streamed(arch, h, x, 1, activations, weights, |info, out| {
                    let t0 = clock.now();
                    m.tensor(info, out, scratch)?;
                    generating += clock.now() - t0;
                    Ok(())
                })?;
                Ok(argmax(logits))
            })?;
            Ok(Outcome {
                materialise_cycles: generating / n,
                infer_cycles: (total - generating) / n,
                predictions,
                reserved,
            })
        }
    }
}

/// Classifies each image of `images` with `infer` (image in `[0, 1]` → class), converting it into
/// `input` first; returns the predictions as ASCII digits and the cycles spent in `infer`.
fn classify<const N: usize>(
    images: &[u8],
    input: &mut [f32],
    clock: &Clock,
    mut infer: impl FnMut(&[f32]) -> Result<usize, Error>,
) -> Result<([u8; N], u64), Error> {
    let mut predictions = [b'?'; N];
    let mut total = 0;
    for (prediction, image) in predictions.iter_mut().zip(images.chunks_exact(PIXELS)) {
        // As the host's loader: bytes / 255.
        input.iter_mut().zip(image).for_each(|(x, &p)| *x = f32::from(p) / 255.0);
        let t0 = clock.now();
        let class = infer(input)?;
        total += clock.now() - t0;
        *prediction = b'0' + class as u8;
    }
    Ok((predictions, total))
}
