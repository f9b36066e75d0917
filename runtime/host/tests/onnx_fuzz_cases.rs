//! The cases the `onnx` fuzz target found, each with its crashing input kept in
//! `fuzz/regressions/onnx/`: the writer refuses every spec that does not validate, even one built
//! field by field instead of through `ArchSpec::new`, and tract loads and runs every model it
//! writes, with the native executor's logits.

use metamorph::spec::{ArchSpec, Dim, Layer};
use metamorph_host::engine::{Engine, NativeEngine, Source, TractEngine};
use metamorph_host::onnx::{to_model_proto, to_onnx, Provenance};
use std::collections::HashSet;

/// A valid one-layer spec whose fields the cases then set.
fn base() -> ArchSpec {
    ArchSpec::new("fuzz", [1, 1, 1], 1, 1, &[Layer::Flatten]).unwrap()
}

/// `crash-1b8e64ff…`: input `[1, 0, 0]`, `h_min = h_max = 0`, no layers, at `h = 0`. The writer
/// checked only that `h` lay in `[h_min, h_max]` and wrote a model with an empty input.
#[test]
fn zero_widths_and_an_empty_input_are_refused() {
    let mut arch = base();
    arch.input = [1, 0, 0];
    (arch.h_max, arch.h_min) = (0, 0);
    arch.layers.clear();
    let err = to_onnx(&arch, 0, &[], &Provenance::default()).unwrap_err();
    assert!(format!("{err:#}").contains("fuzz: invalid spec"), "{err:#}");
}

/// `crash-c07e8d04…`: `Flatten → Save → AddScaled`. The branch scale's `Mul` node was named
/// `layer2.scale`, like the scale's initializer; tract makes a node of each, and its
/// debug-assertion build refused the model ("duplicate name for node"). Every node and
/// initializer name is now distinct, and tract runs the model with the native executor's logits.
#[test]
fn a_residual_scale_has_distinct_names_and_loads_in_tract() {
    let arch = ArchSpec::new("fuzz", [1, 5, 6], 6, 4, &[Layer::Flatten, Layer::Save, Layer::AddScaled]).unwrap();
    let params = [0.25];
    let model = to_model_proto(&arch, 6, &params, &Provenance::default()).unwrap();
    let graph = model.graph.unwrap();
    let names: Vec<&str> =
        graph.node.iter().map(|n| n.name.as_str()).chain(graph.initializer.iter().map(|t| t.name.as_str())).collect();
    let distinct: HashSet<&str> = names.iter().copied().collect();
    assert_eq!(distinct.len(), names.len(), "node and initializer names {names:?}");

    let bytes = to_onnx(&arch, 6, &params, &Provenance::default()).unwrap();
    let mut tract = TractEngine::load(&Source::Onnx(&bytes)).unwrap();
    let mut native = NativeEngine::load(&Source::Params { arch: &arch, h: 6, params: &params }).unwrap();
    let input: Vec<f32> = (0..30).map(|i| i as f32 / 30.0).collect();
    assert_eq!(tract.run(&input, 1).unwrap(), native.run(&input, 1).unwrap());
}

/// `crash-9260e3f5…`: a 1×1 convolution, then a 1×1 convolution of stride 2. tract's optimiser
/// turns both into matrix products and fails to move the second one's subsampling above the
/// first one's reshape ("declutter … Downsample … Invalid axis"). The engine then runs tract's
/// unoptimised plan, which gives the native logits.
#[test]
fn a_strided_one_by_one_convolution_after_another_runs_in_tract() {
    let conv = |stride| Layer::Conv2d { out: Dim::Fixed(3 - stride as u16), kernel: 1, stride, pad: 0 };
    let arch = ArchSpec::new("fuzz", [3, 6, 6], 7, 3, &[conv(1), conv(2), Layer::Flatten]).unwrap();
    let params: Vec<f32> = (0..arch.costs(4).unwrap().params).map(|i| (i % 7) as f32 / 7.0 - 0.5).collect();
    let bytes = to_onnx(&arch, 4, &params, &Provenance::default()).unwrap();
    let mut tract = TractEngine::load(&Source::Onnx(&bytes)).unwrap();
    let mut native = NativeEngine::load(&Source::Params { arch: &arch, h: 4, params: &params }).unwrap();
    let input: Vec<f32> = (0..216).map(|i| i as f32 / 216.0).collect();
    let (got, want) = (tract.run(&input, 2).unwrap(), native.run(&input, 2).unwrap());
    assert_eq!(got.len(), want.len());
    assert!(tract.describe().contains("unoptimised"), "{}", tract.describe());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5, "tract {got:?} vs native {want:?}");
    }
}
