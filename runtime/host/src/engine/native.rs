//! The native engine: the runtime core's executor on owned buffers.

use super::{check_input, Engine, Source};
use anyhow::{bail, Context, Result};
use metamorph::exec;
use metamorph::spec::ArchSpec;

/// Runs a member with [`exec::run`], straight from its parameters.
#[derive(Debug, Clone)]
pub struct NativeEngine {
    arch: ArchSpec,
    h: usize,
    params: Vec<f32>,
    scratch: Vec<f32>,
}

impl Engine for NativeEngine {
    fn load(source: &Source<'_>) -> Result<Self> {
        let Source::Params { arch, h, params } = *source else {
            bail!("the native engine runs materialised parameters, not ONNX bytes");
        };
        let costs = arch.costs(h).with_context(|| format!("{} at h = {h}", arch.name))?;
        if params.len() != costs.params {
            bail!("{} at h = {h} has {} parameters, got {}", arch.name, costs.params, params.len());
        }
        Ok(NativeEngine { arch: arch.clone(), h, params: params.to_vec(), scratch: Vec::new() })
    }

    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        check_input("native", input, batch, self.arch.input_shape().len())?;
        let need = exec::scratch_len(&self.arch, self.h, batch)?;
        if self.scratch.len() < need {
            self.scratch.resize(need, 0.0);
        }
        let y = exec::run(&self.arch, self.h, &self.params, input, batch, &mut self.scratch)
            .with_context(|| format!("native: running {} at h = {}", self.arch.name, self.h))?;
        Ok(y.to_vec())
    }

    fn describe(&self) -> String {
        format!("native executor: {} at h = {} ({} parameters)", self.arch.name, self.h, self.params.len())
    }
}
