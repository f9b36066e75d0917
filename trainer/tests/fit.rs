//! INR fitting on a tiny configuration: steps lower the loss, and a killed-then-resumed run ends
//! in exactly the state of an uninterrupted one.

use candle_core::{Device, Tensor};
use metamorph_trainer::base::init_params;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::fit::{checkpoint, fit, resampled_targets, FitOptions, FitState};
use metamorph_trainer::preset::Preset;

fn tiny() -> (Preset, FitOptions, Vec<Tensor>, Dataset) {
    let mut preset = Preset::load("digits-mlp").unwrap();
    preset.inr.hidden = 16;
    preset.inr.bands = 3;
    let mut opts = FitOptions::from_preset(&preset);
    opts.steps = 8;
    opts.warmup = 4;
    opts.batch = 16;
    opts.eval_every = 0;
    opts.progress = false;
    let arch = &preset.arch;
    let target = init_params(arch, arch.h_max as usize, 1, &Device::Cpu).unwrap();
    let data = Dataset::load("digits", Split::Test).unwrap().take(64);
    (preset, opts, target, data)
}

fn flat(ts: &[Tensor]) -> Vec<f32> {
    ts.iter().flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
}

fn recon_error(preset: &Preset, state: &FitState, target: &[Tensor]) -> f64 {
    let arch = &preset.arch;
    let h = arch.h_max as usize;
    let frozen = metamorph_trainer::inr::frozen_of(arch, target);
    let member = state.inr.member(arch, h, &frozen, None, &Device::Cpu).unwrap();
    let morphed = arch.params(h).zip(&member).filter(|(p, _)| p.morph.is_some()).map(|(_, t)| t);
    let targets = resampled_targets(arch, target, h).unwrap();
    morphed
        .zip(&targets)
        .map(|(w, (t, norm))| {
            (w - t).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64 / norm
        })
        .sum()
}

#[test]
fn a_few_steps_lower_the_reconstruction_loss() {
    let (preset, mut opts, target, data) = tiny();
    opts.steps = 30;
    opts.warmup = 30;
    let mut state = FitState::new(&preset.arch, &preset, 0, &Device::Cpu).unwrap();
    let before = recon_error(&preset, &state, &target);
    fit(&preset.arch, &target, &data, &data, &opts, &mut state, 0, |_| Ok(()), &Device::Cpu).unwrap();
    let after = recon_error(&preset, &state, &target);
    assert!(after < 0.9 * before, "reconstruction error {before} -> {after}");
}

#[test]
fn resume_after_a_kill_matches_an_uninterrupted_run() {
    let (preset, opts, target, data) = tiny();
    let arch = &preset.arch;
    let dev = Device::Cpu;
    let mut straight = FitState::new(arch, &preset, 5, &dev).unwrap();
    fit(arch, &target, &data, &data, &opts, &mut straight, 0, |_| Ok(()), &dev).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let mut first = FitState::new(arch, &preset, 5, &dev).unwrap();
    let killed = fit(
        arch,
        &target,
        &data,
        &data,
        &opts,
        &mut first,
        3,
        |s| {
            checkpoint::save(&path, s, &target)?;
            anyhow::bail!("killed after step {}", s.step)
        },
        &dev,
    );
    assert!(killed.is_err(), "the run must stop at the first checkpoint");
    assert!(!dir.path().join("ckpt.safetensors.tmp").exists(), "no temp file left behind");
    let fresh = FitState::new(arch, &preset, 5, &dev).unwrap();
    let (mut resumed, saved_target) = checkpoint::load(&path, fresh, &dev).unwrap();
    assert_eq!(resumed.step, 3);
    assert_eq!(flat(&saved_target), flat(&target));
    fit(arch, &saved_target, &data, &data, &opts, &mut resumed, 0, |_| Ok(()), &dev).unwrap();

    let vars = |s: &FitState| flat(&s.inr.vars().iter().map(|v| v.as_tensor().clone()).collect::<Vec<_>>());
    assert_eq!(vars(&straight), vars(&resumed), "INR parameters differ after resume");
    assert_eq!(flat(&straight.ema), flat(&resumed.ema), "EMA differs after resume");
    assert_eq!(straight.opt.t, resumed.opt.t);
}

#[test]
fn a_checkpoint_of_another_preset_is_a_clear_error() {
    let (preset, opts, target, data) = tiny();
    let dev = Device::Cpu;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let mut state = FitState::new(&preset.arch, &preset, 0, &dev).unwrap();
    let mut short = opts.clone();
    short.steps = 1;
    fit(&preset.arch, &target, &data, &data, &short, &mut state, 1, |s| checkpoint::save(&path, s, &target), &dev)
        .unwrap();
    let mut other = preset.clone();
    other.inr.hidden = 8;
    let fresh = FitState::new(&other.arch, &other, 0, &dev).unwrap();
    let err = checkpoint::load(&path, fresh, &dev).err().expect("shape mismatch must be an error");
    assert!(format!("{err:#}").contains("shape"), "{err:#}");
}
