//! The runner of the bad-input matrices of both commands (`runtime/cli/tests/bad_input.rs` for
//! `metamorph`, `trainer/tests/bad_input.rs` for `metamorph-train`; included with `#[path]`), and
//! the foreign files they share.
//!
//! Every case must: exit with a non-zero code (a signal is a crash), within a deadline far below
//! any training run; print exactly one `error:` line on stderr, naming what the case is about;
//! print no panic and no backtrace although `RUST_BACKTRACE=1` is set; and leave the case folder
//! exactly as it was (no file changed, created or removed, so no temporary or probe file either).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One bad input: the arguments, and a piece of text the error must contain.
pub struct Case {
    /// The command line after the binary's name.
    pub args: Vec<String>,
    /// Text the `error:` line must contain (the flag, file or value at fault).
    pub says: String,
}

/// A case from string-like arguments.
pub fn case(args: &[&str], says: &str) -> Case {
    Case { args: args.iter().map(|a| a.to_string()).collect(), says: says.to_string() }
}

/// Longer than any refusal takes (they read at most a data set), far shorter than any training.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs every case of `cases` with `bin` (its working folder `dir`) and fails listing every case
/// that broke the contract. Returns the number of cases run.
pub fn run_matrix(bin: &Path, dir: &Path, cases: &[Case]) -> usize {
    let mut broken = Vec::new();
    for c in cases {
        if let Err(why) = run_case(bin, dir, c) {
            broken.push(format!("{} {}\n    {why}", bin.display(), c.args.join(" ")));
        }
    }
    assert!(
        broken.is_empty(),
        "{} of {} bad-input cases broke the contract:\n{}",
        broken.len(),
        cases.len(),
        broken.join("\n")
    );
    eprintln!("{} bad-input cases of {} passed", cases.len(), bin.display());
    cases.len()
}

fn run_case(bin: &Path, dir: &Path, c: &Case) -> Result<(), String> {
    let before = snapshot(dir);
    let mut child = Command::new(bin)
        .args(&c.args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {DEADLINE:?}: it started working instead of refusing"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match status.code() {
        None => return Err(format!("killed by a signal ({status}); stderr:\n{stderr}")),
        Some(0) => return Err(format!("exit code 0; stderr:\n{stderr}")),
        Some(_) => {}
    }
    let lower = stderr.to_lowercase();
    if lower.contains("panicked") || lower.contains("backtrace") {
        return Err(format!("panic or backtrace on stderr:\n{stderr}"));
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    if errors.len() != 1 || !stderr.trim_start().starts_with("error:") {
        return Err(format!("want one `error:` line first on stderr, got:\n{stderr}"));
    }
    if !errors[0].contains(&c.says) {
        return Err(format!("the error does not mention {:?}:\n{stderr}", c.says));
    }
    let after = snapshot(dir);
    if after != before {
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| k.display().to_string())
            .collect();
        return Err(format!("files changed, created or removed: {changed:?}"));
    }
    Ok(())
}

/// Every file under `dir` with its bytes (folders as empty entries).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                all.insert(p.clone(), None);
                todo.push(p);
            } else {
                all.insert(p.clone(), Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    all
}

/// Foreign and broken files in a fresh folder, each path as a string for argument lists.
pub struct Files {
    /// The folder (removed on drop).
    pub dir: tempfile::TempDir,
    /// A real hypernet (a copy of `models/mnist-lenet.mmh`).
    pub hypernet: String,
    /// No such file, in an existing folder.
    pub missing: String,
    /// Zero bytes.
    pub empty: String,
    /// The first half of the hypernet.
    pub truncated: String,
    /// A PNG image's first bytes (signature and header chunk).
    pub png: String,
    /// A real ONNX model (the hypernet's narrowest member).
    pub onnx: String,
    /// Text that is neither JSON nor a tensor file.
    pub text: String,
    /// An existing file in the role of an output; the runner checks it is never changed.
    pub existing: String,
    /// A path whose folder does not exist.
    pub no_folder: String,
    /// A path in a folder under `/proc` that does not exist (the example).
    pub proc_missing: String,
    /// A path in an existing folder where no file can be created, even by root (`/proc`).
    pub unwritable: String,
}

impl Files {
    /// Writes the files into a new temporary folder.
    pub fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let repo = std::iter::successors(Some(root), |p| p.parent()).find(|p| p.join("models").is_dir()).unwrap();
        let bytes = std::fs::read(repo.join("models/mnist-lenet.mmh")).unwrap();
        let net = metamorph::format::read(&bytes).unwrap();
        let h = net.arch.h_min as usize;
        let params = metamorph::materialise::Materialiser::new(&net, h, 1, 0).unwrap().to_vec().unwrap();
        let provenance = metamorph_host::onnx::Provenance::of(&net);
        let onnx = metamorph_host::onnx::to_onnx(&net.arch, h, &params, &provenance).unwrap();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x08\0\0\0\x08\x08\0\0\0\0\xba\xf8\x88\x8e".to_vec();
        let write = |name: &str, b: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, b).unwrap();
            p.to_string_lossy().into_owned()
        };
        Files {
            hypernet: write("hypernet.mmh", &bytes),
            missing: dir.path().join("missing.mmh").to_string_lossy().into_owned(),
            empty: write("empty.mmh", &[]),
            truncated: write("truncated.mmh", &bytes[..bytes.len() / 2]),
            png: write("image.png", &png),
            onnx: write("model.onnx", &onnx),
            text: write("notes.txt", b"not a model\n"),
            existing: write("existing.out", b"an earlier result that must survive a failed run\n"),
            no_folder: dir.path().join("no/such/folder/out").to_string_lossy().into_owned(),
            proc_missing: "/proc/x/out".into(),
            unwritable: "/proc/out".into(),
            dir,
        }
    }

    /// A path in the folder, as a string.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}
