//! Milliseconds per INR-fitting step of a preset (default mnist-mlp) at full and half width: the
//! member generated from the INR, the classification loss on one batch, one backward pass, the
//! AdamW and EMA updates; in f32 and, where the preset fits quantisation-aware, also with the int8
//! round trip of the INR's parameters that such a fit adds to every step. `scripts/fit-step-compare.sh` runs it beside the same step written in
//! PyTorch (`scripts/fit_step_torch.py`) and states the ratio.
//!
//! `cargo bench -p metamorph-trainer --bench fit_step [-- PRESET]`

use anyhow::Result;
use candle_core::Device;
use metamorph::rng::Rng;
use metamorph_trainer::base::init_params;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::fit::{step_loss, FitJob, FitOptions, FitState, Member, ReconTargets, StepPlan};
use metamorph_trainer::preset::Preset;
use std::time::Instant;

const WARM_UP: usize = 3;
const TIMED: usize = 15;

fn main() -> Result<()> {
    metamorph_trainer::malloc::retain_freed_memory();
    let name = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_else(|| "mnist-mlp".into());
    let preset = Preset::load(&name)?;
    let (arch, dev) = (&preset.arch, Device::Cpu);
    let mut opts = FitOptions::from_preset(&preset);
    opts.progress = false;
    let target = init_params(arch, arch.h_max as usize, 0, &dev)?;
    let train = Dataset::load(&preset.dataset, Split::Train)?;
    let job = FitJob { arch, target: &target, train: &train, test: &train, checkpoint_every: 0, device: &dev };
    let frozen = metamorph_trainer::inr::frozen_of(arch, &target);
    let mut rng = Rng::new(7);
    let modes = if preset.fit.int8_aware { vec![false, true] } else { vec![false] };
    for (h, int8_aware) in
        [arch.h_max as usize, arch.h_max as usize / 2].into_iter().flat_map(|h| modes.iter().map(move |&q| (h, q)))
    {
        let mut state = FitState::new(arch, &preset, 0, &dev)?;
        state.inr.int8_aware = int8_aware;
        let mut times = Vec::new();
        for k in 0..WARM_UP + TIMED {
            let images = (0..opts.batch).map(|_| rng.below(train.n)).collect();
            let plan = StepPlan { members: vec![Member { h, noise: None, recon: false }], images };
            let start = Instant::now();
            let loss = step_loss(&job, &opts, &state.inr, &frozen, &plan, &mut ReconTargets::default())?.loss;
            state.descend(&loss, &opts)?;
            if k >= WARM_UP {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        let ms = times[TIMED / 2];
        println!("fit step {name} h={h} batch={} int8_aware={int8_aware}: {ms:.2} ms (median of {TIMED})", opts.batch);
    }
    Ok(())
}
