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
use crate::inr::{coords, features::fourier_reusing, mlp::Mlp};
use crate::spec::{ParamInfo, ParamKind};

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
            Some(m) => {
                let t = self.net.tensors.get(m.index).ok_or(Error::Invalid("missing INR tensor"))?;
                let (cfg, o) = (&self.net.inr, t.out_size as usize);
                let need = self.scratch_len();
                if scratch.len() < need {
                    return Err(Error::BufferTooSmall { needed: need, provided: scratch.len() });
                }
                let (params, rest) = scratch.split_at_mut(cfg.param_count(o));
                t.params.unpack(cfg, o, params)?;
                let mlp = Mlp::new(*cfg, o, params)?;
                let p = cfg.features();
                let (feats, rest) = rest.split_at_mut(ROW_BLOCK * p);
                let (acc, mlp_scratch) = rest.split_at_mut(ROW_BLOCK * o);
                let is_bias = info.kind == ParamKind::Bias;
                let total = self.net.arch.morphed_count();
                let amp = coords::amplitude(self.net.meta.sigma);
                let inv_k = 1.0 / self.samples as f32;
                let mut fan_in = [0.0f32; ROW_BLOCK];
                for (block, dst) in out.chunks_mut(ROW_BLOCK * o).enumerate() {
                    let rows = dst.len() / o;
                    let r0 = block * ROW_BLOCK;
                    for s in 0..self.samples {
                        for b in 0..rows {
                            let raw = coords::noisy(&m, total, r0 + b, is_bias, s, self.seed, amp);
                            fan_in[b] = 1.0 / raw[5];
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
                            fourier_reusing(&coords::normalise(raw, cfg.norm), cfg.bands as usize, &mut rest[..p], &earlier[..n]);
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
                    if self.samples > 1 {
                        dst.iter_mut().for_each(|v| *v *= inv_k);
                    }
                }
                if out.iter().any(|v| !v.is_finite()) {
                    return Err(Error::NonFinite);
                }
            }
        }
        Ok(out)
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
    let cfg = &net.inr;
    let largest_out = net.tensors.iter().map(|t| t.out_size as usize).max().unwrap_or(0);
    let params = net.tensors.iter().map(|t| cfg.param_count(t.out_size as usize)).max().unwrap_or(0);
    params + ROW_BLOCK * (cfg.features() + largest_out) + Mlp::scratch_len(cfg, ROW_BLOCK)
}
