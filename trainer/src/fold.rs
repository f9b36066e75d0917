//! Folding BatchNorm into the preceding convolution, so the network has no BN left.
//!
//! With `s = γ / √(var + ε)`, `BN(conv(x; W, b)) = conv(x; s·W, s·(b − mean) + β)`:
//! each output channel's kernel and bias are scaled by its `s`.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use metamorph_trainer::{bn::BatchNorm, fold::fold_conv_bn};
//! let dev = Device::Cpu;
//! let w = Tensor::ones((2, 1, 1, 1), candle_core::DType::F32, &dev).unwrap();
//! let b = Tensor::zeros(2, candle_core::DType::F32, &dev).unwrap();
//! let (w2, b2) = fold_conv_bn(&w, &b, &BatchNorm::new(2, &dev).unwrap()).unwrap();
//! // Fresh BN (mean 0, var 1) only divides by √(1 + ε).
//! assert!((w2.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0] - 1.0).abs() < 1e-5);
//! assert_eq!(b2.to_vec1::<f32>().unwrap(), vec![0.0, 0.0]);
//! ```

use crate::bn::BatchNorm;
use candle_core::{bail, Result, Tensor};
use metamorph::spec::{ArchSpec, ParamKind};

/// Conv weight `[O, I, k, k]` and bias `[O]` with `bn` (over `O` channels) folded in.
pub fn fold_conv_bn(w: &Tensor, b: &Tensor, bn: &BatchNorm) -> Result<(Tensor, Tensor)> {
    let (scale, shift) = bn.affine()?;
    let o = w.dim(0)?;
    if scale.dim(0)? != o || b.dim(0)? != o {
        bail!("BatchNorm over {} channels after a conv with {o} outputs", scale.dim(0)?);
    }
    let w = w.broadcast_mul(&scale.reshape((o, 1, 1, 1))?)?;
    let b = ((b * &scale)? + shift)?;
    Ok((w, b))
}

/// All parameters of `arch` at width `h` (canonical order) with each `bns[layer]` folded into
/// that layer's weight and bias. `bns` is indexed by layer; `None` means no BN after it.
/// Errors if a BN follows a layer without a weight and bias.
pub fn fold_all(arch: &ArchSpec, h: usize, params: &[Tensor], bns: &[Option<BatchNorm>]) -> Result<Vec<Tensor>> {
    let infos: Vec<_> = arch.params(h).collect();
    if infos.len() != params.len() {
        bail!("expected {} parameter tensors at h = {h}, got {}", infos.len(), params.len());
    }
    let mut out = params.to_vec();
    for (layer, bn) in bns.iter().enumerate() {
        let Some(bn) = bn else { continue };
        let w = infos.iter().position(|p| p.layer == layer && p.kind == ParamKind::Weight);
        let b = infos.iter().position(|p| p.layer == layer && p.kind == ParamKind::Bias);
        let (Some(w), Some(b)) = (w, b) else { bail!("BatchNorm after layer {layer}, which has no weight and bias") };
        if params[w].rank() != 4 {
            bail!("BatchNorm after layer {layer}: only convolutions take BatchNorm");
        }
        let (fw, fb) = fold_conv_bn(&params[w], &params[b], bn)?;
        out[w] = fw;
        out[b] = fb;
    }
    Ok(out)
}
