//! The INR in candle: the same math as `metamorph::inr`, with trainable parameters.
//!
//! Coordinates and Fourier features are computed by the runtime crate's own functions
//! (`metamorph::inr::{coords, features}`), so both sides see identical inputs; only the MLP runs in
//! candle. `tests/inr_agreement.rs` checks the two INRs agree through a file round trip.

use candle_core::{Device, Result, Tensor, Var};
use metamorph::inr::{coords, features::fourier, InrConfig};
use metamorph::spec::{ArchSpec, Morph, ParamInfo, ParamKind};

use crate::net::param_shape;

/// Coordinate noise for one generation: `None` is the noise-free grid (runtime sample 0).
#[derive(Debug, Clone, Copy)]
pub struct Noise {
    /// Seed of the counter-based generator.
    pub seed: u64,
    /// Half-width of the uniform noise (`coords::amplitude(σ)`).
    pub amplitude: f32,
}

/// Trainable parameters of every morphed tensor's MLP, each MLP in the runtime's segment order.
pub struct Inr {
    /// Shared size.
    pub cfg: InrConfig,
    /// Per morphed tensor: output size and one `Var` per segment (`W` as `[out, in]`).
    pub mlps: Vec<(usize, Vec<Var>)>,
}

/// Features `[rows, 6 + 12F]` and `1 / C_in` `[rows, 1]` of a morphed tensor's rows, computed
/// with the runtime's coordinate and feature functions (on two threads).
pub fn row_inputs(cfg: &InrConfig, m: &Morph, is_bias: bool, total: usize, noise: Option<Noise>) -> (Vec<f32>, Vec<f32>) {
    let rows = m.rows();
    let p = cfg.features();
    let mut feats = vec![0.0f32; rows * p];
    let mut inv = vec![0.0f32; rows];
    let (sample, seed, amp) = match noise {
        Some(n) => (1, n.seed, n.amplitude),
        None => (0, 0, 0.0),
    };
    let half = rows.div_ceil(2).max(1);
    std::thread::scope(|s| {
        for (chunk, (f, i)) in feats.chunks_mut(half * p).zip(inv.chunks_mut(half)).enumerate() {
            s.spawn(move || {
                for (b, (frow, irow)) in f.chunks_exact_mut(p).zip(i.iter_mut()).enumerate() {
                    let raw = coords::noisy(m, total, chunk * half + b, is_bias, sample, seed, amp);
                    *irow = 1.0 / raw[5];
                    fourier(&coords::normalise(raw, cfg.norm), cfg.bands as usize, frow);
                }
            });
        }
    });
    (feats, inv)
}

impl Inr {
    /// Fresh parameters: uniform `±1/√fan_in` for `W` and `b` (PyTorch `Linear` default),
    /// residual scales 0.1.
    pub fn init(arch: &ArchSpec, cfg: InrConfig, device: &Device) -> Result<Self> {
        let mut mlps = Vec::new();
        for p in arch.params(arch.h_max as usize) {
            let Some(m) = p.morph else { continue };
            let o = m.values_per_row();
            let (h, f) = (cfg.hidden as usize, cfg.features());
            let linear = |vars: &mut Vec<Var>, out: usize, inp: usize| -> Result<()> {
                let bound = 1.0 / (inp as f64).sqrt();
                vars.push(Var::rand(-bound, bound, (out, inp), device)?);
                vars.push(Var::rand(-bound, bound, out, device)?);
                Ok(())
            };
            let mut vars = Vec::new();
            linear(&mut vars, h, f)?;
            for _ in 0..cfg.depth {
                linear(&mut vars, h, h)?;
                vars.push(Var::from_tensor(&Tensor::new(&[0.1f32], device)?)?);
            }
            linear(&mut vars, o, h)?;
            mlps.push((o, vars));
        }
        Ok(Inr { cfg, mlps })
    }

    /// Wraps flat parameter vectors (segment order, as in a hypernet file) as `Var`s.
    pub fn from_flat(cfg: InrConfig, flat: &[(usize, Vec<f32>)], device: &Device) -> Result<Self> {
        let mut mlps = Vec::new();
        for (o, values) in flat {
            let mut vars = Vec::new();
            for s in 0..cfg.segment_count() {
                let seg = cfg.segment(s, *o);
                let data = &values[seg.offset..seg.offset + seg.len];
                let shape = segment_shape(&cfg, s, *o);
                vars.push(Var::from_tensor(&Tensor::from_slice(data, shape, device)?)?);
            }
            mlps.push((*o, vars));
        }
        Ok(Inr { cfg, mlps })
    }

    /// Flat parameter vectors in segment order (what a hypernet file stores).
    pub fn to_flat(&self) -> Result<Vec<(usize, Vec<f32>)>> {
        self.mlps
            .iter()
            .map(|(o, vars)| {
                let mut v = Vec::new();
                for var in vars {
                    v.extend(var.as_tensor().flatten_all()?.to_vec1::<f32>()?);
                }
                Ok((*o, v))
            })
            .collect()
    }

    /// All trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.mlps.iter().flat_map(|(_, v)| v.iter().cloned()).collect()
    }

    /// MLP forward of morphed tensor `index` on `feats` `[rows, P]` → `[rows, O]` (before fan-in).
    pub fn forward(&self, index: usize, feats: &Tensor) -> Result<Tensor> {
        let vars = &self.mlps[index].1;
        let lin = |x: &Tensor, w: &Var, b: &Var| x.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor());
        let mut h = lin(feats, &vars[0], &vars[1])?.relu()?;
        for k in 0..self.cfg.depth as usize {
            let (w, b, s) = (&vars[2 + 3 * k], &vars[3 + 3 * k], &vars[4 + 3 * k]);
            let t = lin(&h, w, b)?.relu()?;
            h = (h + t.broadcast_mul(s.as_tensor())?)?;
        }
        let n = vars.len();
        lin(&h, &vars[n - 2], &vars[n - 1])
    }

    /// Generates morphed parameter `p` (shaped by [`param_shape`]) at its width.
    pub fn generate(&self, arch: &ArchSpec, p: &ParamInfo, noise: Option<Noise>, device: &Device) -> Result<Tensor> {
        let m = p.morph.ok_or_else(|| candle_core::Error::Msg("generate called on a frozen tensor".into()))?;
        let (feats, inv) = row_inputs(&self.cfg, &m, p.kind == ParamKind::Bias, arch.morphed_count(), noise);
        let rows = m.rows();
        let feats = Tensor::from_vec(feats, (rows, self.cfg.features()), device)?;
        let inv = Tensor::from_vec(inv, (rows, 1), device)?;
        let out = self.forward(m.index, &feats)?.broadcast_mul(&inv)?;
        out.reshape(param_shape(arch, p))
    }

    /// Every parameter of the member at base width `h`: morphed ones from the INR, frozen ones
    /// from `frozen` (canonical order).
    pub fn member(&self, arch: &ArchSpec, h: usize, frozen: &[Tensor], noise: Option<Noise>, device: &Device) -> Result<Vec<Tensor>> {
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

/// candle shape of MLP segment `s`: matrices `[out, in]`, vectors `[n]`.
pub fn segment_shape(cfg: &InrConfig, s: usize, out_size: usize) -> Vec<usize> {
    let (h, p, last) = (cfg.hidden as usize, cfg.features(), cfg.segment_count());
    if s == 0 {
        vec![h, p]
    } else if s == last - 2 {
        vec![out_size, h]
    } else if s == last - 1 {
        vec![out_size]
    } else if s == 1 {
        vec![h]
    } else {
        match (s - 2) % 3 {
            0 => vec![h, h],
            1 => vec![h],
            _ => vec![1],
        }
    }
}

/// The base network's frozen tensors (canonical order) at full width, as candle tensors.
pub fn frozen_of(arch: &ArchSpec, full: &[Tensor]) -> Vec<Tensor> {
    arch.params(arch.h_max as usize).zip(full).filter(|(p, _)| p.morph.is_none()).map(|(_, t)| t.clone()).collect()
}
