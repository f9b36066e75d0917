//! Checkpoints of slimmable training: the full-width parameters, the AdamW moments, the step
//! count and the options that shape the run, written atomically.

use super::SlimOptions;
use crate::adamw::{AdamW, AdamWConfig};
use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use metamorph::spec::ArchSpec;
use std::collections::HashMap;
use std::path::Path;

/// What a resumed run must share with the one that wrote the checkpoint: everything that decides
/// its steps (the schedule depends on the total step count, so on `epochs` and `max_steps`).
fn options(arch: &ArchSpec, opts: &SlimOptions) -> String {
    format!(
        "{} h_max {} widths {:?} epochs {} batch {} lr {} random widths {} seed {} max steps {:?}",
        arch.name,
        arch.h_max,
        opts.range,
        opts.epochs,
        opts.batch,
        opts.lr,
        opts.random_widths,
        opts.seed,
        opts.max_steps
    )
}

/// Writes the state after `done` steps to `path` (first `path.tmp`, then renamed).
pub fn save(path: &Path, arch: &ArchSpec, opts: &SlimOptions, opt: &AdamW, done: usize) -> Result<()> {
    let mut map: HashMap<String, Tensor> = HashMap::new();
    for (i, v) in opt.vars.iter().enumerate() {
        map.insert(format!("param.{i}"), v.as_tensor().clone());
    }
    opt.save_moments(&mut map);
    map.insert("counters".into(), Tensor::new(&[done as i64, opt.t as i64], &Device::Cpu)?);
    map.insert("options".into(), Tensor::new(options(arch, opts).as_bytes(), &Device::Cpu)?);
    metamorph_host::fs::write_atomic(path, |tmp| Ok(candle_core::safetensors::save(&map, tmp)?))
}

/// Reads a checkpoint written by [`save`] for the same options: the optimiser (holding the
/// parameters, shaped like `init`) and the steps done.
pub fn load(
    path: &Path,
    arch: &ArchSpec,
    opts: &SlimOptions,
    init: &[Tensor],
    config: AdamWConfig,
    device: &Device,
) -> Result<(AdamW, usize)> {
    let what = || format!("reading checkpoint {}", path.display());
    let map = candle_core::safetensors::load(path, device).with_context(what)?;
    let get = |name: &str| map.get(name).with_context(|| format!("checkpoint {} lacks tensor {name}", path.display()));
    let saved = String::from_utf8(get("options")?.to_dtype(DType::U8)?.to_vec1::<u8>()?).with_context(what)?;
    let wanted = options(arch, opts);
    ensure!(
        saved == wanted,
        "checkpoint {} belongs to another slimmable run ({saved}); this run is {wanted}. Delete it or pass \
         the same options",
        path.display()
    );
    let vars = init
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = get(&format!("param.{i}"))?;
            ensure!(
                p.dims() == t.dims(),
                "checkpoint tensor param.{i} has shape {:?}, expected {:?}",
                p.dims(),
                t.dims()
            );
            Ok(Var::from_tensor(p)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let counters = get("counters")?.to_vec1::<i64>()?;
    ensure!(
        counters.len() == 2 && counters.iter().all(|&c| c >= 0),
        "checkpoint {} has malformed counters",
        path.display()
    );
    let opt = AdamW::resume(vars, config, counters[1] as usize, &map).with_context(what)?;
    Ok((opt, counters[0] as usize))
}
