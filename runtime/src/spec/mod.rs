//! Architecture specs: a network family as a list of layers whose channel counts scale with one width.
//!
//! A family has a maximum base width `h_max`. A width `w` in `(0, 1]` picks the base width
//! `h = round(w · h_max)` (at least 1), and every morphable dimension is `mult · h`. Because all
//! morphable dimensions derive from the same `h`, channels tied by a residual add always agree.
//!
//! ```
//! use metamorph::spec::{ArchSpec, Dim, Layer};
//! // 784-h-h-10 MLP, h up to 256.
//! let mlp = ArchSpec::new("mlp", [1, 28, 28], 256, 8, &[
//!     Layer::Flatten,
//!     Layer::Dense { out: Dim::Width(1) }, Layer::Relu,
//!     Layer::Dense { out: Dim::Width(1) }, Layer::Relu,
//!     Layer::Dense { out: Dim::Fixed(10) },
//! ]).unwrap();
//! let costs = mlp.costs(mlp.base_width(1.0)).unwrap();
//! assert_eq!(costs.params, 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
//! ```

mod cost;
pub mod families;
mod params;

pub use cost::{conv_workspace, Costs};
pub use params::{Morph, ParamInfo, ParamKind, ParamName, Params, Query};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most layers a spec may hold (fixed so specs decode without allocation).
pub const MAX_LAYERS: usize = 32;
/// Deepest nesting of residual `Save`/`AddScaled` pairs.
pub const MAX_SAVED: usize = 4;

/// A channel or feature count: fixed, or a multiple of the family's base width `h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dim {
    /// Always this many, whatever the width (input channels, class outputs).
    Fixed(u16),
    /// `mult · h` channels at base width `h`.
    Width(u16),
}

impl Dim {
    /// The concrete size at base width `h`.
    pub fn at(self, h: usize) -> usize {
        match self {
            Dim::Fixed(n) => n as usize,
            Dim::Width(m) => m as usize * h,
        }
    }
    /// Whether the size depends on the width.
    pub fn is_morphable(self) -> bool {
        matches!(self, Dim::Width(_))
    }
}

/// One layer of a family. Tensors flow as `[C, H, W]` (images) or `[F]` (after `Flatten`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layer {
    /// Fully connected `y = W x + b` on a flat input; `W` is `[out, in]`.
    Dense {
        /// Output features.
        out: Dim,
    },
    /// 2-D convolution with a square `kernel`, `W` is `[out, in, k, k]`, plus a bias.
    Conv2d {
        /// Output channels.
        out: Dim,
        /// Kernel side.
        kernel: u8,
        /// Stride in both axes.
        stride: u8,
        /// Zero padding on each side.
        pad: u8,
    },
    /// `max(x, 0)`.
    Relu,
    /// Max pooling over `kernel × kernel` windows (no padding).
    MaxPool {
        /// Window side.
        kernel: u8,
        /// Stride.
        stride: u8,
    },
    /// Average pooling over `kernel × kernel` windows (no padding).
    AvgPool {
        /// Window side.
        kernel: u8,
        /// Stride.
        stride: u8,
    },
    /// Mean over the spatial axes: `[C, H, W] → [C, 1, 1]`.
    GlobalAvgPool,
    /// `[C, H, W] → [C·H·W]`.
    Flatten,
    /// Remember the current activation for a later [`Layer::AddScaled`].
    Save,
    /// `x = saved + α · x` with a learned scalar `α` (skip-init); shapes must match.
    AddScaled,
}

/// The shape of an activation between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[C, H, W]`.
    Image(usize, usize, usize),
    /// `[F]`.
    Flat(usize),
}

impl Shape {
    /// Number of elements, saturating at `usize::MAX` (so a hostile spec's sizes turn into
    /// [`Error::Overflow`] in [`ArchSpec::costs`] instead of a panic).
    pub fn len(self) -> usize {
        match self {
            Shape::Image(c, h, w) => c.saturating_mul(h).saturating_mul(w),
            Shape::Flat(f) => f,
        }
    }
    /// Whether the shape holds no elements.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A network family: input shape, base-width range and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchSpec {
    /// Family name, e.g. `mnist-mlp`.
    pub name: heapless::String<32>,
    /// Input `[C, H, W]`.
    pub input: [u16; 3],
    /// Largest base width (width 1.0).
    pub h_max: u16,
    /// Smallest base width the family allows.
    pub h_min: u16,
    /// The layers in order.
    pub layers: heapless::Vec<Layer, MAX_LAYERS>,
}

impl ArchSpec {
    /// Builds and validates a spec. Errors if it has too many layers, a name over 32 bytes, or
    /// shapes that do not chain (see [`ArchSpec::validate`]).
    pub fn new(name: &str, input: [u16; 3], h_max: u16, h_min: u16, layers: &[Layer]) -> Result<Self> {
        let mut spec = ArchSpec { name: heapless::String::new(), input, h_max, h_min, layers: heapless::Vec::new() };
        spec.name.push_str(name).map_err(|_| Error::BadSpec("name longer than 32 bytes"))?;
        for l in layers {
            spec.layers.push(*l).map_err(|_| Error::BadSpec("too many layers"))?;
        }
        spec.validate()?;
        Ok(spec)
    }

    /// Checks that the width range is sane, that shapes chain at the smallest and largest width, and
    /// that every size fits `usize` (else [`Error::Overflow`]).
    pub fn validate(&self) -> Result<()> {
        if self.h_min == 0 || self.h_min > self.h_max {
            return Err(Error::BadSpec("need 1 <= h_min <= h_max"));
        }
        if self.input.contains(&0) {
            return Err(Error::BadSpec("zero-sized input"));
        }
        self.output_shape(self.h_min as usize)?;
        let out = self.output_shape(self.h_max as usize)?;
        if !matches!(out, Shape::Flat(_)) {
            return Err(Error::BadSpec("network must end in a flat [classes] output"));
        }
        // Sizes grow with `h`, so checked costs at `h_max` bound every count at every width.
        self.costs(self.h_max as usize)?;
        Ok(())
    }

    /// Base width for a width fraction in `(0, 1]`: `round(w · h_max)`, clamped to `[h_min, h_max]`.
    pub fn base_width(&self, w: f32) -> usize {
        let h = libm::roundf(w * self.h_max as f32) as i64;
        h.clamp(self.h_min as i64, self.h_max as i64) as usize
    }

    /// The width fraction of base width `h`.
    pub fn width_of(&self, h: usize) -> f32 {
        h as f32 / self.h_max as f32
    }

    /// Checks that `h` lies in the family's range.
    pub fn check_h(&self, h: usize) -> Result<()> {
        if h < self.h_min as usize || h > self.h_max as usize {
            return Err(Error::BadWidth);
        }
        Ok(())
    }

    /// The input shape.
    pub fn input_shape(&self) -> Shape {
        let [c, h, w] = self.input;
        Shape::Image(c as usize, h as usize, w as usize)
    }

    /// Number of output classes.
    pub fn classes(&self) -> Result<usize> {
        Ok(self.output_shape(self.h_max as usize)?.len())
    }

    /// Output shape of the whole network at base width `h`.
    pub fn output_shape(&self, h: usize) -> Result<Shape> {
        let mut shape = self.input_shape();
        let mut saved: heapless::Vec<Shape, MAX_SAVED> = heapless::Vec::new();
        for layer in &self.layers {
            shape = step(*layer, shape, h, &mut saved)?;
        }
        if !saved.is_empty() {
            return Err(Error::BadSpec("Save without a matching AddScaled"));
        }
        Ok(shape)
    }

    /// Iterates over `(layer, input shape, output shape)` at base width `h`. Call
    /// [`ArchSpec::output_shape`] first to validate; shape errors end the iteration early.
    pub fn walk(&self, h: usize) -> Walk<'_> {
        Walk { spec: self, h, index: 0, shape: self.input_shape(), saved: heapless::Vec::new() }
    }
}

/// Iterator returned by [`ArchSpec::walk`].
pub struct Walk<'s> {
    spec: &'s ArchSpec,
    h: usize,
    index: usize,
    shape: Shape,
    saved: heapless::Vec<Shape, MAX_SAVED>,
}

impl Iterator for Walk<'_> {
    type Item = (Layer, Shape, Shape);
    fn next(&mut self) -> Option<Self::Item> {
        let layer = *self.spec.layers.get(self.index)?;
        let input = self.shape;
        let output = step(layer, input, self.h, &mut self.saved).ok()?;
        self.index += 1;
        self.shape = output;
        Some((layer, input, output))
    }
}

fn out_side(side: usize, k: usize, stride: usize, pad: usize) -> Result<usize> {
    let padded = side.checked_add(2 * pad).ok_or(Error::Overflow)?;
    if k == 0 || stride == 0 || padded < k {
        return Err(Error::BadSpec("kernel larger than padded input, or zero kernel/stride"));
    }
    Ok((padded - k) / stride + 1)
}

fn step(layer: Layer, shape: Shape, h: usize, saved: &mut heapless::Vec<Shape, MAX_SAVED>) -> Result<Shape> {
    let dim = |d: Dim| -> Result<usize> {
        match d.at(h) {
            0 => Err(Error::BadSpec("zero-sized layer")),
            n => Ok(n),
        }
    };
    Ok(match (layer, shape) {
        (Layer::Dense { out }, Shape::Flat(_)) => Shape::Flat(dim(out)?),
        (Layer::Dense { .. }, Shape::Image(..)) => return Err(Error::BadSpec("Dense needs a Flatten first")),
        (Layer::Conv2d { out, kernel, stride, pad }, Shape::Image(_, hh, ww)) => {
            let (k, s, p) = (kernel as usize, stride as usize, pad as usize);
            Shape::Image(dim(out)?, out_side(hh, k, s, p)?, out_side(ww, k, s, p)?)
        }
        (Layer::MaxPool { kernel, stride } | Layer::AvgPool { kernel, stride }, Shape::Image(c, hh, ww)) => {
            let (k, s) = (kernel as usize, stride as usize);
            Shape::Image(c, out_side(hh, k, s, 0)?, out_side(ww, k, s, 0)?)
        }
        (Layer::GlobalAvgPool, Shape::Image(c, ..)) => Shape::Image(c, 1, 1),
        (Layer::Flatten, s) => Shape::Flat(s.len()),
        (Layer::Relu, s) => s,
        (Layer::Save, s) => {
            saved.push(s).map_err(|_| Error::BadSpec("residual nesting deeper than MAX_SAVED"))?;
            s
        }
        (Layer::AddScaled, s) => match saved.pop() {
            Some(t) if t == s => s,
            Some(_) => return Err(Error::BadSpec("residual add joins tensors of different shapes")),
            None => return Err(Error::BadSpec("AddScaled without a Save")),
        },
        (_, Shape::Flat(_)) => return Err(Error::BadSpec("spatial layer applied to a flat tensor")),
    })
}
