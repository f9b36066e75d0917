//! The bad-input matrix of `metamorph`: every file argument missing, empty, truncated or foreign;
//! every number zero, negative, huge, NaN, infinite or not a number; broken test sets; and
//! output paths that cannot be written or that hold an earlier result. The contract each case
//! must keep is in `support/bad_input.rs`. Writing over an existing file on success is the
//! documented behaviour (atomic replace); `a_good_run_replaces_an_existing_output_atomically`
//! pins it.

#[path = "../../host/tests/support/bad_input.rs"]
mod bad_input;
use bad_input::{case, run_matrix, Case, Files};
use std::io::Write;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_metamorph");

fn repo_data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name).to_string_lossy().into_owned()
}

/// Writes a gzip IDX file: `magic` (type byte and dimension count), big-endian `dims`, `data`.
fn idx(path: &Path, kind: u8, dims: &[u32], data: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(&[0, 0, kind, dims.len() as u8]).unwrap();
    for d in dims {
        e.write_all(&d.to_be_bytes()).unwrap();
    }
    e.write_all(data).unwrap();
    e.finish().unwrap();
}

/// Test-set folders that are broken in one way each, with the text their error must contain.
fn broken_data(f: &Files) -> Vec<(String, &'static str)> {
    let make = |name: &str, images: &dyn Fn(&Path), labels: &dyn Fn(&Path)| {
        let dir = f.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        images(&dir.join("t10k-images-idx3-ubyte.gz"));
        labels(&dir.join("t10k-labels-idx1-ubyte.gz"));
        dir.to_string_lossy().into_owned()
    };
    let good_images = |p: &Path| idx(p, 0x08, &[4, 28, 28], &[7; 4 * 28 * 28]);
    let good_labels = |p: &Path| idx(p, 0x08, &[4], &[1, 2, 3, 4]);
    let nan = f32::NAN.to_be_bytes().repeat(4 * 28 * 28);
    vec![
        (f.path("no-such-data"), "no-such-data"),
        // A hypernet where the images are expected.
        (make("hypernet-as-images", &|p| drop(std::fs::copy(&f.hypernet, p)), &good_labels), "gzip"),
        // f32 pixels (IDX type 0x0D), all NaN: a dtype the reader refuses, so no NaN reaches a net.
        (make("nan-f32-pixels", &|p| idx(p, 0x0D, &[4, 28, 28], &nan), &good_labels), "bad IDX magic"),
        (make("truncated-images", &|p| idx(p, 0x08, &[4, 28, 28], &[7; 100]), &good_labels), "truncated"),
        (make("flat-images", &|p| idx(p, 0x08, &[4, 784], &[7; 4 * 784]), &good_labels), "dimensions"),
        (make("label-out-of-range", &good_images, &|p| idx(p, 0x08, &[4], &[1, 2, 3, 99])), "out of range"),
        (make("fewer-labels", &good_images, &|p| idx(p, 0x08, &[3], &[1, 2, 3])), "labels"),
        (make("wrong-image-size", &|p| idx(p, 0x08, &[4, 8, 8], &[7; 256]), &good_labels), "8×8"),
        (make("empty-images", &|p| std::fs::write(p, b"").unwrap(), &good_labels), "empty-images"),
    ]
}

fn cases(f: &Files) -> Vec<Case> {
    let (net, out) = (f.hypernet.as_str(), f.path("out.onnx"));
    let mnist = repo_data("mnist");
    let mut cases = Vec::new();

    // Files: each hypernet argument, each kind of bad file.
    let bad_files = [&f.missing, &f.empty, &f.truncated, &f.png, &f.onnx, &f.text];
    for file in bad_files {
        let commands: [Vec<&str>; 6] = [
            vec!["inspect", file],
            vec!["plan", file, "--max-bytes", "1000000"],
            vec!["materialise", file, "--width", "1", "-o", &out],
            vec!["eval", file, "--data", &mnist, "--width", "1"],
            vec!["bench", file],
            vec!["demo", "--model", file],
        ];
        for args in commands {
            cases.push(case(&args, file));
        }
    }

    // Test sets.
    for (dir, says) in broken_data(f) {
        cases.push(case(&["eval", net, "--data", &dir, "--width", "1"], says));
        cases.push(case(&["demo", "--model", net, "--data", &dir], says));
    }
    cases.push(case(&["eval", net, "--data", &repo_data("digits"), "--width", "1"], "[1, 28, 28]"));
    cases.push(case(&["eval", net, "--data", &mnist, "--width", "1", "--limit", "0"], "empty"));

    // Numbers. Widths: zero, negative (as a separate word clap reads it as a flag), huge, NaN,
    // infinite, above 1, below the family's narrowest, not a number.
    let widths = [
        ("0", "--width"),
        ("-1", "'-1'"),
        ("=-1", "--width"),
        ("1e39", "--width"),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("2", "--width"),
        ("0.001", "smallest"),
        ("abc", "abc"),
        ("", "--width"),
    ];
    for (w, says) in widths {
        let flag = |cmd: &mut Vec<String>| match w.strip_prefix('=') {
            Some(v) => cmd.push(format!("--width={v}")),
            None => cmd.extend(["--width".to_string(), w.to_string()]),
        };
        for base in [vec!["materialise", net, "-o", &out], vec!["eval", net, "--data", &mnist], vec!["bench", net]] {
            if base[0] == "bench" && w == "0.001" {
                continue; // bench measures any width it can round to a member
            }
            let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
            flag(&mut args);
            cases.push(Case { args, says: says.to_string() });
        }
    }
    // Budgets: nothing fits at zero; negative, huge, NaN and text are refused by the parser.
    for flag in ["--max-bytes", "--max-ram", "--max-macs"] {
        for (v, says) in
            [("0", "fits"), ("-5", "'-5'"), ("99999999999999999999999", "too large"), ("NaN", "NaN"), ("x", "'x'")]
        {
            cases.push(case(&["plan", net, flag, v], says));
        }
        cases.push(case(&["materialise", net, flag, "0", "-o", &out], "fits"));
    }
    for (v, says) in
        [("0", "--latency-ms"), ("=-1", "--latency-ms"), ("NaN", "--latency-ms"), ("inf", "--latency-ms"), ("x", "'x'")]
    {
        let arg = match v.strip_prefix('=') {
            Some(v) => vec![format!("--latency-ms={v}")],
            None => vec!["--latency-ms".into(), v.into()],
        };
        let mut args = vec!["plan".to_string(), net.to_string()];
        args.extend(arg);
        cases.push(Case { args, says: says.into() });
    }
    for v in ["0", "NaN", "-inf"] {
        cases.push(case(&["plan", net, "--latency-ms", "1", &format!("--macs-per-second={v}")], "--macs-per-second"));
    }
    cases.push(case(&["materialise", net, "-o", &out], "--width"));
    cases.push(case(&["materialise", net, "--width", "1", "--max-bytes", "1", "-o", &out], "not both"));
    // Counts: samples, batch, repetitions, limit, seed.
    for v in ["0", "-1", "100000", "4294967296", "x"] {
        let says = if v == "-1" { "'-1'".to_string() } else { format!("'{v}'") };
        cases.push(case(&["materialise", net, "--width", "1", "--samples", v, "-o", &out], &says));
        cases.push(case(&["eval", net, "--data", &mnist, "--width", "1", "--samples", v], &says));
        cases.push(case(&["eval", net, "--data", &mnist, "--width", "1", "--batch", v], &says));
        cases.push(case(&["demo", "--model", net, "--batch", v], &says));
        cases.push(case(&["bench", net, "--batch", v], &says));
        cases.push(case(&["bench", net, "--reps", v], &says));
    }
    for v in ["-1", "x", "99999999999999999999999"] {
        cases.push(case(&["eval", net, "--data", &mnist, "--width", "1", "--limit", v], &format!("'{v}'")));
        cases.push(case(
            &["materialise", net, "--width", "1", "--samples", "2", "--seed", v, "-o", &out],
            &format!("'{v}'"),
        ));
    }
    cases.push(case(&["eval", net, "--data", &mnist, "--width", "1", "--backend", "cuda"], "cuda"));

    // Output paths: missing folder, unwritable folder, a folder, and failed runs over an
    // existing file (which the runner checks is left untouched).
    let dir = f.dir.path().to_string_lossy().into_owned();
    for (o, says) in [
        (f.no_folder.as_str(), "does not exist"),
        (f.proc_missing.as_str(), "/proc/x"),
        (f.unwritable.as_str(), "not writable"),
        (dir.as_str(), "is a folder"),
    ] {
        cases.push(case(&["materialise", net, "--width", "1", "-o", o], says));
    }
    cases.push(case(&["materialise", net, "--width", "0.001", "-o", &f.existing], "smallest"));
    cases.push(case(&["materialise", &f.truncated, "--width", "1", "-o", &f.existing], "truncated"));
    cases.push(case(&["materialise", net, "--max-macs", "1", "-o", &f.existing], "fits"));
    cases
}

#[test]
fn every_bad_input_is_refused_with_one_clear_message() {
    let f = Files::new();
    let n = run_matrix(Path::new(BIN), f.dir.path(), &cases(&f));
    assert!(n >= 150, "the matrix shrank to {n} cases");
}

/// The documented overwrite rule: a run that succeeds replaces an existing output in one rename
/// (the runner above proves that a failed run leaves it alone).
#[test]
fn a_good_run_replaces_an_existing_output_atomically() {
    let f = Files::new();
    let before = std::fs::read(&f.existing).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["materialise", &f.hypernet, "--width", "0.5", "-o", &f.existing])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = std::fs::read(&f.existing).unwrap();
    assert_ne!(after, before);
    assert!(after.len() > 1000, "an ONNX model replaced the file");
    let left: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains(".probe."))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
