//! Base training lowers the loss, BatchNorm training runs, and checkpoints round-trip.

mod common;
use candle_core::Device;
use metamorph_trainer::base::{self, BaseOptions, Checkpoint};
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::preset::Preset;
use std::collections::HashMap;

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

#[test]
fn a_few_steps_lower_the_loss_and_checkpoints_round_trip() {
    let preset = Preset::load("digits-mlp").unwrap();
    let (train, test) = (Dataset::load("digits", Split::Train).unwrap(), Dataset::load("digits", Split::Test).unwrap());
    let mut opts = BaseOptions::from_preset(&preset, Some(16));
    opts.progress = false;
    opts.max_steps = Some(60);
    let t = base::train(&preset.arch, &opts, &train, &test, &Device::Cpu).unwrap();
    assert_eq!(t.losses.len(), 60);
    assert!(mean(&t.losses[50..]) < 0.5 * mean(&t.losses[..5]), "{:?}", t.losses);
    assert!(t.test_accuracy > 0.5, "{}", t.test_accuracy);
    // Same seed, same result.
    let again = base::train(&preset.arch, &opts, &train, &test, &Device::Cpu).unwrap();
    assert_eq!(t.losses, again.losses);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.safetensors");
    let ckpt = Checkpoint {
        arch: preset.arch.clone(),
        h: 16,
        params: t.params.clone(),
        metadata: HashMap::from([("preset".to_string(), "digits-mlp".to_string())]),
    };
    ckpt.save(&path).unwrap();
    assert!(!dir.path().join("b.safetensors.tmp").exists());
    let back = Checkpoint::load(&path, &Device::Cpu).unwrap();
    assert_eq!((back.arch, back.h), (preset.arch.clone(), 16));
    assert_eq!(back.metadata["preset"], "digits-mlp");
    let names: Vec<String> = safetensors::SafeTensors::deserialize(&std::fs::read(&path).unwrap())
        .unwrap()
        .names()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    assert!(names.contains(&"layer1.weight".to_string()) && names.contains(&"layer5.bias".to_string()), "{names:?}");
    let acc = base::evaluate(&preset.arch, 16, &back.params, &test, &Device::Cpu).unwrap();
    assert_eq!(acc, t.test_accuracy);
}

#[test]
fn a_checkpoint_is_the_same_bytes_each_time_it_is_written() {
    let preset = Preset::load("digits-mlp").unwrap();
    let params = metamorph_trainer::base::init_params(&preset.arch, 16, 0, &Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Each map hashes with its own random keys, so their entries come out in different orders.
    let written: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let metadata = (0..12).map(|k| (format!("key{k}"), format!("value{k}"))).collect::<HashMap<_, _>>();
            let path = dir.path().join(format!("{i}.safetensors"));
            Checkpoint { arch: preset.arch.clone(), h: 16, params: params.clone(), metadata }.save(&path).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(written.iter().all(|w| *w == written[0]), "the same checkpoint was written as different bytes");
    let back = Checkpoint::load(&dir.path().join("3.safetensors"), &Device::Cpu).unwrap();
    assert_eq!((back.h, back.metadata["key11"].as_str()), (16, "value11"));
}

#[test]
fn batchnorm_training_runs_and_is_folded() {
    let arch = common::conv_net();
    let (train, test) =
        (Dataset::load("digits", Split::Train).unwrap().take(256), Dataset::load("digits", Split::Test).unwrap());
    let opts =
        BaseOptions { h: 4, epochs: 6, batch: 32, lr: 0.01, seed: 1, bn: true, max_steps: None, progress: false };
    let t = base::train(&arch, &opts, &train, &test, &Device::Cpu).unwrap();
    assert!(mean(&t.losses[t.losses.len() - 8..]) < 0.6 * mean(&t.losses[..4]), "{:?}", t.losses);
    // The returned (folded) parameters are a plain network of the right shapes.
    assert_eq!(t.params.len(), arch.params(4).count());
    assert!(t.test_accuracy > 0.3, "{}", t.test_accuracy);
}

#[test]
fn the_validation_split_is_disjoint_and_deterministic() {
    let train = Dataset::load("digits", Split::Train).unwrap();
    let (rest, val) = train.split(0.1, 3).unwrap();
    assert_eq!(rest.n + val.n, train.n);
    assert_eq!(val.n, (train.n as f64 * 0.1).round() as usize);
    let (rest2, val2) = train.split(0.1, 3).unwrap();
    assert_eq!((rest.labels, val.images.clone()), (rest2.labels, val2.images));
    let (_, other) = train.split(0.1, 4).unwrap();
    assert_ne!(val.images, other.images, "another seed holds out other examples");
    assert!(train.split(0.0, 0).is_err() && train.split(1.0, 0).is_err());
}

#[test]
fn converging_keeps_the_best_validation_epoch() {
    let preset = Preset::load("digits-mlp").unwrap();
    let train = Dataset::load("digits", Split::Train).unwrap();
    let mut opts = BaseOptions::from_preset(&preset, Some(8));
    opts.progress = false;
    let how = base::Converge { validation: 0.2, patience: 1, decays: 1, max_epochs: 12 };
    let c = base::converge(&preset.arch, &opts, &how, &train, None, &Device::Cpu).unwrap();
    assert!(c.best_epoch >= 1 && c.best_epoch <= c.epochs && c.epochs <= how.max_epochs, "{c:?}");
    // The kept parameters are the ones whose validation accuracy was recorded, on the same split.
    let (_, val) = train.split(how.validation, opts.seed).unwrap();
    let acc = base::evaluate(&preset.arch, 8, &c.params, &val, &Device::Cpu).unwrap();
    assert_eq!(acc, c.val_accuracy);
    assert!(acc > 0.8, "{acc}");
}

/// A converging run with a checkpoint ends in the same net as one without; one stopped by a lower
/// epoch cap resumes from its checkpoint under the full cap and still ends in that net (BatchNorm
/// statistics, optimiser moments and the best epoch so far all restored); a checkpoint of another
/// run is refused.
#[test]
fn a_converge_resumed_from_its_checkpoint_ends_in_the_same_net() {
    let flat = |ts: &[candle_core::Tensor]| -> Vec<Vec<f32>> {
        ts.iter().map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
    };
    // An MLP, and a LeNet with BatchNorm on a slice of MNIST.
    for (name, h, examples) in [("digits-mlp", 8, usize::MAX), ("mnist-lenet", 4, 600)] {
        let preset = Preset::load(name).unwrap();
        let train = Dataset::load(&preset.dataset, Split::Train).unwrap();
        let train = train.take(examples.min(train.n));
        let mut opts = BaseOptions::from_preset(&preset, Some(h));
        opts.progress = false;
        assert_eq!(opts.bn, name == "mnist-lenet");
        // Patience 2 and one decay: at least 5 epochs.
        let how = base::Converge { validation: 0.2, patience: 2, decays: 1, max_epochs: 8 };
        let straight = base::converge(&preset.arch, &opts, &how, &train, None, &Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("net.partial");
        let capped = base::Converge { max_epochs: 3, ..how.clone() };
        let first = base::converge(&preset.arch, &opts, &capped, &train, Some(&ck), &Device::Cpu).unwrap();
        assert_eq!((first.epochs, first.resumed_at), (3, 0), "{name}");
        let resumed = base::converge(&preset.arch, &opts, &how, &train, Some(&ck), &Device::Cpu).unwrap();
        assert_eq!(resumed.resumed_at, 3, "{name}");
        assert_eq!((resumed.epochs, resumed.best_epoch), (straight.epochs, straight.best_epoch), "{name}");
        assert_eq!(resumed.val_accuracy, straight.val_accuracy, "{name}");
        assert_eq!(flat(&resumed.params), flat(&straight.params), "{name}");
        opts.seed += 1;
        let err = base::converge(&preset.arch, &opts, &how, &train, Some(&ck), &Device::Cpu).unwrap_err();
        assert!(format!("{err:#}").contains("belongs to another run"), "{name}: {err:#}");
    }
}
