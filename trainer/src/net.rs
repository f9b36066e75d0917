//! Forward pass of a family member in candle, over parameter tensors in canonical order.
//!
//! The same function runs base training (parameters are `Var`s), INR fitting (morphed
//! parameters come out of the INR) and evaluation, so every path computes the same network.

use candle_core::{Result, Tensor, D};
use metamorph::spec::{ArchSpec, Layer, ParamInfo};

/// Shape of parameter `p` as a candle tensor: weights `[out, in]` (Dense) or `[out, in, k, k]`
/// (Conv2d), biases `[out]`, scales `[1]`.
pub fn param_shape(arch: &ArchSpec, p: &ParamInfo) -> Vec<usize> {
    use metamorph::spec::ParamKind;
    match p.kind {
        ParamKind::Weight => match arch.layers[p.layer] {
            Layer::Conv2d { .. } => p.shape.to_vec(),
            _ => vec![p.shape[0], p.shape[1]],
        },
        ParamKind::Bias => vec![p.shape[0]],
        ParamKind::Scale => vec![1],
    }
}

/// Logits `[N, classes]` of the member at base width `h` for input `x` `[N, C, H, W]`.
/// `params` holds every tensor of `arch.params(h)` in order, shaped by [`param_shape`].
pub fn forward(arch: &ArchSpec, h: usize, params: &[Tensor], x: &Tensor) -> Result<Tensor> {
    forward_with(arch, h, params, x, &mut |_, _, y| Ok(y))
}

/// [`forward`], passing every layer's output through `hook(layer index, layer, output)` before
/// the next layer sees it (base training inserts BatchNorm after convolutions this way).
pub fn forward_with(
    arch: &ArchSpec,
    h: usize,
    params: &[Tensor],
    x: &Tensor,
    hook: &mut dyn FnMut(usize, &Layer, Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let infos: Vec<ParamInfo> = arch.params(h).collect();
    if infos.len() != params.len() {
        candle_core::bail!("expected {} parameter tensors at h = {h}, got {}", infos.len(), params.len());
    }
    let mut next = 0;
    let mut saved: Vec<Tensor> = Vec::new();
    let mut x = x.clone();
    for (index, layer) in arch.layers.iter().enumerate() {
        let mut take = || -> Result<&Tensor> {
            match infos.get(next) {
                Some(p) if p.layer == index => {
                    next += 1;
                    Ok(&params[next - 1])
                }
                _ => candle_core::bail!("layer {index} has no parameter tensor"),
            }
        };
        x = match *layer {
            Layer::Dense { .. } => {
                let (w, b) = (take()?, take()?);
                crate::cpu::matmul::matmul(&x, &w.t()?)?.broadcast_add(b)?
            }
            Layer::Conv2d { stride, pad, .. } => {
                let (w, b) = (take()?, take()?);
                let y = crate::cpu::conv::conv2d(&x, w, pad as usize, stride as usize)?;
                crate::cpu::channel::add_bias(&y, b)?
            }
            Layer::Relu => crate::cpu::fused::relu(&x)?,
            Layer::MaxPool { kernel, stride } => crate::cpu::pool::max_pool2d(&x, kernel as usize, stride as usize)?,
            Layer::AvgPool { kernel, stride } => x.avg_pool2d_with_stride(kernel as usize, stride as usize)?,
            Layer::GlobalAvgPool => x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?,
            Layer::Flatten => x.flatten_from(1)?,
            Layer::Save => {
                saved.push(x.clone());
                x
            }
            Layer::AddScaled => {
                let alpha = take()?;
                let skip = saved.pop().ok_or_else(|| candle_core::Error::Msg("AddScaled without Save".into()))?;
                skip.add(&x.broadcast_mul(alpha)?)?
            }
        };
        x = hook(index, layer, x)?;
    }
    Ok(x)
}
