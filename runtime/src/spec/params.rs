//! Enumerating a family member's parameter tensors, in the canonical order every part of
//! Metamorph uses (materialiser, executor, ONNX writer, trainer): per layer, weight then bias.

use super::{ArchSpec, Layer, Shape, Walk};

/// What a parameter tensor is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A Dense (`[out, in]`) or Conv2d (`[out, in, k, k]`) weight.
    Weight,
    /// A bias `[out]`.
    Bias,
    /// The scalar branch scale `α` of an [`Layer::AddScaled`].
    Scale,
}

/// How the INR is queried for a morphed tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// One query per `(i, j)` pair, returning the `k × k` kernel (biases: `j = 0`, `C_in = 1`).
    Pair,
    /// One query per output row `i` (with `j = 0`), returning all `C_in · k · k` values of the row.
    /// Used for weights whose input size never changes (e.g. the first layer of an MLP).
    Row,
}

/// A morphed tensor's place in the coordinate system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Morph {
    /// Index `l` among the family's morphed tensors.
    pub index: usize,
    /// Output channels `C_out` at this width.
    pub c_out: usize,
    /// Input channels `C_in` at this width (1 for a bias).
    pub c_in: usize,
    /// Kernel side (1 for Dense and biases).
    pub k: usize,
    /// How the INR is queried.
    pub query: Query,
}

impl Morph {
    /// Number of INR queries (rows) for this tensor.
    pub fn rows(&self) -> usize {
        match self.query {
            Query::Pair => self.c_out * self.c_in,
            Query::Row => self.c_out,
        }
    }
    /// Values each query returns.
    pub fn values_per_row(&self) -> usize {
        match self.query {
            Query::Pair => self.k * self.k,
            Query::Row => self.c_in * self.k * self.k,
        }
    }
}

/// One parameter tensor of a family member at a given width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// Index of the owning layer in the spec.
    pub layer: usize,
    /// Weight, bias or scale.
    pub kind: ParamKind,
    /// `[out, in, k, k]` for weights (Dense: `k = 1`), `[out, 1, 1, 1]` for biases, `[1, 1, 1, 1]` for scales.
    pub shape: [usize; 4],
    /// Offset (in `f32`s) of this tensor in the concatenation of all tensors in canonical order.
    pub offset: usize,
    /// `Some` if the INR generates this tensor, `None` if it is frozen (stored as is).
    pub morph: Option<Morph>,
    /// Index among frozen tensors (only meaningful when `morph` is `None`).
    pub frozen_index: usize,
}

impl ParamInfo {
    /// Number of `f32` values (saturating; [`ArchSpec::validate`] rejects specs where it would overflow).
    pub fn len(&self) -> usize {
        self.shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
    }
    /// Whether the tensor is empty (never, for valid specs).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Dotted name, e.g. `layer3.weight`, used in safetensors and ONNX initialisers.
    pub fn name(&self) -> ParamName {
        ParamName { layer: self.layer, kind: self.kind }
    }
}

/// Display helper for [`ParamInfo::name`] (formats without allocating).
#[derive(Debug, Clone, Copy)]
pub struct ParamName {
    layer: usize,
    kind: ParamKind,
}

impl core::fmt::Display for ParamName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.kind {
            ParamKind::Weight => "weight",
            ParamKind::Bias => "bias",
            ParamKind::Scale => "scale",
        };
        write!(f, "layer{}.{}", self.layer, kind)
    }
}

/// Iterator over a member's parameters; see [`ArchSpec::params`].
pub struct Params<'s> {
    walk: Walk<'s>,
    probe: Walk<'s>,
    layer: usize,
    pending: Option<ParamInfo>,
    offset: usize,
    morphed: usize,
    frozen: usize,
}

impl ArchSpec {
    /// Parameter tensors at base width `h`, in canonical order (per layer: weight, then bias).
    /// Morphability is structural: a dimension is morphed if it changes with `h`.
    pub fn params(&self, h: usize) -> Params<'_> {
        Params {
            walk: self.walk(h),
            probe: self.walk(h + 1),
            layer: 0,
            pending: None,
            offset: 0,
            morphed: 0,
            frozen: 0,
        }
    }

    /// Number of morphed tensors `L` (the same at every width).
    pub fn morphed_count(&self) -> usize {
        self.params(self.h_min as usize).filter(|p| p.morph.is_some()).count()
    }

    /// Number of frozen tensors (the same at every width).
    pub fn frozen_count(&self) -> usize {
        self.params(self.h_min as usize).filter(|p| p.morph.is_none()).count()
    }
}

impl Params<'_> {
    fn make(&mut self, layer: usize, kind: ParamKind, shape: [usize; 4], out_m: bool, in_m: bool) -> ParamInfo {
        let morphed = match kind {
            ParamKind::Weight => out_m || in_m,
            ParamKind::Bias => out_m,
            ParamKind::Scale => false,
        };
        let morph = morphed.then(|| {
            let query = if kind == ParamKind::Weight && !in_m { Query::Row } else { Query::Pair };
            let c_in = if kind == ParamKind::Weight { shape[1] } else { 1 };
            let m = Morph { index: self.morphed, c_out: shape[0], c_in, k: shape[2], query };
            self.morphed += 1;
            m
        });
        let info = ParamInfo { layer, kind, shape, offset: self.offset, morph, frozen_index: self.frozen };
        if morph.is_none() {
            self.frozen += 1;
        }
        self.offset = self.offset.saturating_add(info.len());
        info
    }
}

impl Iterator for Params<'_> {
    type Item = ParamInfo;
    fn next(&mut self) -> Option<ParamInfo> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        loop {
            let (layer, input, output) = self.walk.next()?;
            let (_, probe_in, probe_out) = self.probe.next()?;
            let index = self.layer;
            self.layer += 1;
            let out_m = probe_out.len() != output.len();
            let in_m = probe_in.len() != input.len();
            let (c_out, c_in, k) = match (layer, input, output) {
                (Layer::Dense { .. }, Shape::Flat(i), Shape::Flat(o)) => (o, i, 1),
                (Layer::Conv2d { kernel, .. }, Shape::Image(i, ..), Shape::Image(o, ..)) => {
                    let (pi, po) = match (probe_in, probe_out) {
                        (Shape::Image(pi, ..), Shape::Image(po, ..)) => (pi, po),
                        _ => return None,
                    };
                    let (in_m, out_m) = (pi != i, po != o);
                    let w = self.make(index, ParamKind::Weight, [o, i, kernel as usize, kernel as usize], out_m, in_m);
                    self.pending = Some(self.make(index, ParamKind::Bias, [o, 1, 1, 1], out_m, in_m));
                    return Some(w);
                }
                (Layer::AddScaled, ..) => {
                    return Some(self.make(index, ParamKind::Scale, [1, 1, 1, 1], false, false));
                }
                _ => continue,
            };
            let w = self.make(index, ParamKind::Weight, [c_out, c_in, k, k], out_m, in_m);
            self.pending = Some(self.make(index, ParamKind::Bias, [c_out, 1, 1, 1], out_m, in_m));
            return Some(w);
        }
    }
}
