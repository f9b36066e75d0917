//! The ONNX writer refuses, with an error, every spec that does not validate, even one built
//! field by field instead of through `ArchSpec::new`. Each case was found by the `onnx` fuzz
//! target; its crashing input is kept in `fuzz/regressions/onnx/`.

use metamorph::spec::{ArchSpec, Layer};
use metamorph_host::onnx::{to_onnx, Provenance};

/// A valid one-layer spec whose fields the cases then break.
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
