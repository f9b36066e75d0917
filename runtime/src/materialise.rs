//! Streaming materialisation: write one family member's tensors into caller buffers.
//!
//! Tensors come out one at a time in canonical order ([`ArchSpec::params`](crate::spec::ArchSpec::params)),
//! so peak memory is the largest tensor plus [`Materialiser::scratch_len`]. The result is a pure
//! function of (file, width, samples, seed): bit-identical on every run.
//!
//! ```
//! # use metamorph::{format, inr::InrConfig, spec::{ArchSpec, Dim, Layer}, materialise::Materialiser};
//! # #[cfg(feature = "alloc")] { // building the example file needs `alloc`
//! # let arch = ArchSpec::new("tiny", [1, 2, 2], 4, 1, &[
//! #     Layer::Flatten, Layer::Dense { out: Dim::Width(1) }, Layer::Relu, Layer::Dense { out: Dim::Fixed(2) },
//! # ]).unwrap();
//! # let inr = InrConfig { bands: 1, hidden: 4, depth: 1, norm: 4.0 };
//! # let bytes = format::OwnedHypernet::zeros(arch, inr, "none").unwrap().to_bytes().unwrap();
//! let net = format::read(&bytes).unwrap();
//! let m = Materialiser::new(&net, 3, 1, 0).unwrap(); // base width 3 of 4, K = 1
//! let mut weights = [1.0f32; 64];
//! let mut scratch = [0.0f32; 4096];
//! let used = m.all(&mut weights, &mut scratch).unwrap();
//! assert_eq!(used.len(), 3 * 4 + 3 + 2 * 3 + 2);
//! assert!(used.iter().all(|&w| w == 0.0)); // an all-zero INR generates zeros
//! # }
//! ```

use crate::error::{Error, Result};
use crate::format::{blob::read_f32s, Hypernet};
use crate::gemm::linear;
use crate::inr::features::{coordinate, fourier, fourier_reusing};
use crate::inr::{coords, mlp::Mlp, InrConfig};
use crate::spec::{Morph, ParamInfo, ParamKind, Query};

/// Rows evaluated per GEMM block.
pub const ROW_BLOCK: usize = 128;

/// Materialises the member of base width `h` of a hypernet with `samples` INR queries per weight.
#[derive(Debug, Clone, Copy)]
pub struct Materialiser<'n, 'a> {
    net: &'n Hypernet<'a>,
    h: usize,
    samples: u32,
    seed: u64,
}

impl<'n, 'a> Materialiser<'n, 'a> {
    /// Errors if `h` is outside the family's range or `samples` is 0.
    pub fn new(net: &'n Hypernet<'a>, h: usize, samples: u32, seed: u64) -> Result<Self> {
        net.arch.check_h(h)?;
        if samples == 0 {
            return Err(Error::Invalid("samples must be at least 1"));
        }
        Ok(Materialiser { net, h, samples, seed })
    }

    /// Base width being materialised.
    pub fn h(&self) -> usize {
        self.h
    }

    /// Total `f32`s of all tensors.
    pub fn total_len(&self) -> usize {
        self.net.arch.params(self.h).map(|p| p.len()).sum()
    }

    /// Largest single tensor, in `f32`s (the streaming output buffer size).
    pub fn largest_tensor(&self) -> usize {
        self.net.arch.params(self.h).map(|p| p.len()).max().unwrap_or(0)
    }

    /// Scratch `f32`s [`Materialiser::tensor`] needs for any tensor of this member.
    pub fn scratch_len(&self) -> usize {
        scratch_len(self.net)
    }

    /// Writes tensor `info` (one of this member's [`ArchSpec::params`](crate::spec::ArchSpec::params))
    /// into `out[..info.len()]` and returns that slice.
    pub fn tensor<'o>(&self, info: &ParamInfo, out: &'o mut [f32], scratch: &mut [f32]) -> Result<&'o mut [f32]> {
        let len = info.len();
        if out.len() < len {
            return Err(Error::BufferTooSmall { needed: len, provided: out.len() });
        }
        let out = &mut out[..len];
        match info.morph {
            None => {
                let bytes = self.net.frozen.get(info.frozen_index).ok_or(Error::Invalid("missing frozen tensor"))?;
                read_f32s(bytes, out)?;
            }
            Some(m) => self.morphed(info, m, 0..m.rows(), out, scratch)?,
        }
        Ok(out)
    }

    /// Writes rows `rows` of morphed tensor `info` (row `r` holds values `r · n .. (r + 1) · n` of
    /// the tensor, `n` values per INR query) into `out[..rows.len() · n]`. Every row is computed
    /// independently, so any split of a tensor into row ranges gives the same bits as
    /// [`Materialiser::tensor`]; this is what lets callers with threads split the work.
    /// Errors for frozen tensors, ranges outside the tensor, or a short `out`.
    pub fn tensor_rows<'o>(
        &self,
        info: &ParamInfo,
        rows: core::ops::Range<usize>,
        out: &'o mut [f32],
        scratch: &mut [f32],
    ) -> Result<&'o mut [f32]> {
        let m = info.morph.ok_or(Error::Invalid("row ranges exist only for morphed tensors"))?;
        if rows.start > rows.end || rows.end > m.rows() {
            return Err(Error::ShapeMismatch { expected: m.rows(), found: rows.end });
        }
        let len = rows.len() * m.values_per_row();
        if out.len() < len {
            return Err(Error::BufferTooSmall { needed: len, provided: out.len() });
        }
        let out = &mut out[..len];
        self.morphed(info, m, rows, out, scratch)?;
        Ok(out)
    }

    /// Evaluates the INR for morphed tensor `info` into `out` (exactly `info.len()` long).
    ///
    /// Sample 0 of a pair weight takes the separable path: its first layer is
    /// `A[i] + B[j]` (see [`separable_input`]); every other sample, bias and row query evaluates
    /// the Fourier features of each row. The path depends only on the tensor and the sample, never
    /// on the scratch size.
    fn morphed(
        &self,
        info: &ParamInfo,
        m: Morph,
        range: core::ops::Range<usize>,
        out: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        let t = self.net.tensors.get(m.index).ok_or(Error::Invalid("missing INR tensor"))?;
        let (cfg, o) = (&self.net.inr, t.out_size as usize);
        let need = self.scratch_len();
        if scratch.len() < need {
            return Err(Error::BufferTooSmall { needed: need, provided: scratch.len() });
        }
        let (hid_n, p) = (cfg.hidden as usize, cfg.features());
        let (params, rest) = split(scratch, cfg.param_count(o))?;
        t.params.unpack(cfg, o, params)?;
        let mlp = Mlp::new(*cfg, o, params)?;
        let (mlp_scratch, work) = split(rest, Mlp::scratch_len(cfg, ROW_BLOCK))?;
        let is_bias = info.kind == ParamKind::Bias;
        let total = self.net.arch.morphed_count();
        let amp = coords::amplitude(self.net.meta.sigma);
        let mut fan_in = [0.0f32; ROW_BLOCK];
        // Samples outermost: each element still sums its samples in order 0, 1, …, K−1.
        for s in 0..self.samples {
            if s == 0 && m.query == Query::Pair && !is_bias {
                let (by_i, rest) = split(work, m.c_out * hid_n)?;
                let (by_j, rest) = split(rest, m.c_in * hid_n)?;
                separable_input(&mlp, &m, total, by_i, by_j, rest)?;
                let f = 1.0 / m.c_in as f32;
                for (block, dst) in out.chunks_mut(ROW_BLOCK * o).enumerate() {
                    let (rows, r0) = (dst.len() / o, range.start + block * ROW_BLOCK);
                    let (hid, tmp) = mlp_scratch.split_at_mut(rows * hid_n);
                    for (b, row) in hid.chunks_exact_mut(hid_n).enumerate() {
                        let r = r0 + b;
                        let (ai, bj) = (&by_i[r / m.c_in * hid_n..][..hid_n], &by_j[r % m.c_in * hid_n..][..hid_n]);
                        for ((v, &x), &y) in row.iter_mut().zip(ai).zip(bj) {
                            *v = (x + y).max(0.0);
                        }
                    }
                    mlp.forward_hidden(hid, rows, dst, tmp)?;
                    dst.iter_mut().for_each(|v| *v *= f);
                }
                continue;
            }
            let block_rows = block_rows(o);
            let (feats, rest) = split(work, block_rows * p)?;
            let (acc, _) = split(rest, block_rows * o)?;
            for (block, dst) in out.chunks_mut(block_rows * o).enumerate() {
                let (rows, r0) = (dst.len() / o, range.start + block * block_rows);
                for (b, fan) in fan_in.iter_mut().enumerate().take(rows) {
                    let raw = coords::noisy(&m, total, r0 + b, is_bias, s, self.seed, amp);
                    *fan = 1.0 / raw[5];
                    // Rows share most coordinates with the previous row, and a pair row
                    // shares `j` with the row one `C_in` back: reuse their sines.
                    let (done, rest) = feats.split_at_mut(b * p);
                    let row = |e: usize| &done[e * p..(e + 1) * p];
                    let mut earlier: [&[f32]; 2] = [&[], &[]];
                    let mut n = 0;
                    if b >= 1 {
                        earlier[n] = row(b - 1);
                        n += 1;
                    }
                    if m.c_in > 1 && b >= m.c_in {
                        earlier[n] = row(b - m.c_in);
                        n += 1;
                    }
                    fourier_reusing(
                        &coords::normalise(raw, cfg.norm),
                        cfg.bands as usize,
                        &mut rest[..p],
                        &earlier[..n],
                    );
                }
                let target = if s == 0 { &mut *dst } else { &mut acc[..rows * o] };
                mlp.forward(&feats[..rows * p], rows, target, mlp_scratch)?;
                for (row, f) in target.chunks_exact_mut(o).zip(&fan_in) {
                    row.iter_mut().for_each(|v| *v *= f);
                }
                if s > 0 {
                    dst.iter_mut().zip(acc.iter()).for_each(|(d, a)| *d += a);
                }
            }
        }
        if self.samples > 1 {
            let inv_k = 1.0 / self.samples as f32;
            out.iter_mut().for_each(|v| *v *= inv_k);
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite);
        }
        Ok(())
    }

    /// Writes every tensor, concatenated in canonical order, into `out` and returns the used prefix.
    pub fn all<'o>(&self, out: &'o mut [f32], scratch: &mut [f32]) -> Result<&'o mut [f32]> {
        let total = self.total_len();
        if out.len() < total {
            return Err(Error::BufferTooSmall { needed: total, provided: out.len() });
        }
        for info in self.net.arch.params(self.h) {
            self.tensor(&info, &mut out[info.offset..], scratch)?;
        }
        Ok(&mut out[..total])
    }

    /// All tensors in a new `Vec`, each morphed tensor's rows split across up to `threads`
    /// scoped threads (each with its own scratch). Bit-identical to [`Materialiser::to_vec`]
    /// whatever the thread count (see [`Materialiser::tensor_rows`]).
    #[cfg(feature = "std")]
    pub fn to_vec_threaded(&self, threads: usize) -> Result<alloc::vec::Vec<f32>> {
        let mut out = alloc::vec![0.0; self.total_len()];
        let mut scratch: alloc::vec::Vec<alloc::vec::Vec<f32>> =
            (0..threads.max(1)).map(|_| alloc::vec![0.0; self.scratch_len()]).collect();
        for info in self.net.arch.params(self.h) {
            let dst = &mut out[info.offset..info.offset + info.len()];
            let Some(m) = info.morph.filter(|m| threads > 1 && m.rows() >= 2 * ROW_BLOCK) else {
                self.tensor(&info, dst, &mut scratch[0])?;
                continue;
            };
            let per = m.rows().div_ceil(threads).next_multiple_of(ROW_BLOCK);
            std::thread::scope(|s| {
                let jobs: alloc::vec::Vec<_> = dst
                    .chunks_mut(per * m.values_per_row())
                    .zip(scratch.iter_mut())
                    .enumerate()
                    .map(|(t, (part, scratch))| {
                        let start = t * per;
                        let rows = start..start + part.len() / m.values_per_row();
                        s.spawn(move || self.tensor_rows(&info, rows, part, scratch).map(|_| ()))
                    })
                    .collect();
                jobs.into_iter()
                    .try_for_each(|j| j.join().unwrap_or(Err(Error::Invalid("materialiser thread panicked"))))
            })?;
        }
        Ok(out)
    }

    /// Convenience: all tensors in a new `Vec`.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Result<alloc::vec::Vec<f32>> {
        let mut out = alloc::vec![0.0; self.total_len()];
        let mut scratch = alloc::vec![0.0; self.scratch_len()];
        self.all(&mut out, &mut scratch)?;
        Ok(out)
    }
}

/// Scratch `f32`s to materialise any tensor of `net` (independent of width and sample count).
pub fn scratch_len(net: &Hypernet<'_>) -> usize {
    let cfg = &net.inr;
    let params = net.tensors.iter().map(|t| cfg.param_count(t.out_size as usize)).max().unwrap_or(0);
    let per_row = net
        .tensors
        .iter()
        .map(|t| t.out_size as usize)
        .map(|o| block_rows(o) * (cfg.features() + o))
        .max()
        .unwrap_or(0);
    // The separable path of pair weights' sample 0 reuses the per-row buffers; sized at the
    // widest member (channel counts grow with h).
    let (mut c_out, mut c_in) = (0, 0);
    for m in net.arch.params(net.arch.h_max as usize).filter_map(|p| p.morph.filter(|_| p.kind == ParamKind::Weight)) {
        if m.query == Query::Pair {
            c_out = c_out.max(m.c_out);
            c_in = c_in.max(m.c_in);
        }
    }
    let separable = if c_out == 0 {
        0
    } else {
        (c_out + c_in) * cfg.hidden as usize + separable_input_scratch(cfg, c_out.max(c_in))
    };
    params + Mlp::scratch_len(cfg, ROW_BLOCK) + per_row.max(separable)
}

/// Rows per block of the per-row path for tensors whose rows return `out_size` values: up to
/// [`ROW_BLOCK`], fewer for wide rows so a block's outputs stay within [`BLOCK_VALUES`] (a whole-row
/// query of a 784-input layer would otherwise need 128 × 784 floats of scratch).
pub fn block_rows(out_size: usize) -> usize {
    (BLOCK_VALUES / out_size.max(1)).clamp(1, ROW_BLOCK)
}

/// Most output values one block of the per-row path holds.
pub const BLOCK_VALUES: usize = 16 * 1024;

/// Scratch of [`separable_input`] for tensors of at most `c` output and input channels.
fn separable_input_scratch(cfg: &InrConfig, c: usize) -> usize {
    let q = 1 + 2 * cfg.bands as usize;
    let h = cfg.hidden as usize;
    h * q + c * q + cfg.features() + h
}

/// The first layer of sample 0 of pair weight `m`, split by coordinate: row `r = i · C_in + j`
/// has `x_1 = i / C_out`, `x_2 = j / C_in` and the other four coordinates fixed, so
/// `W_in · pe(x) + b_in = A[i] + B[j]` with `A[i] = W_in[:, cols(1)] · pe_1(x_1(i))` (`a`,
/// `C_out × hidden`) and `B[j] = b_in + W_in[:, cols(const)] · pe_const + W_in[:, cols(2)] ·
/// pe_2(x_2(j))` (`b`, `C_in × hidden`), where `cols(d)` are coordinate `d`'s feature columns.
fn separable_input(
    mlp: &Mlp<'_>,
    m: &Morph,
    total: usize,
    a: &mut [f32],
    b: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let cfg = mlp.config();
    let (h, p, bands) = (cfg.hidden as usize, cfg.features(), cfg.bands as usize);
    let q = 1 + 2 * bands;
    let (w_in, b_in) = mlp.input_layer();
    let (cols, rest) = split(scratch, h * q)?;
    let (coord_feats, rest) = split(rest, m.c_out.max(m.c_in) * q)?;
    let (pe, rest) = split(rest, p)?;
    let (constant, _) = split(rest, h)?;
    let x_of = |r: usize| coords::normalise(coords::raw(m, total, r, false), cfg.norm);
    // The four constant coordinates' features (row 0's, with coordinates 1 and 2 zeroed).
    fourier(&x_of(0), bands, pe);
    for d in [1, 2] {
        pe[d] = 0.0;
        pe[6 + 2 * bands * d..6 + 2 * bands * (d + 1)].fill(0.0);
    }
    linear(pe, w_in, b_in, 1, p, h, constant)?;
    for (d, n) in [(1, m.c_out), (2, m.c_in)] {
        for (o, dst) in cols.chunks_exact_mut(q).enumerate() {
            let w = &w_in[o * p..(o + 1) * p];
            dst[0] = w[d];
            dst[1..].copy_from_slice(&w[6 + 2 * bands * d..6 + 2 * bands * (d + 1)]);
        }
        let feats = &mut coord_feats[..n * q];
        for (t, f) in feats.chunks_exact_mut(q).enumerate() {
            // Row of `i = t` (d = 1) or `j = t` (d = 2).
            let r = if d == 1 { t * m.c_in } else { t };
            coordinate(x_of(r)[d], bands, f);
        }
        if d == 1 {
            linear(feats, cols, &[], n, q, h, a)?;
        } else {
            linear(feats, cols, constant, n, q, h, b)?;
        }
    }
    Ok(())
}

/// `buf.split_at_mut(n)`, or an error when `buf` is shorter than `n`.
fn split(buf: &mut [f32], n: usize) -> Result<(&mut [f32], &mut [f32])> {
    let provided = buf.len();
    buf.split_at_mut_checked(n).ok_or(Error::BufferTooSmall { needed: n, provided })
}
