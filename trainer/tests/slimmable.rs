//! The universally slimmable net: its members are the sliced full-width net, the sandwich step's
//! loss is the sum of its members' losses, training lowers the loss, and the report reads it.

use candle_core::{Device, Tensor};
use metamorph::rng::Rng;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::fit::distillation;
use metamorph_trainer::preset::Preset;
use metamorph_trainer::report::baselines;
use metamorph_trainer::{base, net, slimmable};

fn flat(ts: &[Tensor]) -> Vec<Vec<f32>> {
    ts.iter().map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
}

#[test]
fn members_are_the_sliced_full_width_net() {
    for name in ["digits-mlp", "mnist-lenet"] {
        let arch = Preset::load(name).unwrap().arch;
        let h_max = arch.h_max as usize;
        let full = base::init_params(&arch, h_max, 3, &Device::Cpu).unwrap();
        for h in [arch.h_min as usize, h_max / 2, h_max] {
            let member = slimmable::member(&arch, &full, h).unwrap();
            let sliced = baselines::slice(&arch, &full, h).unwrap();
            assert_eq!(flat(&member), flat(&sliced), "{name} at h = {h}");
        }
        assert!(slimmable::member(&arch, &full, h_max + 1).is_err());
    }
}

#[test]
fn the_sandwich_loss_is_the_sum_of_its_members_losses() {
    let preset = Preset::load("digits-mlp").unwrap();
    let arch = &preset.arch;
    let dev = Device::Cpu;
    let data = Dataset::load("digits", Split::Train).unwrap();
    let (x, y) = data.batch(&(0..32).collect::<Vec<_>>(), &dev).unwrap();
    let full = base::init_params(arch, 32, 1, &dev).unwrap();
    let widths = metamorph_trainer::sandwich::widths([8, 32], 2, &mut Rng::new(5));
    assert_eq!(&widths[..2], &[32, 8]);
    assert!(widths[2..].iter().all(|h| (8..=32).contains(h)));
    let (total, parts) = slimmable::sandwich_loss(arch, &full, &widths, &x, &y).unwrap();
    // Each member's loss computed on its own.
    let teacher = net::forward(arch, 32, &slimmable::member(arch, &full, 32).unwrap(), &x).unwrap();
    let mut expected = candle_nn::loss::cross_entropy(&teacher, &y).unwrap().to_scalar::<f32>().unwrap();
    for (&h, part) in widths.iter().zip(&parts).skip(1) {
        let student = net::forward(arch, h, &slimmable::member(arch, &full, h).unwrap(), &x).unwrap();
        let own = distillation(&teacher, &student).unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(part.to_scalar::<f32>().unwrap(), own, "h = {h}");
        expected += own;
    }
    let total = total.to_scalar::<f32>().unwrap();
    assert!((total - expected).abs() <= 1e-6 * expected.abs(), "{total} vs {expected}");
}

#[test]
fn training_makes_every_width_better_than_chance_and_saves_a_checkpoint() {
    let preset = Preset::load("digits-mlp").unwrap();
    let dev = Device::Cpu;
    let mut opts = slimmable::SlimOptions::from_preset(&preset);
    opts.epochs = 20;
    opts.progress = false;
    let train = Dataset::load("digits", Split::Train).unwrap();
    let test = Dataset::load("digits", Split::Test).unwrap();
    let full = slimmable::train(&preset.arch, &opts, &train, &dev).unwrap().params;
    for h in [opts.range[0], 16, 32] {
        let acc =
            base::evaluate(&preset.arch, h, &slimmable::member(&preset.arch, &full, h).unwrap(), &test, &dev).unwrap();
        assert!(acc > 0.5, "h = {h}: {acc}");
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing/s.mmh");
    assert!(slimmable::run("digits-mlp", &opts, &missing, metamorph::format::DType::I8, &dev).is_err());
}

/// The report's int8 nets (`report::int8::quantise`) are what an int8 file of the same net
/// decodes to in the runtime: one quantiser, one scale per tensor. (A file keeps the tensors that
/// do not change with width in f32; the int8 nets quantise those too.)
#[test]
fn int8_columns_are_the_decoded_file_bytes() {
    let arch = Preset::load("digits-mlp").unwrap().arch;
    let full = base::init_params(&arch, 32, 9, &Device::Cpu).unwrap();
    let quantised = metamorph_trainer::report::int8::quantise(&full).unwrap();
    let values = full.iter().map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect();
    let owned = metamorph::format::OwnedHypernet::slimmable(arch.clone(), values, "digits").unwrap();
    let file = owned.to_bytes_as(metamorph::format::DType::I8).unwrap();
    let decoded = metamorph_trainer::export::runtime_member(&file, 32, 1, &Device::Cpu).unwrap();
    for ((p, d), (q, f)) in
        arch.params(32).zip(flat(&decoded)).zip(flat(&quantised.params).into_iter().zip(flat(&full)))
    {
        assert_eq!(d, if p.morph.is_some() { q } else { f }, "{}", p.name());
    }
}

/// A run resumed from its checkpoint (here: the one written at step 42 of 46, mid-epoch) ends in
/// the same parameters as an uninterrupted run, and writing checkpoints changes nothing; a
/// checkpoint of other options is refused.
#[test]
fn a_resumed_slimmable_run_ends_in_the_same_parameters() {
    let preset = Preset::load("digits-mlp").unwrap();
    let dev = Device::Cpu;
    let train = Dataset::load("digits", Split::Train).unwrap();
    let mut opts = slimmable::SlimOptions::from_preset(&preset);
    opts.epochs = 2;
    opts.progress = false;
    let per_epoch = train.n.div_ceil(opts.batch);
    let uninterrupted = slimmable::train(&preset.arch, &opts, &train, &dev).unwrap();
    assert_eq!(uninterrupted.resumed_at, 0);
    let uninterrupted = flat(&uninterrupted.params);
    let dir = tempfile::tempdir().unwrap();
    opts.checkpoint = Some(dir.path().join("slim.ckpt"));
    opts.checkpoint_every = 7;
    let checkpointed = slimmable::train(&preset.arch, &opts, &train, &dev).unwrap();
    assert_eq!(flat(&checkpointed.params), uninterrupted);
    // The file now holds the last multiple of 7 before the end, mid-epoch; resuming from it runs
    // the remaining steps only.
    let last = 2 * per_epoch / 7 * 7;
    assert!(last < 2 * per_epoch && !last.is_multiple_of(per_epoch));
    let resumed = slimmable::train(&preset.arch, &opts, &train, &dev).unwrap();
    assert_eq!(resumed.resumed_at, last);
    assert_eq!(flat(&resumed.params), uninterrupted);
    opts.seed += 1;
    let err = slimmable::train(&preset.arch, &opts, &train, &dev).unwrap_err();
    assert!(format!("{err:#}").contains("another slimmable run"), "{err:#}");
}
