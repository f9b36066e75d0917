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
use crate::format::{blob::read_f32s, Blob, Generator, Hypernet};
use crate::gemm::linear;
use crate::inr::coords::{self, Rows, Sample};
use crate::inr::features::{coordinate, fourier};
use crate::inr::{mlp::Mlp, InrConfig};
use crate::spec::{Morph, ParamInfo, ParamKind, Query};

/// Rows evaluated per GEMM block.
pub const ROW_BLOCK: usize = 128;

/// Most output values one block of the per-row path holds.
pub const BLOCK_VALUES: usize = 16 * 1024;

/// Materialises the member of base width `h` of a hypernet with `samples` INR queries per weight.
#[derive(Debug, Clone, Copy)]
pub struct Materialiser<'n, 'a> {
    net: &'n Hypernet<'a>,
    h: usize,
    samples: u32,
    seed: u64,
    layout: ScratchLayout,
}

impl<'n, 'a> Materialiser<'n, 'a> {
    /// Errors if `h` is outside the family's range, `samples` is 0, or `samples` is above 1 for a
    /// slimmable network (which has nothing to sample).
    pub fn new(net: &'n Hypernet<'a>, h: usize, samples: u32, seed: u64) -> Result<Self> {
        net.arch.check_h(h)?;
        if samples == 0 {
            return Err(Error::BadArgument("samples must be at least 1"));
        }
        if samples > 1 && matches!(net.generator, Generator::Slimmable { .. }) {
            return Err(Error::BadArgument("a slimmable network has one member per width: samples must be 1"));
        }
        Ok(Materialiser { net, h, samples, seed, layout: ScratchLayout::new(net) })
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
        self.layout.len()
    }

    /// The hypernet's parameter tensors at this member's width, in canonical order.
    pub fn params(&self) -> impl Iterator<Item = ParamInfo> + '_ {
        self.net.arch.params(self.h)
    }

    /// The GEMMs `(rows, inputs, outputs)` of the INR's definition for this member: every row of
    /// every morphed tensor through the whole MLP ([`InrConfig::gemms`]), in blocks of
    /// [`ROW_BLOCK`] rows. Benchmarks count FLOPs and time bare GEMMs from this; the materialiser
    /// itself runs fewer (a pair weight's first layer is separable) and wide rows in smaller blocks.
    /// A slimmable network runs none.
    pub fn gemms(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let cfg = self.net.inr().map(|(cfg, _)| *cfg);
        cfg.into_iter().flat_map(move |cfg| {
            self.params().filter_map(|p| p.morph).flat_map(move |m| {
                let (rows, o) = (m.rows(), m.values_per_row());
                (0..rows).step_by(ROW_BLOCK).flat_map(move |r0| cfg.gemms(o, ROW_BLOCK.min(rows - r0)))
            })
        })
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
                let bytes = self
                    .net
                    .frozen
                    .get(info.frozen_index)
                    .ok_or(Error::BadArgument("tensor is not one of this member's"))?;
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
        let m = info.morph.ok_or(Error::BadArgument("row ranges exist only for morphed tensors"))?;
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

    /// Generates rows `range` of morphed tensor `info` into `out` (exactly their values): the
    /// slimmable network's leading channels ([`slimmable_rows`]) or the INR ([`Materialiser::inr_rows`]).
    fn morphed(
        &self,
        info: &ParamInfo,
        m: Morph,
        range: core::ops::Range<usize>,
        out: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        match &self.net.generator {
            Generator::Inr { .. } => self.inr_rows(info, m, range, out, scratch)?,
            Generator::Slimmable { tensors } => {
                let full = self
                    .net
                    .arch
                    .params(self.net.arch.h_max as usize)
                    .find(|p| p.layer == info.layer && p.kind == info.kind)
                    .ok_or(Error::BadArgument("tensor is not one of this member's"))?;
                let blob = tensors.get(m.index).ok_or(Error::BadArgument("tensor is not one of this member's"))?;
                slimmable_rows(blob, &full.shape, &info.shape, range.start * m.values_per_row(), out)?;
            }
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite);
        }
        Ok(())
    }

    /// Evaluates the INR for rows `range` of morphed tensor `info` into `out` (exactly their
    /// values). Samples run outermost, so each value still sums its samples in order 0, 1, …, K−1.
    /// Sample 0 of a pair weight takes [`separable_rows`], everything else [`per_row`]; the path
    /// depends only on the tensor and the sample, never on the scratch size.
    fn inr_rows(
        &self,
        info: &ParamInfo,
        m: Morph,
        range: core::ops::Range<usize>,
        out: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        let (cfg, tensors) = self.net.inr().ok_or(Error::BadArgument("not an INR hypernet"))?;
        let t = tensors.get(m.index).ok_or(Error::BadArgument("tensor is not one of this member's"))?;
        let o = t.out_size as usize;
        let [params, mlp_scratch, work] = carve(scratch, self.layout.parts())?;
        let params = &mut params[..cfg.param_count(o)];
        t.unpack(cfg, params)?;
        let mlp = Mlp::new(*cfg, o, params)?;
        let rows = Rows { morph: m, total: self.net.arch.morphed_count(), is_bias: info.kind == ParamKind::Bias };
        let amplitude = coords::amplitude(self.net.meta.sigma);
        for index in 0..self.samples {
            if index == 0 && m.query == Query::Pair && !rows.is_bias {
                separable_rows(&mlp, &rows, range.start, out, mlp_scratch, work)?;
            } else {
                let sample = Sample { index, seed: self.seed, amplitude };
                per_row(&mlp, &rows, sample, range.start, out, mlp_scratch, work)?;
            }
        }
        if self.samples > 1 {
            let inv_k = 1.0 / self.samples as f32;
            out.iter_mut().for_each(|v| *v *= inv_k);
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
    ScratchLayout::new(net).len()
}

/// How a materialiser carves its scratch, computed once per hypernet: the unpacked parameters of
/// the largest MLP, the MLP's forward scratch for one block, and a work area that the per-row
/// path ([`row_parts`]) and the separable path ([`separable_parts`]) each carve their own way,
/// sized for the larger of the two at the widest member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScratchLayout {
    /// Unpacked parameters of the largest MLP.
    pub params: usize,
    /// [`Mlp::forward`]'s scratch for [`ROW_BLOCK`] rows.
    pub mlp: usize,
    /// The per-row or separable path's buffers.
    pub work: usize,
}

impl ScratchLayout {
    /// The layout for every tensor and width of `net`; empty for a slimmable network, which
    /// copies straight from the file.
    pub fn new(net: &Hypernet<'_>) -> Self {
        let Some((cfg, tensors)) = net.inr() else {
            return ScratchLayout { params: 0, mlp: 0, work: 0 };
        };
        let outs = || tensors.iter().map(|t| t.out_size as usize);
        let params = outs().map(|o| cfg.param_count(o)).max().unwrap_or(0);
        let per_row = outs().map(|o| row_parts(cfg, o).iter().sum()).max().unwrap_or(0);
        // The tables are sized for the widest member (channel counts grow with h), for the largest
        // output and input channel counts of any pair weight.
        let (mut c_out, mut c_in) = (0, 0);
        for p in net.arch.params(net.arch.h_max as usize).filter(|p| p.kind == ParamKind::Weight) {
            if let Some(m) = p.morph.filter(|m| m.query == Query::Pair) {
                (c_out, c_in) = (c_out.max(m.c_out), c_in.max(m.c_in));
            }
        }
        let separable = if c_out == 0 { 0 } else { separable_parts(cfg, c_out, c_in).iter().sum() };
        ScratchLayout { params, mlp: Mlp::scratch_len(cfg, ROW_BLOCK), work: usize::max(per_row, separable) }
    }

    /// Total `f32`s.
    pub fn len(&self) -> usize {
        self.params + self.mlp + self.work
    }

    /// Whether the layout needs no scratch at all (a hypernet without morphed tensors).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn parts(&self) -> [usize; 3] {
        [self.params, self.mlp, self.work]
    }
}

/// Writes the values of a slimmable tensor's member that start at element `first` (row-major in
/// the member's `shape`) into `out`: each is the element of the full-width tensor (`full`, stored
/// in `blob`) at the same indices, since a member keeps the leading entries of every dimension.
fn slimmable_rows(blob: &Blob<'_>, full: &[usize; 4], shape: &[usize; 4], first: usize, out: &mut [f32]) -> Result<()> {
    if shape.iter().zip(full).any(|(s, f)| s > f) {
        return Err(Error::Invalid("slimmable member wider than its full-width tensor"));
    }
    let [_, b, c, d] = *shape;
    for (e, o) in (first..).zip(out.iter_mut()) {
        let (i3, rest) = (e % d, e / d);
        let (i2, rest) = (rest % c, rest / c);
        let (i1, i0) = (rest % b, rest / b);
        let index = ((i0 * full[1] + i1) * full[2] + i2) * full[3] + i3;
        *o = blob.get(index).ok_or(Error::Invalid("slimmable tensor shorter than its shape"))?;
    }
    Ok(())
}

/// Rows per block of the per-row path for tensors whose rows return `out_size` values: up to
/// [`ROW_BLOCK`], fewer for wide rows so a block's outputs stay within [`BLOCK_VALUES`] (a whole-row
/// query of a 784-input layer would otherwise need 128 × 784 floats of scratch).
pub fn block_rows(out_size: usize) -> usize {
    (BLOCK_VALUES / out_size.max(1)).clamp(1, ROW_BLOCK)
}

/// The per-row path's work buffers: a block's feature rows and its sample accumulator.
fn row_parts(cfg: &InrConfig, out_size: usize) -> [usize; 2] {
    let rows = block_rows(out_size);
    [rows * cfg.features(), rows * out_size]
}

/// Evaluates rows `r0 ..` of `rows` under `sample` into `out` (added to it for samples after 0),
/// one block of [`block_rows`] at a time: Fourier features of each row, the MLP, the fan-in scale.
fn per_row(
    mlp: &Mlp<'_>,
    rows: &Rows,
    sample: Sample,
    r0: usize,
    out: &mut [f32],
    mlp_scratch: &mut [f32],
    work: &mut [f32],
) -> Result<()> {
    let (cfg, o) = (mlp.config(), mlp.out_size());
    let p = cfg.features();
    let [feats, acc] = carve(work, row_parts(cfg, o))?;
    let block_rows = block_rows(o);
    let c_in = rows.morph.c_in;
    let mut fan_in = [0.0f32; ROW_BLOCK];
    for (block, dst) in out.chunks_mut(block_rows * o).enumerate() {
        let (n, start) = (dst.len() / o, r0 + block * block_rows);
        for (b, fan) in fan_in.iter_mut().enumerate().take(n) {
            // Rows share most coordinates with the previous row, and a pair row shares `j` with
            // the row one `C_in` back: reuse their sines.
            let (done, rest) = feats.split_at_mut(b * p);
            let row = |e: usize| &done[e * p..(e + 1) * p];
            let mut earlier: [&[f32]; 2] = [&[], &[]];
            let mut k = 0;
            if b >= 1 {
                earlier[k] = row(b - 1);
                k += 1;
            }
            if c_in > 1 && b >= c_in {
                earlier[k] = row(b - c_in);
                k += 1;
            }
            *fan = rows.input(cfg, start + b, sample, &mut rest[..p], &earlier[..k]);
        }
        let first = sample.index == 0;
        let target = if first { &mut *dst } else { &mut acc[..n * o] };
        mlp.forward(&feats[..n * p], n, target, mlp_scratch)?;
        for (row, f) in target.chunks_exact_mut(o).zip(&fan_in) {
            row.iter_mut().for_each(|v| *v *= f);
        }
        if !first {
            dst.iter_mut().zip(acc.iter()).for_each(|(d, a)| *d += a);
        }
    }
    Ok(())
}

/// The separable path's work buffers for a pair weight of `c_out × c_in` channels: the tables `A`
/// (`C_out × hidden`) and `B` (`C_in × hidden`) of [`separable_input`], then that function's own
/// scratch (one coordinate's weight columns, the coordinate features, one feature row, and the
/// constant coordinates' contribution).
fn separable_parts(cfg: &InrConfig, c_out: usize, c_in: usize) -> [usize; 6] {
    let (h, q) = (cfg.hidden as usize, 1 + 2 * cfg.bands as usize);
    [c_out * h, c_in * h, h * q, c_out.max(c_in) * q, cfg.features(), h]
}

/// Sample 0 of rows `r0 ..` of a pair weight, written to `out`: the first layer is
/// `relu(A[i] + B[j])` from [`separable_input`]'s tables, then the rest of the MLP, then the
/// fan-in scale, one [`ROW_BLOCK`] at a time.
fn separable_rows(
    mlp: &Mlp<'_>,
    rows: &Rows,
    r0: usize,
    out: &mut [f32],
    mlp_scratch: &mut [f32],
    work: &mut [f32],
) -> Result<()> {
    let (cfg, o, m) = (mlp.config(), mlp.out_size(), &rows.morph);
    let hid_n = cfg.hidden as usize;
    let [by_i, by_j, cols, coord_feats, pe, constant] = carve(work, separable_parts(cfg, m.c_out, m.c_in))?;
    separable_input(mlp, rows, by_i, by_j, [cols, coord_feats, pe, constant])?;
    let f = coords::fan_in_scale(&coords::raw(m, rows.total, 0, false));
    for (block, dst) in out.chunks_mut(ROW_BLOCK * o).enumerate() {
        let (n, start) = (dst.len() / o, r0 + block * ROW_BLOCK);
        let (hid, tmp) = mlp_scratch.split_at_mut(n * hid_n);
        for (b, row) in hid.chunks_exact_mut(hid_n).enumerate() {
            let r = start + b;
            let (ai, bj) = (&by_i[r / m.c_in * hid_n..][..hid_n], &by_j[r % m.c_in * hid_n..][..hid_n]);
            for ((v, &x), &y) in row.iter_mut().zip(ai).zip(bj) {
                *v = (x + y).max(0.0);
            }
        }
        mlp.forward_hidden(hid, n, dst, tmp)?;
        dst.iter_mut().for_each(|v| *v *= f);
    }
    Ok(())
}

/// The first layer of sample 0 of pair weight `rows.morph`, split by coordinate: row
/// `r = i · C_in + j` has `x_1 = i / C_out`, `x_2 = j / C_in` and the other four coordinates
/// fixed, so `W_in · pe(x) + b_in = A[i] + B[j]` with `A[i] = W_in[:, cols(1)] · pe_1(x_1(i))`
/// (`a`, `C_out × hidden`) and `B[j] = b_in + W_in[:, cols(const)] · pe_const + W_in[:, cols(2)]
/// · pe_2(x_2(j))` (`b`, `C_in × hidden`), where `cols(d)` are coordinate `d`'s feature columns.
fn separable_input(
    mlp: &Mlp<'_>,
    rows: &Rows,
    a: &mut [f32],
    b: &mut [f32],
    [cols, coord_feats, pe, constant]: [&mut [f32]; 4],
) -> Result<()> {
    let (cfg, m) = (mlp.config(), &rows.morph);
    let (h, p, bands) = (cfg.hidden as usize, cfg.features(), cfg.bands as usize);
    let q = 1 + 2 * bands;
    let (w_in, b_in) = mlp.input_layer();
    let x_of = |r: usize| coords::normalise(coords::raw(m, rows.total, r, false), cfg.norm);
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

/// Splits the front of `buf` into `N` consecutive slices of the given lengths, or errors when
/// `buf` is shorter than their sum.
fn carve<const N: usize>(mut buf: &mut [f32], lens: [usize; N]) -> Result<[&mut [f32]; N]> {
    let needed = lens.iter().sum();
    if buf.len() < needed {
        return Err(Error::BufferTooSmall { needed, provided: buf.len() });
    }
    Ok(lens.map(|n| {
        let (part, rest) = core::mem::take(&mut buf).split_at_mut(n);
        buf = rest;
        part
    }))
}
