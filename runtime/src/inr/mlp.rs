//! Batched forward pass of one tensor's residual MLP, on caller-provided scratch.

use super::layout::Role;
use super::InrConfig;
use crate::error::{Error, Result};
use crate::gemm::linear;

/// One morphed tensor's MLP over unpacked `f32` parameters (laid out as [`InrConfig::segments`]).
#[derive(Debug, Clone, Copy)]
pub struct Mlp<'p> {
    cfg: InrConfig,
    out_size: usize,
    params: &'p [f32],
}

impl<'p> Mlp<'p> {
    /// Wraps `params`; errors unless it holds exactly [`InrConfig::param_count`]`(out_size)` values.
    pub fn new(cfg: InrConfig, out_size: usize, params: &'p [f32]) -> Result<Self> {
        let expected = cfg.param_count(out_size);
        if params.len() != expected {
            return Err(Error::ShapeMismatch { expected, found: params.len() });
        }
        Ok(Mlp { cfg, out_size, params })
    }

    /// The INR configuration.
    pub fn config(&self) -> &InrConfig {
        &self.cfg
    }

    /// Values each row returns.
    pub fn out_size(&self) -> usize {
        self.out_size
    }

    /// Scratch elements [`Mlp::forward`] needs for `rows` rows: `2 · rows · hidden`.
    pub fn scratch_len(cfg: &InrConfig, rows: usize) -> usize {
        2 * rows * cfg.hidden as usize
    }

    /// The parameters playing `role` (empty for a residual layer the MLP does not have, which
    /// the GEMM then rejects as a shape mismatch).
    fn seg(&self, role: Role) -> &'p [f32] {
        self.cfg.segment(role, self.out_size).map_or(&[], |s| &self.params[s.range()])
    }

    /// Scratch elements [`Mlp::forward_hidden`] needs for `rows` rows: `rows · hidden`.
    pub fn hidden_scratch_len(cfg: &InrConfig, rows: usize) -> usize {
        rows * cfg.hidden as usize
    }

    /// Runs `rows` rows of features (`rows × (6 + 12F)`) and writes `rows × out_size` raw outputs
    /// (before the fan-in division) to `out`. `scratch` needs [`Mlp::scratch_len`] elements.
    pub fn forward(&self, feats: &[f32], rows: usize, out: &mut [f32], scratch: &mut [f32]) -> Result<()> {
        let (h, p) = (self.cfg.hidden as usize, self.cfg.features());
        let need = Self::scratch_len(&self.cfg, rows);
        if scratch.len() < need {
            return Err(Error::BufferTooSmall { needed: need, provided: scratch.len() });
        }
        let (hid, rest) = scratch.split_at_mut(rows * h);
        linear(feats, self.seg(Role::InputWeight), self.seg(Role::InputBias), rows, p, h, hid)?;
        relu(hid);
        self.forward_hidden(hid, rows, out, rest)
    }

    /// The MLP after its input layer: `hid` holds the first hidden layer `relu(W_in · pe + b_in)`
    /// of `rows` rows (`rows × hidden`; overwritten), and `rows × out_size` raw outputs are written
    /// to `out`. `scratch` needs [`Mlp::hidden_scratch_len`] elements.
    pub fn forward_hidden(&self, hid: &mut [f32], rows: usize, out: &mut [f32], scratch: &mut [f32]) -> Result<()> {
        let h = self.cfg.hidden as usize;
        let need = Self::hidden_scratch_len(&self.cfg, rows);
        if scratch.len() < need {
            return Err(Error::BufferTooSmall { needed: need, provided: scratch.len() });
        }
        if hid.len() != rows * h {
            return Err(Error::ShapeMismatch { expected: rows * h, found: hid.len() });
        }
        let tmp = &mut scratch[..need];
        for k in 0..self.cfg.depth {
            linear(hid, self.seg(Role::HiddenWeight(k)), self.seg(Role::HiddenBias(k)), rows, h, h, tmp)?;
            let s = self.seg(Role::BranchScale(k))[0];
            for (a, &t) in hid.iter_mut().zip(tmp.iter()) {
                *a += s * t.max(0.0);
            }
        }
        let (w, b) = (self.seg(Role::OutputWeight), self.seg(Role::OutputBias));
        linear(hid, w, b, rows, h, self.out_size, out)
    }

    /// The input layer's weight `W_in` (`hidden × (6 + 12F)`, row-major) and bias `b_in`.
    pub fn input_layer(&self) -> (&'p [f32], &'p [f32]) {
        (self.seg(Role::InputWeight), self.seg(Role::InputBias))
    }
}

fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}
