//! The bad-input matrix of `metamorph-train`: presets, checkpoints and hypernets missing, empty,
//! truncated or foreign; numbers zero, negative, huge, NaN or not a number on the command line
//! and in a preset; data of the wrong shape or of no known set; and output paths that cannot be
//! written or hold an earlier result. Every case must be refused before training starts (the
//! runner's deadline and its check that no file appears catch a case that trains). The contract
//! each case must keep is in `support/bad_input.rs`.

#[path = "../../runtime/host/tests/support/bad_input.rs"]
mod bad_input;
use bad_input::{case, run_matrix, Case, Files};
use candle_core::Device;
use metamorph_trainer::base::{init_params, Checkpoint};
use metamorph_trainer::preset::Preset;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_metamorph-train");

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path).to_string_lossy().into_owned()
}

/// `models/digits-mlp.json` with the value at JSON pointer `at` set to `value` (raw JSON
/// text, so that numbers serde_json cannot hold, such as `1e400`, reach the parser), written as
/// `name` in the case folder.
fn preset_with(f: &Files, name: &str, at: &str, value: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("models/digits-mlp.json")).unwrap()).unwrap();
    const MARK: &str = "@@value@@";
    let (parent, key) = at.rsplit_once('/').unwrap();
    let object = v.pointer_mut(parent).and_then(|p| p.as_object_mut()).unwrap_or_else(|| panic!("no {parent}"));
    object.insert(key.to_string(), serde_json::Value::String(MARK.into()));
    let text = serde_json::to_string_pretty(&v).unwrap().replace(&format!("\"{MARK}\""), value);
    let path = f.path(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A random full-width base checkpoint of digits-mlp, and one at a narrower width.
fn checkpoints(f: &Files) -> (String, String) {
    let arch = Preset::load("digits-mlp").unwrap().arch;
    let save = |h: usize, name: &str| {
        let params = init_params(&arch, h, 1, &Device::Cpu).unwrap();
        let path = f.path(name);
        Checkpoint { arch: arch.clone(), h, params, metadata: Default::default() }.save(Path::new(&path)).unwrap();
        path
    };
    (save(arch.h_max as usize, "base.safetensors"), save(arch.h_min as usize, "narrow.safetensors"))
}

fn cases(f: &Files) -> Vec<Case> {
    let out = f.path("out.mmh");
    let (base, narrow) = checkpoints(f);
    let lenet_preset = repo("models/mnist-lenet.json");
    let net = f.hypernet.as_str(); // an mnist-lenet hypernet
    let (out_dir, cache) = (f.path("report"), f.path("cache"));
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::create_dir(&cache).unwrap();
    let report = |extra: &[&str]| {
        let mut a = vec!["report", "--quiet", "--out-dir", &out_dir, "--cache", &cache];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let with = |args: Vec<String>, says: &str| Case { args, says: says.to_string() };
    let mut cases = Vec::new();

    // Files where a preset is expected (a hypernet included), for every command that takes one.
    let truncated_json = f.path("truncated.json");
    let json = std::fs::read(repo("models/digits-mlp.json")).unwrap();
    std::fs::write(&truncated_json, &json[..json.len() / 2]).unwrap();
    let bad_files = [&f.missing, &f.empty, &f.truncated, &f.png, &f.onnx, &f.text, &f.hypernet];
    for file in bad_files.into_iter().chain([&truncated_json]) {
        cases.push(case(&["fit", "--preset", file, "-o", &out], file));
        cases.push(case(&["base", "--preset", file, "-o", &out], file));
        cases.push(case(&["slimmable", "--preset", file, "-o", &out], file));
        cases.push(with(report(&["--preset", file, "--hypernet", net]), file));
    }
    cases.push(case(&["fit", "--preset", "no-such-preset", "-o", &out], "no-such-preset"));
    // Files where a base checkpoint is expected, a hypernet included.
    for file in bad_files {
        cases.push(case(&["fit", "--preset", "digits-mlp", "--base", file, "-o", &out], file));
        cases.push(case(&["permute", "-i", file, "-o", &out], file));
        cases.push(with(report(&["--preset", &lenet_preset, "--hypernet", net, "--base", file]), file));
    }
    cases.push(case(&["fit", "--preset", "digits-mlp", "--base", &narrow, "-o", &out], "not a full-width"));
    cases.push(with(report(&["--preset", &lenet_preset, "--hypernet", net, "--base", &base]), "not a full-width"));
    // Existing files where a training checkpoint is expected: resuming refuses them, unchanged.
    for file in [&f.empty, &f.truncated, &f.png, &f.onnx, &f.text, &f.hypernet, &base] {
        let args = ["fit", "--preset", "digits-mlp", "--checkpoint", file, "-o", &out];
        cases.push(case(&args, if file == &base { "lacks tensor" } else { file }));
    }
    // Files where a hypernet is expected.
    for file in [&f.missing, &f.empty, &f.truncated, &f.png, &f.onnx, &f.text, &base] {
        cases.push(with(report(&["--preset", "digits-mlp", "--hypernet", file]), file));
    }
    cases.push(with(report(&["--preset", "digits-mlp", "--hypernet", net]), "holds family mnist-lenet"));
    let slim = ["--preset", &lenet_preset, "--hypernet", net, "--slimmable"];
    cases.push(with(report(&[&slim[..], &[net]].concat()), "not a slimmable"));
    cases.push(with(report(&[&slim[..], &[&f.png]].concat()), &f.png));
    // Files where a slimmable file is expected: only one can be cut.
    for file in bad_files {
        let says = if file == &f.hypernet { "only a slimmable file" } else { file };
        cases.push(case(&["cut", "--from", file, "--h", "8", "-o", &out], says));
    }

    // Numbers on the command line: zero, negative, huge, NaN, fractional, not a number.
    let counts = ["0", "-1", "1000000000000", "99999999999999999999999", "NaN", "1.5", "x"];
    for v in counts {
        let says = format!("'{v}'");
        cases.push(case(&["fit", "--preset", "digits-mlp", "--steps", v, "-o", &out], &says));
        cases.push(case(&["fit", "--preset", "digits-mlp", "--checkpoint-every", v, "-o", &out], &says));
        cases.push(case(&["base", "--preset", "digits-mlp", "--epochs", v, "-o", &out], &says));
        cases.push(case(&["base", "--preset", "digits-mlp", "--max-steps", v, "-o", &out], &says));
        cases.push(case(&["slimmable", "--preset", "digits-mlp", "--epochs", v, "-o", &out], &says));
        cases.push(case(&["slimmable", "--preset", "digits-mlp", "--max-steps", v, "-o", &out], &says));
        cases.push(with(report(&["--preset", "digits-mlp", "--hypernet", net, "--epochs", v]), &says));
        cases.push(with(report(&["--preset", "digits-mlp", "--hypernet", net, "--limit", v]), &says));
    }
    // Widths: zero and huge are refused by the parser, the rest by the family's range.
    for (v, says) in [
        ("0", "'0'"),
        ("1", "valid widths are 2..=32"),
        ("33", "valid widths are 2..=32"),
        ("70000", "'70000'"),
        ("-4", "'-4'"),
        ("NaN", "'NaN'"),
    ] {
        cases.push(case(&["base", "--preset", "digits-mlp", "--h", v, "-o", &out], says));
        cases.push(case(&["slimmable", "--preset", "digits-mlp", "--h-min", v, "-o", &out], says));
    }
    let flags = [
        ("--seed", "-1", "'-1'"),
        ("--seed", "x", "'x'"),
        ("--dtype", "f64", "f64"),
        ("--device", "tpu", "tpu"),
        ("--device", "cuda:x", "ordinal"),
    ];
    for (flag, v, says) in flags {
        cases.push(case(&["fit", "--preset", "digits-mlp", flag, v, "-o", &out], says));
    }
    cases.push(case(&["slimmable", "--preset", "digits-mlp", "--dtype", "f64", "-o", &out], "f64"));
    // Cutting: a width or byte budget, exactly one, that the file can meet.
    let slim_file = repo("models/mnist-mlp-slim.mmh");
    let cut = |extra: &[&str]| -> Vec<String> {
        ["cut", "--from", slim_file.as_str(), "-o", &out].iter().chain(extra).map(|s| s.to_string()).collect()
    };
    for v in ["0", "-1", "70000", "NaN", "1.5", "x"] {
        cases.push(with(cut(&["--h", v]), &format!("'{v}'")));
    }
    for v in ["0", "-1", "99999999999999999999999", "x"] {
        cases.push(with(cut(&["--max-bytes", v]), &format!("'{v}'")));
    }
    cases.push(with(cut(&["--h", "257"]), "outside the file's trained widths [64, 256]"));
    cases.push(with(cut(&["--h", "32"]), "outside the file's trained widths [64, 256]"));
    cases.push(with(cut(&["--max-bytes", "100"]), "not even the narrowest member"));
    cases.push(with(cut(&[]), "required arguments were not provided"));
    cases.push(with(cut(&["--h", "64", "--max-bytes", "100000"]), "cannot be used with"));
    cases.push(with(cut(&["--h", "64", "--dtype", "f64"]), "f64"));
    cases.push(case(&["permute", "-i", &base, "-o", &out, "--seed", "-1"], "'-1'"));

    // Numbers and data in a preset: counts of zero, negative or huge; rates negative, NaN or
    // infinite; fractions out of range; a training range outside the family; an unknown data set
    // and a data set of the wrong image size.
    let presets = [
        ("/base/epochs", "0", "base epochs"),
        ("/base/batch", "0", "base epochs and batch"),
        ("/fit/steps", "0", "fit steps"),
        ("/fit/batch", "0", "fit steps and batch"),
        ("/fit/batch", "-1", "parsing preset"),
        ("/fit/batch", "1e30", "parsing preset"),
        ("/fit/steps", "18446744073709551616", "parsing preset"),
        ("/base/lr", "-0.01", "base lr"),
        ("/base/lr", "1e400", "parsing preset"),
        ("/base/lr", "\"NaN\"", "parsing preset"),
        ("/fit/lr", "0", "fit lr"),
        ("/fit/sigma", "-1", "sigma"),
        ("/fit/warmup", "1.5", "warmup"),
        ("/fit/distill", "-1", "distill"),
        ("/fit/self_distill", "-0.5", "self_distill"),
        ("/fit/sandwich", "1000", "sandwich"),
        ("/fit/sandwich", "-1", "parsing preset"),
        ("/fit/int8_aware", "1", "parsing preset"),
        ("/train_h", "[0, 32]", "train_h"),
        ("/train_h", "[20, 10]", "train_h"),
        ("/train_h", "[10, 64]", "train_h"),
        ("/inr/hidden", "0", "INR"),
        ("/arch/h_max", "0", "h_min"),
        ("/dataset", "\"nope\"", "unknown data set"),
        ("/dataset", "\"mnist\"", "[1, 28, 28]"),
    ];
    for (i, (at, value, says)) in presets.into_iter().enumerate() {
        let preset = preset_with(f, &format!("preset-{i}.json"), at, value);
        cases.push(case(&["fit", "--preset", &preset, "-o", &out, "--quiet"], says));
        cases.push(case(&["base", "--preset", &preset, "-o", &out, "--quiet"], says));
    }

    // Output paths: a missing folder, an unwritable one, a folder, for every file written; and
    // failed runs over an existing file, which the runner checks is left untouched.
    let dir = f.dir.path().to_string_lossy().into_owned();
    let places = [
        (f.no_folder.as_str(), "does not exist"),
        (f.proc_missing.as_str(), "/proc/x"),
        (f.unwritable.as_str(), "not writable"),
        (dir.as_str(), "is a folder"),
    ];
    for (o, says) in places {
        cases.push(case(&["fit", "--preset", "digits-mlp", "-o", o], says));
        cases.push(case(&["fit", "--preset", "digits-mlp", "-o", &out, "--checkpoint", o], says));
        cases.push(case(&["fit", "--preset", "digits-mlp", "-o", &out, "--save-base", o], says));
        cases.push(case(&["base", "--preset", "digits-mlp", "-o", o], says));
        cases.push(case(&["slimmable", "--preset", "digits-mlp", "-o", o], says));
        cases.push(case(&["permute", "-i", &base, "-o", o], says));
        cases.push(case(&["cut", "--from", &repo("models/mnist-mlp-slim.mmh"), "--h", "64", "-o", o], says));
    }
    let report_to = |out_dir: &str, cache: &str| {
        let args = ["report", "--preset", "digits-mlp", "--hypernet", net, "--out-dir", out_dir, "--cache", cache];
        case(&args, if out_dir == "/proc/x" { out_dir } else { cache })
    };
    cases.push(report_to("/proc/x", &cache));
    cases.push(report_to(&out_dir, "/proc/x/cache"));
    let existing = f.existing.as_str();
    cases.push(case(&["fit", "--preset", &truncated_json, "-o", existing], "truncated.json"));
    cases.push(case(&["fit", "--preset", "digits-mlp", "--base", &f.png, "-o", existing], &f.png));
    cases.push(case(&["base", "--preset", "digits-mlp", "--h", "99", "-o", existing], "99"));
    cases.push(case(&["slimmable", "--preset", "digits-mlp", "--h-min", "1", "-o", existing], "--h-min 1"));
    cases.push(case(&["permute", "-i", &f.hypernet, "-o", existing], &f.hypernet));
    cases.push(case(&["cut", "--from", &f.hypernet, "--h", "8", "-o", existing], "only a slimmable file"));
    cases
}

#[test]
fn every_bad_input_is_refused_before_training_with_one_clear_message() {
    let f = Files::new();
    let n = run_matrix(Path::new(BIN), f.dir.path(), &cases(&f));
    assert!(n >= 200, "the matrix shrank to {n} cases");
}
