//! The INR's parameter layout, named once: which segments one tensor's MLP has, in which order,
//! and with which shapes. The runtime's evaluator ([`super::mlp`]), the file's int8 scales
//! ([`crate::format::blob`]), the trainer's parameters and the size and GEMM accounting are all
//! derived from [`InrConfig::segments`].
//!
//! ```
//! use metamorph::inr::{InrConfig, layout::Role};
//! let cfg = InrConfig { bands: 1, hidden: 4, depth: 1, norm: 8.0 };
//! let roles: Vec<Role> = cfg.segments(3).map(|s| s.role).collect();
//! assert_eq!(roles, [
//!     Role::InputWeight, Role::InputBias,
//!     Role::HiddenWeight(0), Role::HiddenBias(0), Role::BranchScale(0),
//!     Role::OutputWeight, Role::OutputBias,
//! ]);
//! let out = cfg.segment(Role::OutputWeight, 3).unwrap();
//! assert_eq!((out.outputs, out.inputs, out.len()), (3, 4, 12));
//! // One GEMM per weight segment: rows × inputs → rows × outputs.
//! let gemms: Vec<_> = cfg.gemms(3, 5).collect();
//! assert_eq!(gemms, [(5, 18, 4), (5, 4, 4), (5, 4, 3)]);
//! ```

use super::InrConfig;

/// What a segment of one MLP's parameters is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `W_in`, `[hidden, features]`.
    InputWeight,
    /// `b_in`, `[hidden]`.
    InputBias,
    /// `W_k` of residual layer `k`, `[hidden, hidden]`.
    HiddenWeight(u8),
    /// `b_k` of residual layer `k`, `[hidden]`.
    HiddenBias(u8),
    /// The branch scale `s_k` of residual layer `k`, one value.
    BranchScale(u8),
    /// `W_out`, `[out_size, hidden]`.
    OutputWeight,
    /// `b_out`, `[out_size]`.
    OutputBias,
}

impl Role {
    /// Whether the segment is a weight matrix (stored row-major `[outputs, inputs]`).
    pub fn is_weight(self) -> bool {
        matches!(self, Role::InputWeight | Role::HiddenWeight(_) | Role::OutputWeight)
    }
}

/// One parameter segment of an MLP, in storage order; each has its own int8 scale in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// What the segment is.
    pub role: Role,
    /// Offset in the MLP's flat parameters.
    pub offset: usize,
    /// Outputs of the layer the segment belongs to (rows of `W`, length of `b`).
    pub outputs: usize,
    /// Inputs of that layer (columns of `W`; a bias's fan-in).
    pub inputs: usize,
}

impl Segment {
    /// Number of values: `outputs · inputs` for a weight, `outputs` for a bias, 1 for a scale.
    pub fn len(&self) -> usize {
        match self.role {
            Role::BranchScale(_) => 1,
            r if r.is_weight() => self.outputs * self.inputs,
            _ => self.outputs,
        }
    }

    /// Whether the segment holds no values (only for a zero-sized layer).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values' range in the MLP's flat parameters.
    pub fn range(&self) -> core::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// The segments of one MLP in storage order: `W_in, b_in, (W_k, b_k, s_k) × depth, W_out, b_out`.
#[derive(Debug, Clone)]
pub struct Segments {
    cfg: InrConfig,
    out_size: usize,
    next: usize,
    offset: usize,
}

impl Iterator for Segments {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        let (h, p, depth) = (self.cfg.hidden as usize, self.cfg.features(), self.cfg.depth as usize);
        let s = self.next;
        let (role, outputs, inputs) = match s {
            0 => (Role::InputWeight, h, p),
            1 => (Role::InputBias, h, p),
            s if s < 2 + 3 * depth => {
                let k = ((s - 2) / 3) as u8;
                match (s - 2) % 3 {
                    0 => (Role::HiddenWeight(k), h, h),
                    1 => (Role::HiddenBias(k), h, h),
                    _ => (Role::BranchScale(k), 1, 1),
                }
            }
            s if s == 2 + 3 * depth => (Role::OutputWeight, self.out_size, h),
            s if s == 3 + 3 * depth => (Role::OutputBias, self.out_size, h),
            _ => return None,
        };
        let seg = Segment { role, offset: self.offset, outputs, inputs };
        self.next += 1;
        self.offset += seg.len();
        Some(seg)
    }
}

impl InrConfig {
    /// The segments of the MLP of a tensor whose rows return `out_size` values, in storage order.
    pub fn segments(&self, out_size: usize) -> Segments {
        Segments { cfg: *self, out_size, next: 0, offset: 0 }
    }

    /// Number of segments of one MLP: `4 + 3 · depth`.
    pub fn segment_count(&self) -> usize {
        4 + 3 * self.depth as usize
    }

    /// The segment playing `role`; `None` for a residual layer `k ≥ depth`.
    pub fn segment(&self, role: Role, out_size: usize) -> Option<Segment> {
        self.segments(out_size).find(|s| s.role == role)
    }

    /// Parameters of one MLP whose rows return `out_size` values.
    pub fn param_count(&self, out_size: usize) -> usize {
        self.segments(out_size).map(|s| s.len()).sum()
    }

    /// The GEMMs one forward pass over `rows` rows runs, `(rows, inputs, outputs)`: one per weight
    /// segment, in order. The benches' FLOP counts and shape-equivalent GEMMs come from here.
    pub fn gemms(&self, out_size: usize, rows: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        self.segments(out_size).filter(|s| s.role.is_weight()).map(move |s| (rows, s.inputs, s.outputs))
    }

    /// Multiply-accumulates one forward pass spends per generated value: the GEMMs of one row,
    /// divided by the `out_size` values it returns.
    pub fn macs_per_value(&self, out_size: usize) -> f64 {
        self.gemms(out_size, 1).map(|(_, i, o)| (i * o) as f64).sum::<f64>() / out_size.max(1) as f64
    }
}
