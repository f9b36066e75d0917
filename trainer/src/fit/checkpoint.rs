//! Checkpoints: the full [`FitState`] plus the target network, written atomically.

use super::FitState;
use crate::adamw::AdamW;
use crate::inr::Inr;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// Writes `state` and `target` to `path` as safetensors: first to `path.tmp`, then renamed, so a
/// crash never leaves a half-written checkpoint.
pub fn save(path: &Path, state: &FitState, target: &[Tensor]) -> Result<()> {
    let mut map: HashMap<String, Tensor> = HashMap::new();
    for (i, v) in state.inr.vars().iter().enumerate() {
        map.insert(format!("inr.{i}"), v.as_tensor().clone());
    }
    for (i, e) in state.ema.iter().enumerate() {
        map.insert(format!("ema.{i}"), e.clone());
    }
    state.opt.save_moments(&mut map);
    for (i, t) in target.iter().enumerate() {
        map.insert(format!("target.{i}"), t.clone());
    }
    map.insert("gains".into(), Tensor::new(state.inr.gains.as_slice(), &Device::Cpu)?);
    let counters = Tensor::new(&[state.step as i64, state.opt.t as i64], &Device::Cpu)?;
    map.insert("counters".into(), counters);
    metamorph_host::fs::write_atomic(path, |tmp| Ok(candle_core::safetensors::save(&map, tmp)?))
}

/// Reads a checkpoint written by [`save`] into a state shaped like `fresh` (same preset), and
/// returns it with the saved target network.
pub fn load(path: &Path, fresh: FitState, device: &Device) -> Result<(FitState, Vec<Tensor>)> {
    let map = candle_core::safetensors::load(path, device)
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    let get = |name: String| -> Result<Tensor> {
        map.get(&name).cloned().with_context(|| format!("checkpoint {} lacks tensor {name}", path.display()))
    };
    let n = fresh.inr.vars().len();
    let mut mlps = Vec::new();
    let mut i = 0;
    for (o, vars) in &fresh.inr.mlps {
        let mut v = Vec::new();
        for fresh_var in vars {
            let t = get(format!("inr.{i}"))?;
            anyhow::ensure!(
                t.dims() == fresh_var.dims(),
                "checkpoint tensor inr.{i} has shape {:?}, preset wants {:?}",
                t.dims(),
                fresh_var.dims()
            );
            v.push(Var::from_tensor(&t)?);
            i += 1;
        }
        mlps.push((*o, v));
    }
    let gains = get("gains".into())?.to_vec1::<f32>()?;
    anyhow::ensure!(gains.len() == mlps.len(), "checkpoint gains do not match the preset");
    let inr = Inr { cfg: fresh.inr.cfg, gains, mlps, reference: fresh.inr.reference, int8_aware: fresh.inr.int8_aware };
    let ema = (0..n).map(|i| get(format!("ema.{i}"))).collect::<Result<Vec<_>>>()?;
    let counters = get("counters".into())?.to_vec1::<i64>()?;
    anyhow::ensure!(counters.len() == 2, "checkpoint counters malformed");
    let opt = AdamW::resume(inr.vars(), fresh.opt.config, counters[1] as usize, &map)
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    let mut target = Vec::new();
    while let Some(t) = map.get(&format!("target.{}", target.len())) {
        target.push(t.clone());
    }
    Ok((FitState { step: counters[0] as usize, inr, ema, opt }, target))
}
