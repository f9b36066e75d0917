//! The `metamorph` command end to end: each subcommand's normal use, and bad inputs (missing
//! file, corrupted file, a budget nothing fits, data of the wrong shape) give a non-zero exit
//! and a clear message, never a panic.

use metamorph_cli::sample::{digits_mlp, mnist_mlp, random_hypernet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../host/tests/support/onnx_checker.rs"]
mod onnx_checker;
use onnx_checker::onnx_check;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn metamorph(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_metamorph")).args(args).output().expect("running metamorph");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "metamorph {args:?} panicked:\n{stderr}");
    out
}

fn ok(args: &[&str]) -> String {
    let out = metamorph(args);
    assert!(out.status.success(), "metamorph {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail, and returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = metamorph(args);
    assert!(!out.status.success(), "metamorph {args:?} should have failed");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.trim().is_empty(), "metamorph {args:?} failed without a message");
    stderr
}

struct Fixture {
    _dir: tempfile::TempDir,
    digits: String,
    mnist: String,
    corrupt: String,
    root: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let (arch, inr) = digits_mlp();
    let digits = root.join("digits.mmh");
    std::fs::write(&digits, random_hypernet(arch, inr, "digits", 7).unwrap()).unwrap();
    let (arch, inr) = mnist_mlp();
    let bytes = random_hypernet(arch, inr, "mnist", 8).unwrap();
    let mnist = root.join("mnist.mmh");
    std::fs::write(&mnist, &bytes).unwrap();
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    let corrupt = root.join("corrupt.mmh");
    std::fs::write(&corrupt, &bad).unwrap();
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    Fixture { digits: s(digits), mnist: s(mnist), corrupt: s(corrupt), root, _dir: dir }
}

fn data(name: &str) -> String {
    repo().join("data").join(name).to_string_lossy().into_owned()
}

#[test]
fn help_for_every_subcommand() {
    for sub in ["inspect", "plan", "materialise", "eval", "bench", "demo"] {
        let out = ok(&[sub, "--help"]);
        assert!(out.contains("Usage"), "{sub} --help:\n{out}");
    }
    assert!(ok(&["--help"]).contains("demo"));
    fails(&["no-such-subcommand"]);
}

#[test]
fn inspect() {
    let f = fixture();
    let out = ok(&["inspect", &f.digits]);
    assert!(out.contains("digits-mlp") && out.contains("checksum"), "{out}");
    assert!(fails(&["inspect", "/no/such/file.mmh"]).contains("/no/such/file.mmh"));
    let err = fails(&["inspect", &f.corrupt]);
    assert!(err.contains("corrupt.mmh") && err.contains("CRC"), "{err}");
}

#[test]
fn plan() {
    let f = fixture();
    let out = ok(&["plan", &f.mnist, "--max-bytes", "100000", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["weight_bytes"].as_u64().unwrap() <= 100_000);
    assert_eq!(v["h"], 30); // (785 + 31 + 10) · 30 + 10 floats fit, 31 would not
    let out = ok(&["plan", &f.mnist, "--max-macs", "50000", "--latency-ms", "1"]);
    assert!(out.contains("width"), "{out}");
    let err = fails(&["plan", &f.mnist, "--max-bytes", "10"]);
    assert!(err.contains("fits"), "{err}");
    fails(&["plan", "/no/such/file.mmh", "--max-bytes", "10"]);
    fails(&["plan", &f.corrupt, "--max-bytes", "100000"]);
    fails(&["plan", &f.mnist, "--latency-ms", "-3"]);
}

#[test]
fn materialise() {
    let f = fixture();
    let out_path = f.root.join("m.onnx");
    let o = out_path.to_string_lossy();
    ok(&["materialise", &f.digits, "--width", "0.5", "-o", &o, "--samples", "2"]);
    let bytes = std::fs::read(&out_path).unwrap();
    assert!(bytes.len() > 1000);
    onnx_check(&out_path);
    ok(&["materialise", &f.digits, "--max-bytes", "3000", "-o", &o]);
    // No temporary file is left behind.
    assert_eq!(
        std::fs::read_dir(&f.root)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count(),
        0
    );
    fails(&["materialise", &f.digits, "-o", &o]); // neither width nor budget
    fails(&["materialise", &f.digits, "--width", "0.5", "--max-bytes", "3000", "-o", &o]);
    assert!(fails(&["materialise", &f.digits, "--width", "0.01", "-o", &o]).contains("smallest"));
    assert!(fails(&["materialise", &f.digits, "--max-bytes", "10", "-o", &o]).contains("fits"));
    fails(&["materialise", &f.corrupt, "--width", "1", "-o", &o]);
    fails(&["materialise", &f.digits, "--width", "1", "-o", "/no/such/dir/m.onnx"]);
}

#[test]
fn eval() {
    let f = fixture();
    for backend in ["native", "tract", "ort"] {
        let out =
            ok(&["eval", &f.digits, "--data", &data("digits"), "--width", "1", "--backend", backend, "--limit", "100"]);
        assert!(out.contains("accuracy"), "{out}");
    }
    ok(&["eval", &f.mnist, "--data", &data("mnist"), "--max-macs", "30000", "--limit", "50"]);
    let err = fails(&["eval", &f.mnist, "--data", &data("digits"), "--width", "1"]);
    assert!(err.contains("8×8") && err.contains("[1, 28, 28]"), "{err}");
    assert!(fails(&["eval", &f.digits, "--data", "/no/such/dir", "--width", "1"]).contains("/no/such/dir"));
    fails(&["eval", &f.digits, "--data", &data("digits"), "--width", "1", "--backend", "cuda"]);
    fails(&["eval", &f.digits, "--data", &data("digits"), "--max-bytes", "1"]);
    fails(&["eval", &f.corrupt, "--data", &data("mnist"), "--width", "1"]);
}

#[test]
fn bench_and_demo() {
    let f = fixture();
    let out = ok(&["bench", &f.digits, "--reps", "2"]);
    assert!(out.contains("switch") && out.contains("GFLOP/s") && out.contains("peak RAM"), "{out}");
    let out = ok(&["demo", "--model", &f.mnist, "--batch", "50"]);
    assert!(out.lines().filter(|l| l.contains('%')).count() >= 10, "{out}");
    fails(&["bench", "/no/such/file.mmh"]);
    fails(&["demo", "--model", "/no/such/file.mmh"]);
    let err = fails(&["demo", "--model", &f.digits]); // 8×8 model against 28×28 MNIST
    assert!(err.contains("28×28") && err.contains("[1, 8, 8]"), "{err}");
    fails(&["demo", "--model", &f.mnist, "--data", &data("digits")]);
}

#[test]
fn conv_family_end_to_end() {
    let f = fixture();
    let (arch, inr) = metamorph_cli::sample::mnist_lenet();
    let path = f.root.join("lenet.mmh");
    std::fs::write(&path, random_hypernet(arch, inr, "mnist", 9).unwrap()).unwrap();
    let p = path.to_string_lossy();
    for backend in ["native", "tract", "ort"] {
        ok(&["eval", &p, "--data", &data("mnist"), "--width", "0.5", "--backend", backend, "--limit", "64"]);
    }
    let onnx = f.root.join("lenet.onnx");
    ok(&["materialise", &p, "--max-macs", "200000", "-o", &onnx.to_string_lossy()]);
    onnx_check(&onnx);
}

/// A slimmable hypernet goes through every command that an INR file does.
#[test]
fn slimmable_files_work_in_every_command() {
    let f = fixture();
    let (arch, _) = metamorph_cli::sample::mnist_lenet();
    let mut rng = metamorph::rng::Rng::new(3);
    let full =
        arch.params(arch.h_max as usize).map(|p| (0..p.len()).map(|_| rng.uniform(-0.2, 0.2)).collect()).collect();
    let owned = metamorph::format::OwnedHypernet::slimmable(arch, full, "mnist").unwrap();
    let path = f.root.join("lenet-slim.mmh");
    std::fs::write(&path, owned.to_bytes_as(metamorph::format::DType::I8).unwrap()).unwrap();
    let p = path.to_string_lossy();
    let out = ok(&["inspect", &p]);
    assert!(out.contains("slimmable") && out.contains("I8"), "{out}");
    ok(&["plan", &p, "--max-macs", "200000"]);
    for backend in ["native", "tract", "ort"] {
        ok(&["eval", &p, "--data", &data("mnist"), "--width", "0.5", "--backend", backend, "--limit", "64"]);
    }
    let onnx = f.root.join("lenet-slim.onnx");
    ok(&["materialise", &p, "--width", "0.75", "-o", &onnx.to_string_lossy()]);
    onnx_check(&onnx);
    let err = fails(&["materialise", &p, "--width", "0.75", "--samples", "2", "-o", &onnx.to_string_lossy()]);
    assert!(err.contains("samples"), "{err}");
    let out = ok(&["bench", &p, "--reps", "2"]);
    assert!(out.contains("switch") && !out.contains("GFLOP/s"), "{out}");
    let out = ok(&["demo", "--model", &p, "--batch", "50"]);
    assert!(out.lines().filter(|l| l.contains('%')).count() >= 10, "{out}");
}
