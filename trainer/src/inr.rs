//! The INR in candle: the same math as `metamorph::inr`, with trainable parameters.
//!
//! Coordinates and Fourier features are computed by the runtime crate's own functions
//! (`metamorph::inr::{coords, features}`), so both sides see identical inputs; only the MLP runs in
//! candle. `tests/inr_agreement.rs` checks the two INRs agree through a file round trip.

use candle_core::{DType, Device, Result, Tensor, Var};
use metamorph::inr::coords::{Rows, Sample};
use metamorph::inr::layout::Role;
use metamorph::inr::InrConfig;
use metamorph::spec::{ArchSpec, Morph, ParamInfo, ParamKind};

use crate::cpu::fused::{add_scaled, linear_relu};
use crate::net::param_shape;
use crate::report::int8::round_trip;

/// Coordinate noise for one generation: `None` is the noise-free grid (runtime sample 0).
#[derive(Debug, Clone, Copy)]
pub struct Noise {
    /// Seed of the counter-based generator.
    pub seed: u64,
    /// Half-width of the uniform noise (`coords::amplitude(σ)`).
    pub amplitude: f32,
}

/// Trainable parameters of every morphed tensor's MLP, one `Var` per segment of the runtime's
/// layout ([`InrConfig::segments`]).
pub struct Inr {
    /// Shared size.
    pub cfg: InrConfig,
    /// Per morphed tensor: output size and one `Var` per segment, in layout order (`W` as
    /// `[outputs, inputs]`, `b` as `[outputs]`, a branch scale as `[1]`).
    pub mlps: Vec<(usize, Vec<Var>)>,
    /// Per morphed tensor: a fixed gain on the output layer during training. The effective
    /// `W_out, b_out` (what the file stores) are `gain ·` the trained ones, so Adam's steps act on
    /// a well-scaled read-out even when weights × fan-in are in the tens.
    pub gains: Vec<f32>,
    /// When every morphed tensor is standardised (see [`Inr::standardise`]): each tensor's
    /// features `[rows, P]` on the noise-free full-width grid, computed once. Folded into
    /// `W_out, b_out` on export, so the file and the runtime do not know about it.
    pub reference: Option<Vec<Tensor>>,
    /// Quantisation-aware: generate from the int8 round trip of every stored segment (the values
    /// an int8 file holds), with straight-through gradients, so an int8 export loses nothing.
    pub int8_aware: bool,
}

/// Features `[rows, 6 + 12F]` and fan-in scales `1 / C_in` `[rows, 1]` of a morphed tensor's
/// rows, from the runtime's own row helper ([`Rows::input`]), on two threads.
pub fn row_inputs(
    cfg: &InrConfig,
    m: &Morph,
    is_bias: bool,
    total: usize,
    noise: Option<Noise>,
) -> (Vec<f32>, Vec<f32>) {
    let (n, p) = (m.rows(), cfg.features());
    let rows = Rows { morph: *m, total, is_bias };
    let sample = noise.map_or(Sample::EXACT, |n| Sample { index: 1, seed: n.seed, amplitude: n.amplitude });
    let mut feats = vec![0.0f32; n * p];
    let mut inv = vec![0.0f32; n];
    let half = n.div_ceil(2).max(1);
    std::thread::scope(|s| {
        for (chunk, (f, i)) in feats.chunks_mut(half * p).zip(inv.chunks_mut(half)).enumerate() {
            s.spawn(move || {
                for (b, (frow, irow)) in f.chunks_exact_mut(p).zip(i.iter_mut()).enumerate() {
                    *irow = rows.input(cfg, chunk * half + b, sample, frow, &[]);
                }
            });
        }
    });
    (feats, inv)
}

impl Inr {
    /// Fresh parameters: uniform `±1/√fan_in` for `W` and `b` (PyTorch `Linear` default),
    /// residual scales 0.1. Deterministic in `seed`.
    pub fn init(arch: &ArchSpec, cfg: InrConfig, seed: u64, device: &Device) -> Result<Self> {
        let mut rng = metamorph::rng::Rng::new(seed);
        let mut mlps = Vec::new();
        for p in arch.params(arch.h_max as usize) {
            let Some(m) = p.morph else { continue };
            let o = m.values_per_row();
            let mut vars = Vec::new();
            for seg in cfg.segments(o) {
                let t = match seg.role {
                    Role::BranchScale(_) => Tensor::new(&[0.1f32], device)?,
                    role => {
                        let bound = 1.0 / (seg.inputs as f32).sqrt();
                        let values: Vec<f32> = (0..seg.len()).map(|_| rng.uniform(-bound, bound)).collect();
                        if role.is_weight() {
                            Tensor::from_vec(values, (seg.outputs, seg.inputs), device)?
                        } else {
                            Tensor::from_vec(values, seg.outputs, device)?
                        }
                    }
                };
                vars.push(Var::from_tensor(&t)?);
            }
            mlps.push((o, vars));
        }
        let gains = vec![1.0; mlps.len()];
        Ok(Inr { cfg, mlps, gains, reference: None, int8_aware: false })
    }

    /// Flat parameter vectors in segment order (what a hypernet file stores), with the gains and
    /// any standardisation folded into the read-out: `W_out · g/σ` and `(b_out − μ) · g/σ`.
    pub fn to_flat(&self) -> Result<Vec<(usize, Vec<f32>)>> {
        let mut out = Vec::new();
        for (index, (o, _)) in self.mlps.iter().enumerate() {
            let stats = self.reference_stats(index)?;
            let mut v = Vec::new();
            for seg in self.cfg.segments(*o) {
                v.extend(self.stored(index, seg.role, stats.as_ref())?.flatten_all()?.to_vec1::<f32>()?);
            }
            out.push((*o, v));
        }
        Ok(out)
    }

    /// The segment `role` of morphed tensor `index` as the file stores it: the gain and any
    /// standardisation (`stats`) folded into the read-out.
    fn stored(&self, index: usize, role: Role, stats: Option<&(Tensor, Tensor)>) -> Result<Tensor> {
        let mut t = self.var(index, role).as_tensor().clone();
        if let Some((mu, sigma)) = stats {
            match role {
                Role::OutputWeight => t = t.broadcast_div(sigma)?,
                Role::OutputBias => t = (t - mu)?.broadcast_div(sigma)?,
                _ => {}
            }
        }
        if matches!(role, Role::OutputWeight | Role::OutputBias) {
            t = (t * self.gains[index] as f64)?;
        }
        Ok(t)
    }

    /// Read-out `[rows, O]` of morphed tensor `index` computed from the int8 round trip of its
    /// stored segments ([`round_trip`], the file's quantiser, one scale per segment),
    /// with straight-through gradients: the forward pass sees exactly the int8 file's values, the
    /// backward pass treats rounding as the identity.
    fn int8_readout(&self, index: usize, feats: &Tensor) -> Result<Tensor> {
        let stats = self.reference_stats(index)?;
        let param = |role| -> Result<Tensor> {
            let t = self.stored(index, role, stats.as_ref())?;
            &t + (round_trip(&t)? - &t)?.detach()
        };
        let h = self.hidden_of(feats, &param)?;
        linear(&h, &param(Role::OutputWeight)?, &param(Role::OutputBias)?)
    }

    /// Turns standardisation on: stores every morphed tensor's features on the noise-free
    /// full-width grid, from which [`Inr::reference_stats`] computes its statistics each time.
    pub fn standardise(&mut self, arch: &ArchSpec, device: &Device) -> Result<()> {
        let total = arch.morphed_count();
        let mut reference = Vec::new();
        for p in arch.params(arch.h_max as usize) {
            let Some(m) = p.morph else { continue };
            let (feats, _) = row_inputs(&self.cfg, &m, p.kind == ParamKind::Bias, total, None);
            reference.push(Tensor::from_vec(feats, (m.rows(), self.cfg.features()), device)?);
        }
        self.reference = Some(reference);
        Ok(())
    }

    /// For a standardised INR, the mean `μ` `[O]` (per output) and standard deviation `σ` `[1]`
    /// (over all values) of morphed tensor `index`'s read-out before the gain, over the noise-free
    /// full-width grid; `None` otherwise. Dividing every width's read-out by these statistics
    /// makes the generated weights blind to shifts and scalings shared by all of a tensor's rows,
    /// which is what an optimiser step on the shared MLP mostly produces; because the statistics
    /// depend on the parameters only, never on the width, they fold into the read-out exactly.
    pub fn reference_stats(&self, index: usize) -> Result<Option<(Tensor, Tensor)>> {
        let Some(feats) = self.reference.as_ref().map(|r| &r[index]) else {
            return Ok(None);
        };
        let readout = self.readout(index, feats)?;
        let mu = readout.mean(0)?;
        let sigma = readout.broadcast_sub(&mu)?.sqr()?.mean_all()?.sqrt()?.reshape(1)?;
        Ok(Some((mu, (sigma + 1e-12)?)))
    }

    /// All trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.mlps.iter().flat_map(|(_, v)| v.iter().cloned()).collect()
    }

    /// The variable of morphed tensor `index` playing `role`.
    fn var(&self, index: usize, role: Role) -> &Var {
        let (o, vars) = &self.mlps[index];
        let position = self.cfg.segments(*o).position(|s| s.role == role).expect("the INR has this segment");
        &vars[position]
    }

    /// Last hidden layer `[rows, H]` of morphed tensor `index`'s MLP on `feats` `[rows, P]`.
    pub fn hidden(&self, index: usize, feats: &Tensor) -> Result<Tensor> {
        self.hidden_of(feats, &|role| Ok(self.var(index, role).as_tensor().clone()))
    }

    /// Last hidden layer on `feats` of the MLP whose segments `param` gives.
    fn hidden_of(&self, feats: &Tensor, param: &dyn Fn(Role) -> Result<Tensor>) -> Result<Tensor> {
        let mut h = linear_relu(feats, &param(Role::InputWeight)?, &param(Role::InputBias)?)?;
        for k in 0..self.cfg.depth {
            let t = linear_relu(&h, &param(Role::HiddenWeight(k))?, &param(Role::HiddenBias(k))?)?;
            h = add_scaled(&h, &t, &param(Role::BranchScale(k))?)?;
        }
        Ok(h)
    }

    /// Read-out of morphed tensor `index` on `feats` `[rows, P]` → `[rows, O]` (before
    /// standardisation, gain and fan-in).
    pub fn readout(&self, index: usize, feats: &Tensor) -> Result<Tensor> {
        let v = |role| self.var(index, role).as_tensor();
        linear(&self.hidden(index, feats)?, v(Role::OutputWeight), v(Role::OutputBias))
    }

    /// Sets every MLP's output layer to the ridge-regression fit of `target` (the full-width
    /// network, canonical order) from the MLP's current hidden features on the noise-free grid.
    /// Random hidden features plus a least-squares read-out start the INR at the target network
    /// instead of at a near-zero one, which plain gradient steps would need thousands of steps to
    /// scale up from.
    /// Also sets each tensor's gain to the RMS of its read-out target.
    pub fn fit_output_layers(&mut self, arch: &ArchSpec, target: &[Tensor], ridge: f64) -> Result<()> {
        let total = arch.morphed_count();
        for (p, t) in arch.params(arch.h_max as usize).zip(target) {
            let Some(m) = p.morph else { continue };
            let device = t.device();
            let (feats, inv) = row_inputs(&self.cfg, &m, p.kind == ParamKind::Bias, total, None);
            let rows = m.rows();
            let feats = Tensor::from_vec(feats, (rows, self.cfg.features()), device)?;
            let hidden = self.hidden(m.index, &feats)?;
            let ones = Tensor::ones((rows, 1), hidden.dtype(), device)?;
            let x = Tensor::cat(&[&hidden, &ones], 1)?.to_dtype(DType::F64)?;
            // The MLP output is the weight times the fan-in C_in (= 1 / inv).
            let fan_in = Tensor::from_vec(inv, (rows, 1), device)?.recip()?.to_dtype(DType::F64)?;
            let y = t.reshape((rows, m.values_per_row()))?.to_dtype(DType::F64)?.broadcast_mul(&fan_in)?;
            let gain = y.sqr()?.mean_all()?.sqrt()?.to_scalar::<f64>()?.max(1e-6);
            self.gains[m.index] = gain as f32;
            let y = (y / gain)?;
            let gram = crate::cpu::matmul::product(&x.t()?, &x)?.to_vec2::<f64>()?;
            let rhs = crate::cpu::matmul::product(&x.t()?, &y)?.to_vec2::<f64>()?;
            let sol = ridge_solve(gram, rhs, ridge);
            let (hdim, out) = (sol.len() - 1, m.values_per_row());
            let w: Vec<f32> =
                (0..out).flat_map(|o| (0..hdim).map(move |k| (o, k))).map(|(o, k)| sol[k][o] as f32).collect();
            let b: Vec<f32> = (0..out).map(|o| sol[hdim][o] as f32).collect();
            self.var(m.index, Role::OutputWeight).set(&Tensor::from_vec(w, (out, hdim), device)?)?;
            self.var(m.index, Role::OutputBias).set(&Tensor::from_vec(b, out, device)?)?;
        }
        Ok(())
    }

    /// Starts each tensor as a random network at the base network's scale, for fitting without
    /// reconstruction. The read-out is rescaled and offset so that over the noise-free full-width
    /// grid every output (kernel position) has zero mean and the read-out unit variance: a shared
    /// offset would outweigh the variation between channels, and a small read-out behind a large
    /// gain turns each optimiser step into a large relative change of the weights. Then the gains
    /// are set layer by layer, in order, so that on the images `x` each layer's output has the
    /// spread it has in the `target` network: generated weights vary smoothly across channels, so
    /// a layer's sum grows with its fan-in rather than its square root, and matching the weights'
    /// RMS alone leaves the logits more than ten times too spread.
    pub fn match_scale(&mut self, arch: &ArchSpec, target: &[Tensor], x: &Tensor) -> Result<()> {
        let h = arch.h_max as usize;
        let device = x.device();
        for (p, t) in arch.params(h).zip(target) {
            let Some(m) = p.morph else { continue };
            let (feats, _) = row_inputs(&self.cfg, &m, p.kind == ParamKind::Bias, arch.morphed_count(), None);
            let feats = Tensor::from_vec(feats, (m.rows(), self.cfg.features()), device)?;
            let (w_out, b_out) = (self.var(m.index, Role::OutputWeight), self.var(m.index, Role::OutputBias));
            let raw = crate::cpu::matmul::product(&self.hidden(m.index, &feats)?, &w_out.as_tensor().t()?)?;
            let mean = raw.mean(0)?;
            let scale = std_dev(&raw.broadcast_sub(&mean)?)?.max(1e-12);
            w_out.set(&(w_out.as_tensor() / scale)?)?;
            b_out.set(&(mean.neg()? / scale)?)?;
            self.gains[m.index] = 1.0;
            let generated = self.generate(arch, &p, None, device)?;
            self.gains[m.index] = (std_dev(t)? / std_dev(&generated)?.max(1e-12)) as f32;
        }
        let frozen = frozen_of(arch, target);
        let wanted = layer_outputs(arch, target, x)?;
        for layer in arch.params(h).filter(|p| p.kind == ParamKind::Weight && p.morph.is_some()).map(|p| p.layer) {
            let got = layer_outputs(arch, &self.member(arch, h, &frozen, None, device)?, x)?;
            let ratio = (std_dev(&wanted[layer])? / std_dev(&got[layer])?.max(1e-12)) as f32;
            // Weight and bias together, so the layer's output scales by exactly `ratio`.
            for m in arch.params(h).filter(|p| p.layer == layer).filter_map(|p| p.morph) {
                self.gains[m.index] *= ratio;
            }
        }
        Ok(())
    }

    /// Generates morphed parameter `p` (shaped by [`param_shape`]) at its width.
    pub fn generate(&self, arch: &ArchSpec, p: &ParamInfo, noise: Option<Noise>, device: &Device) -> Result<Tensor> {
        let m = p.morph.ok_or_else(|| candle_core::Error::Msg("generate called on a frozen tensor".into()))?;
        let (feats, inv) = row_inputs(&self.cfg, &m, p.kind == ParamKind::Bias, arch.morphed_count(), noise);
        let rows = m.rows();
        let feats = Tensor::from_vec(feats, (rows, self.cfg.features()), device)?;
        let inv = Tensor::from_vec(inv, (rows, 1), device)?;
        let out = if self.int8_aware {
            self.int8_readout(m.index, &feats)?
        } else {
            let mut out = self.readout(m.index, &feats)?;
            if let Some((mu, sigma)) = self.reference_stats(m.index)? {
                out = out.broadcast_sub(&mu)?.broadcast_div(&sigma)?;
            }
            (out * self.gains[m.index] as f64)?
        };
        let out = out.broadcast_mul(&inv)?;
        out.reshape(param_shape(arch, p))
    }

    /// Every parameter of the member at base width `h`: morphed ones from the INR, frozen ones
    /// from `frozen` (canonical order).
    pub fn member(
        &self,
        arch: &ArchSpec,
        h: usize,
        frozen: &[Tensor],
        noise: Option<Noise>,
        device: &Device,
    ) -> Result<Vec<Tensor>> {
        arch.params(h)
            .map(|p| match p.morph {
                Some(_) => self.generate(arch, &p, noise, device),
                None => frozen
                    .get(p.frozen_index)
                    .cloned()
                    .ok_or_else(|| candle_core::Error::Msg(format!("missing frozen tensor {}", p.name()))),
            })
            .collect()
    }
}

/// Root mean square of a tensor's values (their standard deviation about zero).
fn std_dev(t: &Tensor) -> Result<f64> {
    t.sqr()?.mean_all()?.sqrt()?.to_dtype(DType::F64)?.to_scalar::<f64>()
}

/// Every layer's output of the member `params` at full width on `x`.
fn layer_outputs(arch: &ArchSpec, params: &[Tensor], x: &Tensor) -> Result<Vec<Tensor>> {
    let mut outputs = Vec::new();
    crate::net::forward_with(arch, arch.h_max as usize, params, x, &mut |_, _, y| {
        outputs.push(y.clone());
        Ok(y)
    })?;
    Ok(outputs)
}

fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    crate::cpu::matmul::matmul(x, &w.t()?)?.broadcast_add(b)
}

/// Solves `(G + λ·tr(G)/n·I) X = R` by Cholesky (`G` symmetric positive semi-definite `n × n`,
/// `R` `n × m`); the ridge is relative to the mean diagonal so it is scale-free.
#[allow(clippy::needless_range_loop)] // triangular solves read both indices
fn ridge_solve(mut g: Vec<Vec<f64>>, mut r: Vec<Vec<f64>>, ridge: f64) -> Vec<Vec<f64>> {
    let n = g.len();
    let mean_diag = (0..n).map(|i| g[i][i]).sum::<f64>() / n as f64;
    for (i, row) in g.iter_mut().enumerate() {
        row[i] += ridge * mean_diag.max(1e-12);
    }
    // In-place Cholesky: g = L Lᵀ (lower triangle).
    for j in 0..n {
        let d = (g[j][j] - (0..j).map(|k| g[j][k] * g[j][k]).sum::<f64>()).max(1e-300).sqrt();
        g[j][j] = d;
        for i in j + 1..n {
            g[i][j] = (g[i][j] - (0..j).map(|k| g[i][k] * g[j][k]).sum::<f64>()) / d;
        }
    }
    let m = r.first().map_or(0, Vec::len);
    for c in 0..m {
        for i in 0..n {
            let s: f64 = (0..i).map(|k| g[i][k] * r[k][c]).sum();
            r[i][c] = (r[i][c] - s) / g[i][i];
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| g[k][i] * r[k][c]).sum();
            r[i][c] = (r[i][c] - s) / g[i][i];
        }
    }
    r
}

/// The base network's frozen tensors (canonical order) at full width, as candle tensors.
pub fn frozen_of(arch: &ArchSpec, full: &[Tensor]) -> Vec<Tensor> {
    arch.params(arch.h_max as usize).zip(full).filter(|(p, _)| p.morph.is_none()).map(|(_, t)| t.clone()).collect()
}
