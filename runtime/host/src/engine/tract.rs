//! The tract engine: ONNX bytes → optimised tract plan, symbolic batch kept.

use super::{check_input, Engine, Source};
use anyhow::{anyhow, bail, Context, Result};
use tract_onnx::prelude::*;

/// Runs an ONNX model with tract.
#[derive(Debug, Clone)]
pub struct TractEngine {
    plan: std::sync::Arc<TypedRunnableModel>,
    /// `[C, H, W]` of one sample.
    sample: [usize; 3],
    nodes: usize,
    /// Whether tract's optimiser succeeded (else the plan is the typed model as loaded).
    optimised: bool,
}

impl Engine for TractEngine {
    fn load(source: &Source<'_>) -> Result<Self> {
        let Source::Onnx(bytes) = *source else {
            bail!("the tract engine loads ONNX bytes, not parameters");
        };
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(|e| anyhow!("{e:?}"))
            .context("tract: reading the ONNX model")?;
        let typed = model.into_typed().map_err(|e| anyhow!("{e:?}")).context("tract: typing the model")?;
        let fact = typed.input_fact(0).map_err(|e| anyhow!("{e:?}")).context("tract: model has no input")?;
        let dims: Vec<Option<i64>> = fact.shape.iter().map(|d| d.to_i64().ok()).collect();
        let sample = match dims[..] {
            [_, Some(c), Some(h), Some(w)] => [c as usize, h as usize, w as usize],
            _ => bail!("tract: input shape {:?} is not [N, C, H, W] with known C, H, W", fact.shape),
        };
        // tract's optimiser fails on some valid graphs (a strided 1×1 convolution after another
        // 1×1 one: "Invalid axis" while moving a Downsample); its unoptimised plan still runs them.
        let (model, optimised) = match typed.clone().into_optimized() {
            Ok(optimised) => (optimised, true),
            Err(_) => (typed, false),
        };
        let nodes = model.nodes().len();
        let plan = model.into_runnable().map_err(|e| anyhow!("{e:?}")).context("tract: planning")?;
        Ok(TractEngine { plan, sample, nodes, optimised })
    }

    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        let [c, h, w] = self.sample;
        check_input("tract", input, batch, c * h * w)?;
        let x = Tensor::from_shape(&[batch, c, h, w], input).map_err(|e| anyhow!("{e:?}"))?;
        let out = self.plan.run(tvec!(x.into())).map_err(|e| anyhow!("{e:?}")).context("tract: running")?;
        let y = out.first().context("tract: model produced no output")?;
        let view = y.try_as_plain_ram().map_err(|e| anyhow!("{e:?}"))?;
        Ok(view.as_slice::<f32>().map_err(|e| anyhow!("{e:?}"))?.to_vec())
    }

    fn describe(&self) -> String {
        let [c, h, w] = self.sample;
        let kind = if self.optimised { "optimised" } else { "unoptimised (the optimiser failed)" };
        format!("tract: {kind} plan of {} nodes, input [N, {c}, {h}, {w}]", self.nodes)
    }
}
