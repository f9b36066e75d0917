//! AdamW with inspectable state. candle-nn's `AdamW` keeps its moments private, and exact resume
//! needs them in the checkpoint, so the optimiser lives here (same update rule as PyTorch's).

use candle_core::{backprop::GradStore, Result, Tensor, Var};
use std::collections::HashMap;

/// AdamW hyperparameters.
#[derive(Debug, Clone, Copy)]
pub struct AdamWConfig {
    /// Learning rate (changed each step by the schedule).
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 1e-2 }
    }
}

/// The optimiser: its variables, their moments and the step count.
pub struct AdamW {
    /// Hyperparameters.
    pub config: AdamWConfig,
    /// Optimised variables.
    pub vars: Vec<Var>,
    /// First and second moments, one pair per variable.
    pub moments: Vec<(Tensor, Tensor)>,
    /// Updates taken so far.
    pub t: usize,
}

impl AdamW {
    /// Zero moments for `vars`.
    pub fn new(vars: Vec<Var>, config: AdamWConfig) -> Result<Self> {
        let moments = vars
            .iter()
            .map(|v| Ok((v.as_tensor().zeros_like()?, v.as_tensor().zeros_like()?)))
            .collect::<Result<_>>()?;
        Ok(AdamW { config, vars, moments, t: 0 })
    }

    /// One update; each gradient is first clipped element-wise to `[-clip, clip]`.
    pub fn step(&mut self, grads: &GradStore, clip: f64) -> Result<()> {
        self.t += 1;
        let c = self.config;
        let (bc1, bc2) = (1.0 - c.beta1.powi(self.t as i32), 1.0 - c.beta2.powi(self.t as i32));
        for (var, (m, v)) in self.vars.iter().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            // A variable's gradient still carries the graph of the step's forward pass; moments
            // built from it would chain every step's graph to the next, and keep them all alive.
            let g = g.detach().clamp(-clip, clip)?;
            *m = ((&*m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            *v = ((&*v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let update = ((&*m / bc1)? / ((&*v / bc2)?.sqrt()? + c.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - c.lr * c.weight_decay))?;
            var.set(&(decayed - (update * c.lr)?)?)?;
        }
        Ok(())
    }

    /// Forgets the moments and the step count, as if the optimiser were new: for a change of
    /// objective whose gradients the old moments do not describe.
    pub fn restart(&mut self) -> Result<()> {
        for (m, v) in &mut self.moments {
            *m = m.zeros_like()?;
            *v = v.zeros_like()?;
        }
        self.t = 0;
        Ok(())
    }

    /// Adds the moments to a checkpoint's tensors (`adam_m.i`, `adam_v.i`; the step count `t` is
    /// the caller's to store with its own counters).
    pub fn save_moments(&self, map: &mut HashMap<String, Tensor>) {
        for (i, (m, v)) in self.moments.iter().enumerate() {
            map.insert(format!("adam_m.{i}"), m.clone());
            map.insert(format!("adam_v.{i}"), v.clone());
        }
    }

    /// The optimiser of `vars` resumed from the moments [`AdamW::save_moments`] wrote into `map`,
    /// after `t` updates.
    pub fn resume(
        vars: Vec<Var>,
        config: AdamWConfig,
        t: usize,
        map: &HashMap<String, Tensor>,
    ) -> anyhow::Result<Self> {
        let moment = |name: String, var: &Var| -> anyhow::Result<Tensor> {
            let m = map.get(&name).ok_or_else(|| anyhow::anyhow!("the checkpoint lacks tensor {name}"))?;
            anyhow::ensure!(
                m.dims() == var.dims(),
                "checkpoint tensor {name} has shape {:?}, expected {:?}",
                m.dims(),
                var.dims()
            );
            Ok(m.clone())
        };
        let moments = vars
            .iter()
            .enumerate()
            .map(|(i, var)| Ok((moment(format!("adam_m.{i}"), var)?, moment(format!("adam_v.{i}"), var)?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(AdamW { config, vars, moments, t })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A variable's gradient carries the forward graph; the moments built from it must not.
    #[test]
    fn the_moments_hold_no_graph() {
        let a = Var::new(&[[1f32, -2.]], &Device::Cpu).unwrap();
        let w = Var::new(&[[3f32], [4.]], &Device::Cpu).unwrap();
        let grads = a.matmul(&w).unwrap().sum_all().unwrap().backward().unwrap();
        // The gradient of a product's right factor is built from the left one, a variable.
        assert!(grads.get(w.as_tensor()).unwrap().track_op(), "the gradient is expected to carry its graph");
        let mut opt = AdamW::new(vec![a, w], AdamWConfig::default()).unwrap();
        opt.step(&grads, f64::INFINITY).unwrap();
        assert!(opt.moments.iter().all(|(m, v)| !m.track_op() && !v.track_op()));
    }

    /// After `restart`, an optimiser that has stepped steps exactly as a new one would from the
    /// same values.
    #[test]
    fn a_restarted_optimiser_steps_as_a_new_one() {
        let grads_of =
            |x: &Var, k: f64| (x.as_tensor() * k).unwrap().sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let used = Var::new(&[0.5f32, -1.5, 2.0], &Device::Cpu).unwrap();
        let mut opt = AdamW::new(vec![used.clone()], AdamWConfig::default()).unwrap();
        for _ in 0..5 {
            opt.step(&grads_of(&used, 0.01), 10.0).unwrap();
        }
        opt.restart().unwrap();
        let fresh = Var::from_tensor(&used.as_tensor().copy().unwrap()).unwrap();
        let mut new = AdamW::new(vec![fresh.clone()], AdamWConfig::default()).unwrap();
        for _ in 0..3 {
            opt.step(&grads_of(&used, 3.0), 10.0).unwrap();
            new.step(&grads_of(&fresh, 3.0), 10.0).unwrap();
        }
        assert_eq!(used.as_tensor().to_vec1::<f32>().unwrap(), fresh.as_tensor().to_vec1::<f32>().unwrap());
        assert_eq!(opt.t, new.t);
    }
}
