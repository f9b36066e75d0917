//! INR fitting on a tiny configuration: steps lower the loss, and a killed-then-resumed run ends
//! in exactly the state of an uninterrupted one.

use candle_core::{Device, Tensor};
use candle_nn::loss::cross_entropy;
use metamorph::spec::ArchSpec;
use metamorph_trainer::base::init_params;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::fit::{
    checkpoint, distillation, fit, learning_rate, plan_step, resampled_targets, step_loss, FitJob, FitOptions,
    FitState, ReconTargets, StepLoss,
};
use metamorph_trainer::net::forward;
use metamorph_trainer::preset::Preset;

/// A fit on `data` for both training and evaluation.
fn job<'a>(
    arch: &'a ArchSpec,
    target: &'a [Tensor],
    data: &'a Dataset,
    every: usize,
    device: &'a Device,
) -> FitJob<'a> {
    FitJob { arch, target, train: data, test: data, checkpoint_every: every, device }
}

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
    let job = job(&preset.arch, &target, &data, 0, &Device::Cpu);
    fit(&job, &opts, &mut state, |_| Ok(())).unwrap();
    let after = recon_error(&preset, &state, &target);
    assert!(after < 0.9 * before, "reconstruction error {before} -> {after}");
    // What a step keeps holds no computation graph: a graph there chains every step to the
    // next, and memory grew with the steps (0.27 MB per digits step) until it was cut.
    assert!(state.ema.iter().all(|e| !e.track_op()), "the EMA keeps a graph");
    assert!(state.opt.moments.iter().all(|(m, v)| !m.track_op() && !v.track_op()), "the moments keep a graph");
}

#[test]
fn resume_after_a_kill_matches_an_uninterrupted_run() {
    let (preset, opts, target, data) = tiny();
    let arch = &preset.arch;
    let dev = Device::Cpu;
    let mut straight = FitState::new(arch, &preset, 5, &dev).unwrap();
    fit(&job(arch, &target, &data, 0, &dev), &opts, &mut straight, |_| Ok(())).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let mut first = FitState::new(arch, &preset, 5, &dev).unwrap();
    let killed = fit(&job(arch, &target, &data, 3, &dev), &opts, &mut first, |s| {
        checkpoint::save(&path, s, &target)?;
        anyhow::bail!("killed after step {}", s.step)
    });
    assert!(killed.is_err(), "the run must stop at the first checkpoint");
    assert!(!dir.path().join("ckpt.safetensors.tmp").exists(), "no temp file left behind");
    let fresh = FitState::new(arch, &preset, 5, &dev).unwrap();
    let (mut resumed, saved_target) = checkpoint::load(&path, fresh, &dev).unwrap();
    assert_eq!(resumed.step, 3);
    assert_eq!(flat(&saved_target), flat(&target));
    fit(&job(arch, &saved_target, &data, 0, &dev), &opts, &mut resumed, |_| Ok(())).unwrap();

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
    fit(&job(&preset.arch, &target, &data, 1, &dev), &short, &mut state, |s| checkpoint::save(&path, s, &target))
        .unwrap();
    let mut other = preset.clone();
    other.inr.hidden = 8;
    let fresh = FitState::new(&other.arch, &other, 0, &dev).unwrap();
    let err = checkpoint::load(&path, fresh, &dev).err().expect("shape mismatch must be an error");
    assert!(format!("{err:#}").contains("shape"), "{err:#}");
}

#[test]
fn without_reconstruction_each_layer_starts_at_the_targets_activation_scale() {
    let (preset, _, target, data) = tiny();
    let arch = &preset.arch;
    let (h, dev) = (arch.h_max as usize, Device::Cpu);
    let (x, _) = data.batch(&(0..data.n).collect::<Vec<_>>(), &dev).unwrap();
    let mut state = FitState::new(arch, &preset, 0, &dev).unwrap();
    let rms = |t: &Tensor| t.sqr().unwrap().mean_all().unwrap().sqrt().unwrap().to_scalar::<f32>().unwrap();
    let outputs = |params: &[Tensor]| {
        let mut out = Vec::new();
        metamorph_trainer::net::forward_with(arch, h, params, &x, &mut |_, _, y| {
            out.push(rms(&y));
            Ok(y)
        })
        .unwrap();
        out
    };
    let frozen = metamorph_trainer::inr::frozen_of(arch, &target);
    let before = outputs(&state.inr.member(arch, h, &frozen, None, &dev).unwrap());
    state.inr.match_scale(arch, &target, &x).unwrap();
    let (want, got) = (outputs(&target), outputs(&state.inr.member(arch, h, &frozen, None, &dev).unwrap()));
    // Layers whose tensors are all morphed (a frozen bias keeps its scale).
    let all_morphed = |layer| arch.params(h).filter(|p| p.layer == layer).all(|p| p.morph.is_some());
    let layers: Vec<usize> = arch.params(h).map(|p| p.layer).filter(|&l| all_morphed(l)).collect();
    assert!(layers.len() >= 2);
    for layer in layers {
        assert!(
            (got[layer] - want[layer]).abs() <= 1e-3 * want[layer],
            "layer {layer}: {} vs {}",
            got[layer],
            want[layer]
        );
    }
    assert_ne!(before, got, "the scales were not already right");
}

#[test]
fn distillation_pulls_the_member_towards_the_teacher() {
    let (mut preset, _, target, data) = tiny();
    preset.fit.reconstruct = false;
    preset.fit.distill = 20.0;
    let arch = &preset.arch;
    let dev = Device::Cpu;
    let h = arch.h_max as usize;
    let mut opts = FitOptions::from_preset(&preset);
    opts.set_steps(&preset, 40);
    (opts.batch, opts.eval_every, opts.progress, opts.full_every) = (32, 0, false, 1);
    assert_eq!((opts.warmup, opts.recon_weight), (0, 0.0), "no reconstruction phase or term");
    let mut state = FitState::new(arch, &preset, 0, &dev).unwrap();
    let (x, _) = data.batch(&(0..data.n).collect::<Vec<_>>(), &dev).unwrap();
    state.inr.match_scale(arch, &target, &x).unwrap();
    let teacher = metamorph_trainer::net::forward(arch, h, &target, &x).unwrap();
    let frozen = metamorph_trainer::inr::frozen_of(arch, &target);
    let kl = |s: &FitState| {
        let member = s.inr.member(arch, h, &frozen, None, &dev).unwrap();
        let logits = metamorph_trainer::net::forward(arch, h, &member, &x).unwrap();
        distillation(&teacher, &logits).unwrap().to_scalar::<f32>().unwrap()
    };
    assert_eq!(distillation(&teacher, &teacher).unwrap().to_scalar::<f32>().unwrap(), 0.0);
    let before = kl(&state);
    fit(&job(arch, &target, &data, 0, &dev), &opts, &mut state, |_| Ok(())).unwrap();
    let after = kl(&state);
    assert!(after < 0.7 * before, "KL to the teacher {before} -> {after}");
}

/// The sandwich rule: a step trains the full width, the smallest trained width and two random
/// widths, and the loss it differentiates is the sum of those members' losses, each recomputed
/// here from its own generated network (cross-entropy, distillation from the base network and
/// from the full-width member, the norm term, and reconstruction at full width).
#[test]
fn a_sandwich_steps_loss_is_the_sum_of_its_members_losses() {
    let (preset, mut opts, target, data) = tiny();
    (opts.sandwich, opts.self_distill, opts.distill) = (2, 0.5, 0.3);
    let arch = &preset.arch;
    let (h_max, dev) = (arch.h_max as usize, Device::Cpu);
    let state = FitState::new(arch, &preset, 3, &dev).unwrap();
    let frozen = metamorph_trainer::inr::frozen_of(arch, &target);
    let step = opts.warmup.next_multiple_of(opts.full_every);
    let plan = plan_step(&opts, arch, data.n, step);

    let widths: Vec<usize> = plan.members.iter().map(|m| m.h).collect();
    assert_eq!(widths.len(), 4, "{widths:?}");
    assert_eq!(&widths[..2], &[h_max, opts.train_h[0] as usize]);
    assert!(widths[2..].iter().all(|&h| (opts.train_h[0] as usize..=opts.train_h[1] as usize).contains(&h)));
    assert!(plan.members[0].noise.is_none() && plan.members[0].recon);
    assert!(plan.members[1..].iter().all(|m| m.noise.is_some() && !m.recon));
    assert_eq!(plan.images.len(), opts.batch);

    let job = job(arch, &target, &data, 0, &dev);
    let StepLoss { loss, members } =
        step_loss(&job, &opts, &state.inr, &frozen, &plan, &mut ReconTargets::default()).unwrap();
    let scalar = |t: Tensor| t.to_scalar::<f32>().unwrap() as f64;
    let (x, y) = data.batch(&plan.images, &dev).unwrap();
    let teacher = forward(arch, h_max, &target, &x).unwrap();
    let mut leader = None;
    let mut sum = 0.0;
    for (k, m) in plan.members.iter().enumerate() {
        let params = state.inr.member(arch, m.h, &frozen, m.noise, &dev).unwrap();
        let morphed: Vec<&Tensor> =
            arch.params(m.h).zip(&params).filter(|(p, _)| p.morph.is_some()).map(|(_, t)| t).collect();
        let logits = forward(arch, m.h, &params, &x).unwrap();
        let mut want = scalar(cross_entropy(&logits, &y).unwrap());
        want += 0.3 * scalar(distillation(&teacher, &logits).unwrap());
        want +=
            opts.norm_weight * morphed.iter().map(|w| scalar(w.sqr().unwrap().sum_all().unwrap()).sqrt()).sum::<f64>();
        match &leader {
            None => {
                let targets = resampled_targets(arch, &target, m.h).unwrap();
                let recon: f64 = morphed
                    .iter()
                    .zip(&targets)
                    .map(|(w, (t, norm))| scalar((*w - t).unwrap().sqr().unwrap().sum_all().unwrap()) / norm)
                    .sum();
                want += opts.recon_weight * recon / targets.len() as f64;
                leader = Some(logits.clone());
            }
            Some(leader) => want += 0.5 * scalar(distillation(leader, &logits).unwrap()),
        }
        let got = members[k].total as f64;
        assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "member {k} (h = {}): {got} vs {want}", m.h);
        sum += want;
    }
    let total = scalar(loss);
    assert!((total - sum).abs() <= 1e-5 * sum, "step loss {total} vs the sum of its members {sum}");
}

/// Without the sandwich rule a step trains one width: the schedule every shipped file was fitted
/// with.
#[test]
fn without_the_sandwich_rule_a_step_trains_one_width() {
    let (preset, opts, _, data) = tiny();
    for step in 0..opts.steps {
        let plan = plan_step(&opts, &preset.arch, data.n, step);
        assert_eq!(plan.members.len(), 1, "step {step}");
        assert_eq!(plan.images.len(), if step < opts.warmup { 0 } else { opts.batch }, "step {step}");
    }
}

/// `reconstruct_after_warmup: false` keeps the reconstruction term in the warm-up only; every
/// other choice of every step (widths, noise, images) stays as the default schedule draws it.
#[test]
fn reconstruction_can_end_with_the_warm_up() {
    let (preset, opts, _, data) = tiny();
    let without = FitOptions { recon_after_warmup: false, ..opts.clone() };
    assert!(opts.warmup > 0 && opts.recon_weight > 0.0);
    let mut recon_steps = [0, 0];
    for step in 0..opts.steps {
        let (a, b) = (plan_step(&opts, &preset.arch, data.n, step), plan_step(&without, &preset.arch, data.n, step));
        assert_eq!(a.images, b.images, "step {step}");
        for (x, y) in a.members.iter().zip(&b.members) {
            let noise = |m: &metamorph_trainer::fit::Member| m.noise.map(|n| (n.seed, n.amplitude.to_bits()));
            assert_eq!((x.h, noise(x)), (y.h, noise(y)), "step {step}");
            assert_eq!(y.recon, x.recon && step < opts.warmup, "step {step}");
            recon_steps[usize::from(step >= opts.warmup)] += usize::from(x.recon);
        }
    }
    assert!(recon_steps[1] > 0, "the default schedule reconstructs after the warm-up: {recon_steps:?}");
}

/// `restart_at_switch` starts the classification phase with a new optimiser (its step count
/// counts only that phase's steps) and changes the rate only from the switch on: it ramps up again
/// from the first classification step and then follows the default schedule.
#[test]
fn the_classification_phase_can_start_as_a_fresh_run() {
    let (preset, mut opts, target, data) = tiny();
    let dev = Device::Cpu;
    for restart in [false, true] {
        let opts = FitOptions { restart_at_switch: restart, ..opts.clone() };
        let mut state = FitState::new(&preset.arch, &preset, 0, &dev).unwrap();
        fit(&job(&preset.arch, &target, &data, 0, &dev), &opts, &mut state, |_| Ok(())).unwrap();
        let expected = if restart { opts.steps - opts.warmup } else { opts.steps };
        assert_eq!(state.opt.t, expected, "restart {restart}");
    }
    opts.steps = 2000;
    opts.warmup = 400;
    let restarted = FitOptions { restart_at_switch: true, ..opts.clone() };
    for step in 0..opts.steps {
        let (a, b) = (learning_rate(&opts, step), learning_rate(&restarted, step));
        if (opts.warmup..opts.warmup + 49).contains(&step) {
            assert!(b < a, "step {step}: {b} is not below {a}");
        } else {
            assert_eq!(a.to_bits(), b.to_bits(), "step {step}");
        }
    }
    let first = learning_rate(&restarted, opts.warmup);
    assert!(first <= learning_rate(&opts, opts.warmup) / 50.0 * 1.0001, "{first}");
}

/// An output, checkpoint or base path that cannot be written stops `fit` before any training,
/// naming the path.
#[test]
fn unwritable_outputs_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("out.mmh");
    let bad = dir.path().join("missing/file");
    let args = |out: &std::path::Path, checkpoint: Option<&std::path::Path>| metamorph_trainer::fit::command::FitArgs {
        preset: "digits-mlp".into(),
        out: out.to_path_buf(),
        steps: Some(1_000_000),
        base: None,
        save_base: None,
        checkpoint: checkpoint.map(|p| p.to_path_buf()),
        checkpoint_every: 100,
        dtype: Some(metamorph::format::DType::F32),
        seed: 0,
        device: Device::Cpu,
        progress: false,
    };
    for a in [args(&bad, None), args(&good, Some(&bad))] {
        let Err(err) = metamorph_trainer::fit::command::run(&a) else { panic!("must refuse") };
        assert!(format!("{err:#}").contains("missing/file"), "{err:#}");
    }
    assert!(!good.exists());
}
