//! BatchNorm over the channel axis of `[N, C, H, W]` activations, used only in base training.
//!
//! Training normalises with the batch statistics and updates running statistics (momentum 0.1,
//! unbiased running variance, as PyTorch); evaluation uses the running statistics. Before
//! anything else sees the network, [`crate::fold`] folds it into the preceding convolution.

use candle_core::{DType, Device, Result, Tensor, Var};

/// One BatchNorm layer: learned `gamma`, `beta` and running `mean`, `var`, each `[C]`.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// Scale `γ` (trainable).
    pub gamma: Var,
    /// Shift `β` (trainable).
    pub beta: Var,
    /// Running mean (not trained; updated by [`BatchNorm::forward_train`]).
    pub mean: Tensor,
    /// Running variance.
    pub var: Tensor,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Weight of the new batch in the running statistics.
    pub momentum: f64,
}

impl BatchNorm {
    /// `γ = 1, β = 0`, running mean 0 and variance 1, for `channels` channels.
    pub fn new(channels: usize, device: &Device) -> Result<Self> {
        Ok(BatchNorm {
            gamma: Var::ones(channels, DType::F32, device)?,
            beta: Var::zeros(channels, DType::F32, device)?,
            mean: Tensor::zeros(channels, DType::F32, device)?,
            var: Tensor::ones(channels, DType::F32, device)?,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    /// Normalises `x` `[N, C, H, W]` with its own batch statistics (biased variance) and
    /// updates the running ones.
    pub fn forward_train(&mut self, x: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let count = (n * h * w) as f64;
        // Sums over the contiguous last axis first (fast on CPU), then over the batch;
        // var = E[x²] − mean², which needs no transposed copy of x.
        let per_channel = |t: &Tensor| -> Result<Tensor> { t.reshape((n, c, h * w))?.sum(2)?.sum(0)? / count };
        let mean = per_channel(x)?;
        let var = (per_channel(&x.sqr()?)? - mean.sqr()?)?.relu()?;
        let unbiased = (&var * (count / (count - 1.0).max(1.0)))?;
        let m = self.momentum;
        self.mean = ((&self.mean * (1.0 - m))? + (mean.detach() * m)?)?;
        self.var = ((&self.var * (1.0 - m))? + (unbiased.detach() * m)?)?;
        let scale = ((var + self.eps)?.sqrt()?.recip()? * self.gamma.as_tensor())?;
        let shift = (self.beta.as_tensor() - (&mean * &scale)?)?;
        crate::cpu::channel::affine(x, &scale, &shift)
    }

    /// Normalises `x` `[N, C, H, W]` with the running statistics.
    pub fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        let (scale, shift) = self.affine()?;
        crate::cpu::channel::affine(x, &scale, &shift)
    }

    /// The per-channel affine map of evaluation mode, `y = scale · x + shift`, with
    /// `scale = γ / √(var + ε)` and `shift = β − mean · scale`.
    pub fn affine(&self) -> Result<(Tensor, Tensor)> {
        let scale = ((&self.var + self.eps)?.sqrt()?.recip()? * self.gamma.as_tensor())?;
        let shift = (self.beta.as_tensor() - (&self.mean * &scale)?)?;
        Ok((scale, shift))
    }
}
