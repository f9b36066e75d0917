//! The Python `onnx` checker as a test oracle, shared by the host's and the CLI's tests
//! (included with `#[path]`). Needs `METAMORPH_PYTHON`, a Python with the `onnx` package, as
//! `scripts/test.sh` sets it; a missing one fails the test.

use std::path::Path;
use std::process::Command;

/// Runs the `onnx` checker (full check) and strict shape inference on the model at `path`.
pub fn onnx_check(path: &Path) {
    let python = std::env::var("METAMORPH_PYTHON")
        .expect("METAMORPH_PYTHON is not set: point it at a Python with the `onnx` package (scripts/test.sh sets it)");
    let out = Command::new(&python)
        .args([
            "-c",
            "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); \
             onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        out.status.success(),
        "onnx checker rejected {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
