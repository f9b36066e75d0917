//! Materialisation on several threads, bit-identical to the single-threaded core.

use anyhow::{anyhow, Context, Result};
use metamorph::materialise::{Materialiser, ROW_BLOCK};

/// All tensors of `m`'s member in a new `Vec`, each morphed tensor's rows split across up to
/// `threads` scoped threads, each with its own scratch. Bit-identical to
/// [`Materialiser::to_vec`] whatever the thread count, because every row is computed
/// independently ([`Materialiser::tensor_rows`]).
pub fn materialise(m: &Materialiser<'_, '_>, threads: usize) -> Result<Vec<f32>> {
    let mut out = vec![0.0; m.total_len()];
    let mut scratch: Vec<Vec<f32>> = (0..threads.max(1)).map(|_| vec![0.0; m.scratch_len()]).collect();
    for info in m.params() {
        let name = info.name();
        let dst = &mut out[info.offset..info.offset + info.len()];
        let Some(morph) = info.morph.filter(|mo| threads > 1 && mo.rows() >= 2 * ROW_BLOCK) else {
            m.tensor(&info, dst, &mut scratch[0]).with_context(|| format!("materialising {name}"))?;
            continue;
        };
        let per = morph.rows().div_ceil(threads).next_multiple_of(ROW_BLOCK);
        std::thread::scope(|s| {
            let jobs: Vec<_> = dst
                .chunks_mut(per * morph.values_per_row())
                .zip(scratch.iter_mut())
                .enumerate()
                .map(|(t, (part, scratch))| {
                    let start = t * per;
                    let rows = start..start + part.len() / morph.values_per_row();
                    s.spawn(move || m.tensor_rows(&info, rows, part, scratch).map(|_| ()))
                })
                .collect();
            jobs.into_iter().try_for_each(|j| match j.join() {
                Ok(done) => done.with_context(|| format!("materialising {name}")),
                Err(_) => Err(anyhow!("a thread materialising {name} panicked")),
            })
        })?;
    }
    Ok(out)
}
