//! The host's side of the firmware test: for each RAM budget, the member the firmware picks (the
//! wider of the planner's whole and streamed choices, with the firmware's overheads) and its
//! predictions for the firmware's image fixture, once with the native executor and once with tract.
//!
//! Usage: `mcu-expected HYPERNET FIXTURE_DIR BUDGET…` prints, per backend and budget,
//! `BACKEND step I budget B h H mode whole|streamed pred DIGITS`.

use anyhow::{bail, ensure, Context, Result};
use metamorph::exec::argmax;
use metamorph::plan::{plan, plan_streamed, Budget};
use metamorph_host::engine::Backend;
use metamorph_host::switch::Switcher;
use std::path::Path;

/// Pixels of one fixture image (28 × 28 bytes).
const PIXELS: usize = 28 * 28;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, fixture, budgets @ ..] = &args[..] else {
        bail!("usage: mcu-expected HYPERNET FIXTURE_DIR BUDGET…");
    };
    let budgets: Vec<usize> =
        budgets.iter().map(|b| b.parse().with_context(|| format!("budget {b:?}"))).collect::<Result<_>>()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let raw = std::fs::read(Path::new(fixture).join("images.u8")).with_context(|| format!("reading {fixture}"))?;
    ensure!(raw.len() % PIXELS == 0, "{fixture}/images.u8 is not a whole number of 28 × 28 images");
    // The firmware's (and the host loader's) scaling: bytes / 255.
    let images: Vec<f32> = raw.iter().map(|&p| f32::from(p) / 255.0).collect();
    for backend in [Backend::Native, Backend::Tract] {
        let net = metamorph::format::read(&bytes).with_context(|| format!("decoding {file}"))?;
        let mut switcher = Switcher::new(net, backend);
        for (step, &budget) in budgets.iter().enumerate() {
            let b = Budget { max_ram_bytes: Some(budget), ..Budget::default() };
            // As the firmware: whole counts the materialiser's scratch, streamed also the input
            // image (the scratch is busy while streaming); the wider wins, whole on a tie.
            let scratch = switcher.overhead_bytes();
            let whole = plan(&switcher.net().arch, scratch, &b).map(|p| p.costs.h).ok();
            let streamed = plan_streamed(&switcher.net().arch, scratch + PIXELS * 4, &b).map(|p| p.costs.h).ok();
            let (h, mode) = match (whole, streamed) {
                (Some(w), Some(s)) if s > w => (s, "streamed"),
                (Some(w), _) => (w, "whole"),
                (None, Some(s)) => (s, "streamed"),
                (None, None) => bail!("nothing fits budget {budget}"),
            };
            let active = switcher.build(h)?;
            let mut engine = active.engine;
            let mut pred = String::new();
            for image in images.chunks_exact(PIXELS) {
                let logits = engine.run(image, 1).with_context(|| format!("{backend:?} at budget {budget}"))?;
                pred.push(char::from(b'0' + argmax(&logits) as u8));
            }
            println!("{backend:?} step {step} budget {budget} h {h} mode {mode} pred {pred}");
        }
    }
    Ok(())
}
