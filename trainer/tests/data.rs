//! The IDX reader on the real committed files, and its errors.

use metamorph_host::idx::read_idx;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::preset::Preset;
use std::io::Write;

#[test]
fn mnist_counts_labels_and_pixels() {
    let train = Dataset::load("mnist", Split::Train).unwrap();
    let test = Dataset::load("mnist", Split::Test).unwrap();
    assert_eq!((train.n, test.n), (60000, 10000));
    assert_eq!(train.shape, [1, 28, 28]);
    assert_eq!(train.images.len(), 60000 * 784);
    assert_eq!(train.labels[0], 5, "first MNIST training label is 5");
    assert!(train.labels.iter().chain(&test.labels).all(|&l| l < 10));
    assert!((0..10).all(|c| test.labels.contains(&c)));
    let max = train.images.iter().cloned().fold(0.0f32, f32::max);
    assert_eq!(max, 1.0);
    assert!(train.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
}

#[test]
fn digits_counts_labels_and_pixels() {
    let train = Dataset::load("digits", Split::Train).unwrap();
    let test = Dataset::load("digits", Split::Test).unwrap();
    assert_eq!((train.n, test.n), (1437, 360));
    assert_eq!(train.shape, [1, 8, 8]);
    assert!(train.labels.iter().chain(&test.labels).all(|&l| l < 10));
    assert!((0..10).all(|c| train.labels.contains(&c)));
    // Pixels 0..16 divided by 16: the maximum reaches 1.
    assert_eq!(train.images.iter().cloned().fold(0.0f32, f32::max), 1.0);
}

#[test]
fn batches_are_seeded_and_cover_everything() {
    let test = Dataset::load("digits", Split::Test).unwrap();
    let a = test.batches(64, Some(3));
    assert_eq!(a, test.batches(64, Some(3)));
    assert_ne!(a, test.batches(64, Some(4)));
    let mut all: Vec<usize> = a.concat();
    all.sort();
    assert_eq!(all, (0..360).collect::<Vec<_>>());
    let (x, y) = test.batch(&a[0], &candle_core::Device::Cpu).unwrap();
    assert_eq!(x.dims(), &[64, 1, 8, 8]);
    assert_eq!(y.dtype(), candle_core::DType::U32);
    assert_eq!(y.to_vec1::<u32>().unwrap()[0], test.labels[a[0][0]] as u32);
}

#[test]
fn missing_file_names_path_and_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let err = Dataset::load_dir(dir.path(), Split::Train).unwrap_err();
    assert!(format!("{err:#}").contains("train-images-idx3-ubyte.gz"), "{err:#}");
    // The named loader says how to get the data.
    let err = Dataset::load_in(dir.path(), "fashion-mnist", Split::Train).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("fetch-fashion-mnist.sh") && msg.contains("fashion-mnist/train-images-idx3-ubyte.gz"),
        "{msg}"
    );
    eprintln!("{msg}");
    assert!(format!("{:#}", Dataset::load("cifar", Split::Train).unwrap_err()).contains("unknown data set"));
}

fn gz(path: &std::path::Path, bytes: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

#[test]
fn bad_magic_truncation_and_count_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.gz");
    gz(&p, &[0, 0, 0x0d, 1, 0, 0, 0, 1, 7]);
    assert!(format!("{:#}", read_idx(&p).unwrap_err()).contains("bad IDX magic"));
    gz(&p, &[0, 0, 8, 1, 0, 0, 0, 3, 7]);
    assert!(format!("{:#}", read_idx(&p).unwrap_err()).contains("truncated"));
    gz(&p, &[0, 0, 8, 1, 0, 0, 0, 1, 7]);
    assert_eq!(read_idx(&p).unwrap(), (vec![1], vec![7]));
    std::fs::write(&p, b"not gzip").unwrap();
    assert!(read_idx(&p).is_err());
    // Two images, three labels.
    gz(&dir.path().join("train-images-idx3-ubyte.gz"), &[0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9]);
    gz(&dir.path().join("train-labels-idx1-ubyte.gz"), &[0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
    let msg = format!("{:#}", Dataset::load_dir(dir.path(), Split::Train).unwrap_err());
    assert!(msg.contains("2 images") && msg.contains("3 labels"), "{msg}");
}

#[test]
fn fashion_mnist_when_fetched() {
    let root = metamorph_host::fs::repo_root().join("data/fashion-mnist");
    if !root.join("t10k-labels-idx1-ubyte.gz").exists() {
        eprintln!("skipped: fashion-mnist not fetched (run data/scripts/fetch-fashion-mnist.sh)");
        return;
    }
    let train = Dataset::load("fashion-mnist", Split::Train).unwrap();
    let test = Dataset::load("fashion-mnist", Split::Test).unwrap();
    assert_eq!((train.n, test.n, train.shape), (60000, 10000, [1, 28, 28]));
    assert!((0..10).all(|c| test.labels.contains(&c)) && test.labels.iter().all(|&l| l < 10));
}

#[test]
fn presets_match_the_runtime_built_in_families() {
    use metamorph::spec::families;
    for (name, arch) in [
        ("mnist-mlp", families::mnist_mlp()),
        ("mnist-mlp-shallow", families::mnist_mlp()),
        ("digits-mlp", families::digits_mlp()),
        ("mnist-lenet", families::mnist_lenet()),
    ] {
        assert_eq!(Preset::load(name).unwrap().arch, arch, "models/{name}.json and spec::families disagree");
    }
}

#[test]
fn every_shipped_hypernet_matches_its_preset() {
    let models = metamorph_host::fs::repo_root().join("models");
    let mut shipped = 0;
    for entry in std::fs::read_dir(&models).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() != Some("mmh".as_ref()) {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap();
        // `P-slim.mmh` is the slimmable net of preset P (`metamorph-train slimmable --preset P`).
        let (preset_name, slim) = name.strip_suffix("-slim").map_or((name, false), |p| (p, true));
        let preset = Preset::load(preset_name).unwrap_or_else(|e| panic!("{} has no preset: {e:#}", path.display()));
        let bytes = std::fs::read(&path).unwrap();
        let net = metamorph::format::read(&bytes).unwrap();
        assert_eq!(net.arch, preset.arch, "{name}: family");
        assert_eq!(net.meta.dataset, preset.dataset.as_str(), "{name}");
        match net.inr() {
            Some((inr, _)) => {
                assert!(!slim, "{name}: a -slim file holds an INR");
                assert_eq!(*inr, preset.inr, "{name}: INR size");
                assert_eq!(net.meta.trained_h, preset.train_h, "{name}");
            }
            None => assert!(slim, "{name}: a slimmable net must be named <preset>-slim.mmh"),
        }
        assert!(!net.meta.accuracy.is_empty(), "{name}: exported without its accuracy table");
        shipped += 1;
    }
    assert!(shipped >= 2, "models/ should hold the shipped hypernets");
}
