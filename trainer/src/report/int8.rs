//! Int8 copies of trained nets, made with the quantiser the hypernet export uses
//! ([`quantise_i8`]: symmetric, one `f32` scale per slice), here one scale per tensor. The
//! report measures their accuracy on exactly the values the stored bytes decode to.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use metamorph_trainer::report::int8;
//! let w = Tensor::new(&[[0.5f32, -1.0], [0.25, 0.0]], &Device::Cpu).unwrap();
//! let q = int8::quantise(&[w]).unwrap();
//! assert_eq!(q.bytes, 4 + 4); // four int8 values and one scale
//! assert_eq!(q.params[0].to_vec2::<f32>().unwrap()[0][1], -1.0);
//! ```

use anyhow::Result;
use candle_core::Tensor;
use metamorph::format::blob::{dequantise_i8, quantise_i8};

/// A net stored as int8.
#[derive(Debug, Clone)]
pub struct Int8Net {
    /// The parameters the stored bytes decode to, shaped as the originals.
    pub params: Vec<Tensor>,
    /// Stored bytes: one per parameter plus a 4-byte scale per tensor.
    pub bytes: u64,
}

/// Quantises every tensor of `params` to int8 with its own scale and decodes it back.
pub fn quantise(params: &[Tensor]) -> Result<Int8Net> {
    let out = params.iter().map(round_trip).collect::<candle_core::Result<Vec<_>>>()?;
    let bytes = params.iter().map(|t| t.elem_count() as u64 + 4).sum();
    Ok(Int8Net { params: out, bytes })
}

/// `t` stored as int8 with one scale ([`quantise_i8`]) and decoded back: the values an int8 file
/// holds. Also what quantisation-aware INR fitting trains on.
pub fn round_trip(t: &Tensor) -> candle_core::Result<Tensor> {
    let values = t.flatten_all()?.to_vec1::<f32>()?;
    let mut stored = vec![0u8; values.len()];
    let scale = quantise_i8(&values, &mut stored);
    let mut decoded = vec![0.0f32; values.len()];
    dequantise_i8(&stored, scale, &mut decoded);
    Tensor::from_vec(decoded, t.shape(), t.device())
}
