//! Real interruption: `metamorph-train fit` and `metamorph-train slimmable` run as child
//! processes with a checkpoint after every step and are SIGKILLed over and over, at random moments
//! and, every third time, as soon as a checkpoint write has begun (counted by the `.tmp` file a
//! kill leaves behind); each time the run is resumed, until one outlives its kill. After every
//! kill, the checkpoint and the output are each either absent or complete and loadable; the final
//! hypernet is byte-identical to the one of an uninterrupted run with the same seed.

use candle_core::Device;
use metamorph_trainer::adamw::AdamWConfig;
use metamorph_trainer::base::{init_params, Checkpoint};
use metamorph_trainer::fit::{checkpoint, FitState};
use metamorph_trainer::preset::Preset;
use metamorph_trainer::slimmable::{self, SlimOptions};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_metamorph-train");
const SEED: u64 = 7;
/// SIGKILLs per command, over as many runs as it takes.
const KILLS: usize = 30;
/// INR steps of each fit.
const STEPS: usize = 120;
/// Epochs of each slimmable run (23 steps each on digits).
const SLIM_EPOCHS: usize = 5;

/// The fit command line: the tiny digits preset from a given base network (no base training),
/// 120 INR steps, a checkpoint after each.
fn fit(dir: &Path, out: &str, checkpoint: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c.args(["fit", "--preset", "digits-mlp", "--base", "base.safetensors", "--steps", &STEPS.to_string(), "--quiet"]);
    c.args(["--dtype", "f32", "--seed", &SEED.to_string(), "-o", out]);
    if let Some(ck) = checkpoint {
        c.args(["--checkpoint", ck, "--checkpoint-every", "1"]);
    }
    c
}

/// The step of the fit checkpoint at `path`; panics unless it loads for this preset.
fn fit_step(preset: &Preset, path: &Path) -> usize {
    let fresh = FitState::new(&preset.arch, preset, SEED, &Device::Cpu).unwrap();
    match checkpoint::load(path, fresh, &Device::Cpu) {
        Ok((state, _)) => state.step,
        Err(e) => panic!("a kill left a broken checkpoint: {e:#}"),
    }
}

/// The slimmable command line: the digits family, 5 epochs, a checkpoint after each step.
fn slim(dir: &Path, out: &str, checkpoint: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c.args(["slimmable", "--preset", "digits-mlp", "--epochs", &SLIM_EPOCHS.to_string(), "--quiet"]);
    c.args(["--dtype", "f32", "--seed", &SEED.to_string(), "-o", out]);
    if let Some(ck) = checkpoint {
        c.args(["--checkpoint", ck, "--checkpoint-every", "1"]);
    }
    c
}

/// The step of the slimmable checkpoint at `path`; panics unless it loads for the options
/// [`slim`] passes.
fn slim_step(preset: &Preset, path: &Path) -> usize {
    let mut opts = SlimOptions::from_preset(preset);
    (opts.epochs, opts.seed) = (SLIM_EPOCHS, SEED);
    let init = init_params(&preset.arch, preset.arch.h_max as usize, SEED, &Device::Cpu).unwrap();
    let config = AdamWConfig { lr: opts.lr, ..Default::default() };
    match slimmable::checkpoint::load(path, &preset.arch, &opts, &init, config, &Device::Cpu) {
        Ok((_, step)) => step,
        Err(e) => panic!("a kill left a broken checkpoint: {e:#}"),
    }
}

#[test]
fn sigkilled_fits_resume_to_the_uninterrupted_runs_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let preset = Preset::load("digits-mlp").unwrap();
    let arch = &preset.arch;
    let h = arch.h_max as usize;
    let params = init_params(arch, h, 3, &Device::Cpu).unwrap();
    Checkpoint { arch: arch.clone(), h, params, metadata: Default::default() }
        .save(&d.join("base.safetensors"))
        .unwrap();
    kill_and_resume(d, "fit", fit, |p| fit_step(&preset, p), STEPS);
}

#[test]
fn sigkilled_slimmable_runs_resume_to_the_uninterrupted_runs_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let preset = Preset::load("digits-mlp").unwrap();
    let steps = SLIM_EPOCHS
        * metamorph_trainer::data::Dataset::load("digits", metamorph_trainer::data::Split::Train)
            .unwrap()
            .n
            .div_ceil(preset.base.batch);
    kill_and_resume(dir.path(), "slimmable", slim, |p| slim_step(&preset, p), steps);
}

/// Runs `command` in `d` once without a checkpoint, then [`KILLS`] times SIGKILLs and resumes it
/// with one (`step` reads a checkpoint's step, of `steps`), checking every kill's leftovers and
/// every finished run's output against the uninterrupted run's.
fn kill_and_resume(
    d: &Path,
    what: &str,
    command: fn(&Path, &str, Option<&str>) -> Command,
    step: impl Fn(&Path) -> usize,
    steps: usize,
) {
    let start = Instant::now();
    assert!(command(d, "straight.mmh", None).status().unwrap().success(), "the uninterrupted run failed");
    let span = start.elapsed();
    let want = std::fs::read(d.join("straight.mmh")).unwrap();

    let (out, ck) = (d.join("out.mmh"), d.join("ck.safetensors"));
    let ck_tmp = d.join("ck.safetensors.tmp");
    let mut rng = metamorph::rng::Rng::new(SEED);
    let (mut kills, mut in_write, mut runs, mut finished, mut resumed_mid) = (0, 0, 0, 0, 0);
    // Episodes: a fresh run, killed and resumed until one outlives its kill and finishes.
    while kills < KILLS {
        for stale in [&out, &ck, &ck_tmp] {
            let _ = std::fs::remove_file(stale);
        }
        let status = loop {
            runs += 1;
            // Every third kill aims at a checkpoint write: it strikes as soon as this run's
            // temporary file appears (a leftover one is removed first). The others strike at a
            // random moment of the run.
            let aim = kills % 3 == 2;
            if aim {
                let _ = std::fs::remove_file(&ck_tmp);
            }
            let spawned = SystemTime::now();
            let mut child = command(d, "out.mmh", Some("ck.safetensors")).spawn().unwrap();
            if aim {
                let t = Instant::now();
                while !ck_tmp.exists() && t.elapsed() < span {
                    std::thread::sleep(Duration::from_micros(100));
                }
            } else {
                std::thread::sleep(span.mul_f32(rng.uniform(0.0, 0.9)));
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            // A temporary file written by this run: the kill cut a checkpoint write short.
            let modified = std::fs::metadata(&ck_tmp).and_then(|m| m.modified());
            in_write += modified.is_ok_and(|t| t >= spawned) as usize;
            if ck.exists() {
                let step = step(&ck);
                resumed_mid += (0 < step && step < steps) as usize;
            }
            if out.exists() {
                assert_eq!(std::fs::read(&out).unwrap(), want, "kill {kills} left a different output");
            }
        };
        // The run that outlived its kill finished on its own.
        assert!(status.success(), "resuming after {kills} kills failed: {status}");
        finished += 1;
        let got = std::fs::read(&out).unwrap();
        assert!(got == want, "episode {finished}: the resumed run's hypernet differs from the uninterrupted run's");
    }
    eprintln!(
        "{what}: {kills} SIGKILLs ({in_write} during a checkpoint write) in {finished} interrupted runs, {runs} runs, \
         {resumed_mid} left a mid-run checkpoint to resume from; each final hypernet ({} bytes) identical to the \
         uninterrupted run's ({:.2} s)",
        want.len(),
        span.as_secs_f64()
    );
    assert!(in_write > 0, "no kill landed inside a checkpoint write");
    assert!(resumed_mid > 0, "no run resumed from a mid-run checkpoint: the kills never tested resuming");
}
