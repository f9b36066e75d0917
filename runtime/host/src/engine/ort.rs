//! The ONNX Runtime engine: the shared library is loaded at run time from `ORT_DYLIB_PATH`.

use super::{check_input, Engine, Source};
use anyhow::{anyhow, bail, Context, Result};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::{TensorRef, ValueType};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Runs an ONNX model with ONNX Runtime.
#[derive(Debug)]
pub struct OrtEngine {
    session: Session,
    sample: [usize; 3],
}

static ENV: OnceLock<std::result::Result<(Environment, PathBuf), String>> = OnceLock::new();

/// The process's one ONNX Runtime environment, created on first use from the library named
/// by `ORT_DYLIB_PATH`. Errors (every time) if the variable is unset, the file is missing or
/// the library cannot be loaded. Returns the environment and the library path.
pub fn ort_environment() -> Result<&'static (Environment, PathBuf)> {
    ENV.get_or_init(|| {
        let path = std::env::var_os("ORT_DYLIB_PATH")
            .ok_or("ORT_DYLIB_PATH is not set: point it at libonnxruntime.so (e.g. from `pip install onnxruntime`)")?;
        let path = PathBuf::from(path);
        // ort panics rather than erroring on some missing-library paths: check first.
        if !path.is_file() {
            return Err(format!("ORT_DYLIB_PATH = {} is not a file", path.display()));
        }
        let env = ort::init_from(&path)
            .map_err(|e| format!("loading ONNX Runtime from {}: {e}", path.display()))?
            .with_name("metamorph")
            .build()
            .map_err(|e| format!("creating the ONNX Runtime environment: {e}"))?;
        Ok((env, path))
    })
    .as_ref()
    .map_err(|e| anyhow!("ort: {e}"))
}

impl Engine for OrtEngine {
    fn load(source: &Source<'_>) -> Result<Self> {
        let Source::Onnx(bytes) = *source else {
            bail!("the ort engine loads ONNX bytes, not parameters");
        };
        let (env, _) = ort_environment()?;
        let session = Session::builder(env)
            .map_err(|e| anyhow!("{e}"))
            .and_then(|mut b| b.commit_from_memory(bytes).map_err(|e| anyhow!("{e}")))
            .context("ort: creating a session from the ONNX model")?;
        let input = session.inputs().first().context("ort: model has no input")?;
        let sample = match input.dtype() {
            ValueType::Tensor { shape, .. } => match shape[..] {
                [_, c, h, w] if c > 0 && h > 0 && w > 0 => [c as usize, h as usize, w as usize],
                _ => bail!("ort: input shape {shape:?} is not [N, C, H, W] with known C, H, W"),
            },
            other => bail!("ort: input is not a tensor but {other:?}"),
        };
        Ok(OrtEngine { session, sample })
    }

    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        let [c, h, w] = self.sample;
        check_input("ort", input, batch, c * h * w)?;
        let x = TensorRef::from_array_view(([batch, c, h, w], input)).map_err(|e| anyhow!("ort: input tensor: {e}"))?;
        let out = self.session.run(ort::inputs![x]).map_err(|e| anyhow!("ort: running: {e}"))?;
        let (_, y) = out[0].try_extract_tensor::<f32>().map_err(|e| anyhow!("ort: reading logits: {e}"))?;
        Ok(y.to_vec())
    }

    fn describe(&self) -> String {
        let [c, h, w] = self.sample;
        let lib = ENV.get().and_then(|e| e.as_ref().ok()).map(|(_, p)| p.display().to_string()).unwrap_or_default();
        format!("ONNX Runtime ({lib}): input [N, {c}, {h}, {w}]")
    }
}
