//! Stored parameter blobs: f32, f16, or int8 with one scale per segment (an INR MLP's layout
//! segment, or a whole slimmable tensor).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Storage type of a parameter blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    /// IEEE binary32, little-endian.
    F32,
    /// IEEE binary16, little-endian.
    F16,
    /// Symmetric int8: `value = q · scale`, one f32 scale per segment.
    I8,
}

impl DType {
    /// Bytes per stored value.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
            DType::I8 => 1,
        }
    }
}

/// A parameter blob borrowed from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob<'a> {
    /// How values are stored.
    pub dtype: DType,
    /// For [`DType::I8`]: one f32 (LE) per segment; empty otherwise.
    pub scales: &'a [u8],
    /// The values.
    pub data: &'a [u8],
}

impl Blob<'_> {
    /// Checks the lengths: `count` values, and for [`DType::I8`] `segments` scales.
    pub fn check(&self, count: usize, segments: usize) -> Result<()> {
        if Some(self.data.len()) != count.checked_mul(self.dtype.size()) {
            return Err(Error::Invalid("blob length does not match its tensor"));
        }
        let scales = if self.dtype == DType::I8 { segments * 4 } else { 0 };
        if self.scales.len() != scales {
            return Err(Error::Invalid("blob scale count does not match its dtype"));
        }
        Ok(())
    }

    /// Bytes as stored: values and scales.
    pub fn stored_bytes(&self) -> usize {
        self.data.len() + self.scales.len()
    }

    /// Decodes every value into `out` (as long as the blob), `segments` giving the ranges that
    /// share an int8 scale, in order. Errors on a wrong length or a non-finite value, so a NaN can
    /// never reach a materialised network.
    pub fn unpack(&self, segments: impl Iterator<Item = core::ops::Range<usize>>, out: &mut [f32]) -> Result<()> {
        let count = self.data.len() / self.dtype.size();
        if out.len() != count {
            return Err(Error::BufferTooSmall { needed: count, provided: out.len() });
        }
        match self.dtype {
            DType::F32 | DType::F16 => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.float(i);
                }
            }
            DType::I8 => {
                for (range, scale) in segments.zip(self.scales.chunks_exact(4)) {
                    let scale = f32::from_le_bytes([scale[0], scale[1], scale[2], scale[3]]);
                    let (src, dst) = (self.data.get(range.clone()), out.get_mut(range));
                    let (Some(src), Some(dst)) = (src, dst) else {
                        return Err(Error::Invalid("blob segment outside its data"));
                    };
                    dequantise_i8(src, scale, dst);
                }
            }
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite);
        }
        Ok(())
    }

    /// Value `i` of a blob whose int8 values share one scale (a slimmable tensor); `None` past the
    /// end. Not checked for finiteness.
    pub fn get(&self, i: usize) -> Option<f32> {
        if i >= self.data.len() / self.dtype.size() {
            return None;
        }
        Some(match self.dtype {
            DType::I8 => {
                let s = self.scales.get(..4)?;
                self.data[i] as i8 as f32 * f32::from_le_bytes([s[0], s[1], s[2], s[3]])
            }
            _ => self.float(i),
        })
    }

    /// Value `i` of an f32 or f16 blob (in range).
    fn float(&self, i: usize) -> f32 {
        match self.dtype {
            DType::F32 => {
                let b = &self.data[4 * i..4 * i + 4];
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            }
            _ => half::f16::from_le_bytes([self.data[2 * i], self.data[2 * i + 1]]).to_f32(),
        }
    }
}

/// Reads little-endian f32s from `bytes` into `out` (lengths must match: `bytes.len() == 4 · out.len()`).
pub fn read_f32s(bytes: &[u8], out: &mut [f32]) -> Result<()> {
    if bytes.len() != out.len() * 4 {
        return Err(Error::ShapeMismatch { expected: out.len() * 4, found: bytes.len() });
    }
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if !o.is_finite() {
            return Err(Error::NonFinite);
        }
    }
    Ok(())
}

/// The one int8 quantiser: symmetric, one scale per slice (`max |x| / 127`, or 1 for an all-zero
/// slice). Writes `round(x / scale)` as two's-complement bytes into `out` (same length as
/// `values`) and returns the scale. Used for INR segments here and for any network's tensors by
/// the tools that compare against int8 baselines.
pub fn quantise_i8(values: &[f32], out: &mut [u8]) -> f32 {
    let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    for (d, v) in out.iter_mut().zip(values) {
        *d = libm::roundf(v / scale).clamp(-127.0, 127.0) as i8 as u8;
    }
    scale
}

/// Inverse of [`quantise_i8`]: `out[i] = (bytes[i] as i8) · scale`.
pub fn dequantise_i8(bytes: &[u8], scale: f32, out: &mut [f32]) {
    for (o, &q) in out.iter_mut().zip(bytes) {
        *o = q as i8 as f32 * scale;
    }
}

#[cfg(feature = "alloc")]
/// Encodes f32 values as `dtype`, returning `(scales, data)` bytes. Int8 uses one symmetric scale
/// ([`quantise_i8`]) per range of `segments`, which must cover `values` in order.
pub fn encode(
    values: &[f32],
    segments: impl Iterator<Item = core::ops::Range<usize>>,
    dtype: DType,
) -> (alloc::vec::Vec<u8>, alloc::vec::Vec<u8>) {
    use alloc::vec::Vec;
    match dtype {
        DType::F32 => (Vec::new(), values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F16 => (Vec::new(), values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect()),
        DType::I8 => {
            let mut scales = Vec::new();
            let mut data = alloc::vec![0u8; values.len()];
            for range in segments {
                let scale = quantise_i8(&values[range.clone()], &mut data[range]);
                scales.extend_from_slice(&scale.to_le_bytes());
            }
            (scales, data)
        }
    }
}
