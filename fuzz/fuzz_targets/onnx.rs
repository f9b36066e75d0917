//! The ONNX writer and tract on arbitrary small specs and widths. The fuzzer's bytes build a spec
//! of up to 8 layers on an input of at most 3×8×8 and base widths up to 8, a base width and a
//! parameter vector (sometimes of the wrong length, sometimes with a NaN or infinity). The writer
//! must refuse an invalid spec, an out-of-range width and bad parameters with an error; for
//! anything else it must write a model that tract loads and runs, and whose logits match the
//! native executor's. Nothing may panic. Members over 2¹⁴ parameters or 2¹⁶ MACs are skipped so
//! each execution stays cheap.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use metamorph::rng::Rng;
use metamorph::spec::{ArchSpec, Dim, Layer};
use metamorph_host::engine::{Engine, NativeEngine, Source, TractEngine};
use metamorph_host::onnx::{to_onnx, Provenance};

const MAX_PARAMS: usize = 1 << 14;
const MAX_MACS: usize = 1 << 16;

fn dim(u: &mut Unstructured) -> Result<Dim> {
    Ok(if u.arbitrary()? { Dim::Fixed(u.int_in_range(0..=8)?) } else { Dim::Width(u.int_in_range(0..=2)?) })
}

fn layer(u: &mut Unstructured) -> Result<Layer> {
    let window = |u: &mut Unstructured| -> Result<(u8, u8)> { Ok((u.int_in_range(0..=3)?, u.int_in_range(0..=3)?)) };
    Ok(match u.int_in_range(0..=8)? {
        0 => Layer::Dense { out: dim(u)? },
        1 => Layer::Conv2d {
            out: dim(u)?,
            kernel: u.int_in_range(0..=4)?,
            stride: u.int_in_range(0..=3)?,
            pad: u.int_in_range(0..=3)?,
        },
        2 => Layer::Relu,
        3 => {
            let (kernel, stride) = window(u)?;
            Layer::MaxPool { kernel, stride }
        }
        4 => {
            let (kernel, stride) = window(u)?;
            Layer::AvgPool { kernel, stride }
        }
        5 => Layer::GlobalAvgPool,
        6 => Layer::Flatten,
        7 => Layer::Save,
        _ => Layer::AddScaled,
    })
}

/// A spec straight from the bytes, not validated: the writer must check it itself.
fn spec(u: &mut Unstructured) -> Result<ArchSpec> {
    let mut arch = ArchSpec::new("fuzz", [1, 1, 1], 1, 1, &[Layer::Flatten]).expect("a valid spec");
    arch.input = [u.int_in_range(0..=3)?, u.int_in_range(0..=8)?, u.int_in_range(0..=8)?];
    arch.h_max = u.int_in_range(0..=8)?;
    arch.h_min = u.int_in_range(0..=8)?;
    arch.layers.clear();
    for _ in 0..u.int_in_range(0..=8)? {
        let _ = arch.layers.push(layer(u)?);
    }
    Ok(arch)
}

fn check(u: &mut Unstructured) -> Result<()> {
    let arch = spec(u)?;
    let h: usize = u.int_in_range(0..=9)?;
    let Ok(costs) = arch.costs(h) else {
        // No costs: no model, however the rest is chosen.
        assert!(to_onnx(&arch, h, &[], &Provenance::default()).is_err());
        return Ok(());
    };
    if costs.params > MAX_PARAMS || costs.macs > MAX_MACS {
        return Ok(());
    }
    let mut rng = Rng::new(u.arbitrary()?);
    let wrong_len = u.ratio(1, 16)?;
    let len = if wrong_len { costs.params + 1 } else { costs.params };
    let mut params: Vec<f32> = (0..len).map(|_| rng.uniform(-0.5, 0.5)).collect();
    let poisoned = !params.is_empty() && u.ratio(1, 16)?;
    if poisoned {
        let i = u.choose_index(params.len())?;
        params[i] = *u.choose(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY])?;
    }
    let valid = arch.validate().is_ok() && arch.check_h(h).is_ok() && !wrong_len && !poisoned;
    let written = to_onnx(&arch, h, &params, &Provenance::default());
    if !valid {
        assert!(written.is_err(), "the writer accepted an invalid case: {arch:?} at h = {h}");
        return Ok(());
    }
    let bytes = written.unwrap_or_else(|e| panic!("the writer refused a valid spec {arch:?} at h = {h}: {e:#}"));
    let mut tract = TractEngine::load(&Source::Onnx(&bytes))
        .unwrap_or_else(|e| panic!("tract refused the writer's model of {arch:?} at h = {h}: {e:#}"));
    let mut native = NativeEngine::load(&Source::Params { arch: &arch, h, params: &params })
        .unwrap_or_else(|e| panic!("the native engine refused {arch:?} at h = {h}: {e:#}"));
    let batch = u.int_in_range(1..=2)?;
    let input: Vec<f32> = (0..batch * arch.input_shape().len()).map(|_| rng.next_f32()).collect();
    let got = tract.run(&input, batch).unwrap_or_else(|e| panic!("tract failed on {arch:?} at h = {h}: {e:#}"));
    let want = native.run(&input, batch).unwrap_or_else(|e| panic!("native failed on {arch:?} at h = {h}: {e:#}"));
    assert_eq!(got.len(), want.len(), "tract and native logits differ in length on {arch:?} at h = {h}");
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-3 * scale, "tract {got:?} vs native {want:?} on {arch:?} at h = {h}");
    }
    Ok(())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = check(&mut Unstructured::new(data));
});
