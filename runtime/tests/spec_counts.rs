//! Shapes, parameter counts, MACs and activation sizes against hand-computed values.

use metamorph::spec::{families, ArchSpec, Dim, Layer, ParamKind, Query, Shape};
use metamorph::Error;

/// `[2, 6, 6]` → conv3×3 2→h → relu → (save, conv3×3 h→h, relu, add) → GAP → dense h→3.
fn residual() -> ArchSpec {
    let conv = |out| Layer::Conv2d { out, kernel: 3, stride: 1, pad: 1 };
    ArchSpec::new(
        "res",
        [2, 6, 6],
        16,
        1,
        &[
            conv(Dim::Width(1)),
            Layer::Relu,
            Layer::Save,
            conv(Dim::Width(1)),
            Layer::Relu,
            Layer::AddScaled,
            Layer::GlobalAvgPool,
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(3) },
        ],
    )
    .unwrap()
}

fn shapes(arch: &ArchSpec, h: usize) -> Vec<Shape> {
    arch.walk(h).map(|(_, _, out)| out).collect()
}

fn param_shapes(arch: &ArchSpec, h: usize) -> Vec<(usize, ParamKind, [usize; 4], Option<Query>)> {
    arch.params(h).map(|p| (p.layer, p.kind, p.shape, p.morph.map(|m| m.query))).collect()
}

#[test]
fn mlp_counts_match_hand_computation() {
    let arch = families::mlp("mlp", [1, 28, 28], 10, 256, 8).unwrap();
    for h in [8, 37, 100, 256] {
        let c = arch.costs(h).unwrap();
        assert_eq!(c.params, 784 * h + h + h * h + h + 10 * h + 10, "h={h}");
        assert_eq!(c.weight_bytes, 4 * c.params);
        assert_eq!(c.macs, 784 * h + h * h + 10 * h, "h={h}");
        // Two ping-pong buffers of the largest activation (the 784-element input), no residual slot.
        assert_eq!(c.activation_elems, 2 * 784);
        assert_eq!(c.activation_bytes, 4 * 2 * 784);
        assert_eq!(arch.output_shape(h).unwrap(), Shape::Flat(10));
    }
    assert_eq!(
        shapes(&arch, 20),
        [Shape::Flat(784), Shape::Flat(20), Shape::Flat(20), Shape::Flat(20), Shape::Flat(20), Shape::Flat(10)]
    );
    let w = ParamKind::Weight;
    let b = ParamKind::Bias;
    assert_eq!(
        param_shapes(&arch, 20),
        [
            (1, w, [20, 784, 1, 1], Some(Query::Row)),
            (1, b, [20, 1, 1, 1], Some(Query::Pair)),
            (3, w, [20, 20, 1, 1], Some(Query::Pair)),
            (3, b, [20, 1, 1, 1], Some(Query::Pair)),
            (5, w, [10, 20, 1, 1], Some(Query::Pair)),
            (5, b, [10, 1, 1, 1], None),
        ]
    );
    assert_eq!(arch.morphed_count(), 5);
    assert_eq!(arch.frozen_count(), 1);
}

#[test]
fn lenet_counts_match_hand_computation() {
    let arch = families::mnist_lenet();
    for h in [2, 10, 32] {
        let c = arch.costs(h).unwrap();
        // conv1 9h + h, conv2 50h² + 2h, conv3 200h² + 4h, dense 40h + 10.
        assert_eq!(c.params, 250 * h * h + 56 * h + 10, "h={h}");
        // conv1 h·28²·9, conv2 2h·14²·25h, conv3 4h·7²·50h, dense 40h.
        assert_eq!(c.macs, 7056 * h + 9800 * h * h + 9800 * h * h + 40 * h, "h={h}");
        // Largest activation: conv1's output h·28·28.
        assert_eq!(c.activation_elems, 2 * 784 * h);
    }
    let h = 4;
    assert_eq!(
        shapes(&arch, h),
        [
            Shape::Image(4, 28, 28),
            Shape::Image(4, 28, 28),
            Shape::Image(4, 14, 14),
            Shape::Image(8, 14, 14),
            Shape::Image(8, 14, 14),
            Shape::Image(8, 7, 7),
            Shape::Image(16, 7, 7),
            Shape::Image(16, 7, 7),
            Shape::Image(16, 1, 1),
            Shape::Flat(16),
            Shape::Flat(10),
        ]
    );
    let (w, b) = (ParamKind::Weight, ParamKind::Bias);
    assert_eq!(
        param_shapes(&arch, h),
        [
            (0, w, [4, 1, 3, 3], Some(Query::Row)),
            (0, b, [4, 1, 1, 1], Some(Query::Pair)),
            (3, w, [8, 4, 5, 5], Some(Query::Pair)),
            (3, b, [8, 1, 1, 1], Some(Query::Pair)),
            (6, w, [16, 8, 5, 5], Some(Query::Pair)),
            (6, b, [16, 1, 1, 1], Some(Query::Pair)),
            (10, w, [10, 16, 1, 1], Some(Query::Pair)),
            (10, b, [10, 1, 1, 1], None),
        ]
    );
    // Offsets are the running sum of lengths.
    let mut offset = 0;
    for p in arch.params(h) {
        assert_eq!(p.offset, offset);
        offset += p.len();
    }
    assert_eq!(offset, arch.costs(h).unwrap().params);
}

#[test]
fn residual_counts_match_hand_computation() {
    let arch = residual();
    for h in [1, 2, 5, 16] {
        let c = arch.costs(h).unwrap();
        // conv1 18h + h, conv2 9h² + h, scale 1, dense 3h + 3.
        assert_eq!(c.params, 9 * h * h + 23 * h + 4, "h={h}");
        // conv1 h·36·18, conv2 h·36·9h, branch scale h·36, dense 3h.
        assert_eq!(c.macs, 648 * h + 324 * h * h + 36 * h + 3 * h, "h={h}");
        // Ping-pong of max(input 72, 36h) plus one residual slot of 36h.
        assert_eq!(c.activation_elems, 2 * (36 * h).max(72) + 36 * h, "h={h}");
        assert_eq!(arch.saved_slots(h), [36 * h, 0, 0, 0]);
    }
    let scales: Vec<_> = arch.params(3).filter(|p| p.kind == ParamKind::Scale).collect();
    assert_eq!(scales.len(), 1);
    assert_eq!((scales[0].layer, scales[0].shape, scales[0].morph), (5, [1, 1, 1, 1], None));
}

#[test]
fn strided_conv_and_pool_shapes() {
    let arch = ArchSpec::new(
        "s",
        [3, 11, 9],
        4,
        1,
        &[
            Layer::Conv2d { out: Dim::Width(2), kernel: 3, stride: 2, pad: 1 },
            Layer::AvgPool { kernel: 2, stride: 1 },
            Layer::MaxPool { kernel: 3, stride: 2 },
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(2) },
        ],
    )
    .unwrap();
    // (11 + 2 − 3) / 2 + 1 = 6, (9 + 2 − 3) / 2 + 1 = 5; avg 2/1 → 5×4; max 3/2 → 2×1.
    assert_eq!(
        shapes(&arch, 3),
        [Shape::Image(6, 6, 5), Shape::Image(6, 5, 4), Shape::Image(6, 2, 1), Shape::Flat(12), Shape::Flat(2)]
    );
    assert_eq!(arch.costs(3).unwrap().macs, 6 * 30 * 27 + 12 * 2);
}

#[test]
fn base_width_rounds_and_clamps() {
    let arch = families::mlp("mlp", [1, 28, 28], 10, 256, 8).unwrap();
    assert_eq!(arch.base_width(1.0), 256);
    assert_eq!(arch.base_width(0.5), 128);
    assert_eq!(arch.base_width(0.001), 8);
    assert_eq!(arch.base_width(2.0), 256);
    assert_eq!(arch.check_h(7), Err(Error::BadWidth));
    assert_eq!(arch.check_h(257), Err(Error::BadWidth));
    assert!(arch.check_h(8).is_ok());
}

#[test]
fn bad_specs_are_errors() {
    let dense = Layer::Dense { out: Dim::Fixed(2) };
    let conv = |out, kernel, pad| Layer::Conv2d { out, kernel, stride: 1, pad };
    type Case = (&'static str, [u16; 3], u16, u16, Vec<Layer>);
    let cases: &[Case] = &[
        ("dense on image", [1, 4, 4], 4, 1, vec![dense]),
        ("kernel too large", [1, 4, 4], 4, 1, vec![conv(Dim::Width(1), 7, 1), Layer::Flatten, dense]),
        ("zero stride", [1, 4, 4], 4, 1, vec![Layer::MaxPool { kernel: 2, stride: 0 }, Layer::Flatten, dense]),
        ("zero kernel", [1, 4, 4], 4, 1, vec![conv(Dim::Width(1), 0, 0), Layer::Flatten, dense]),
        ("save without add", [1, 4, 4], 4, 1, vec![Layer::Save, Layer::Flatten, dense]),
        ("add without save", [1, 4, 4], 4, 1, vec![Layer::AddScaled, Layer::Flatten, dense]),
        (
            "residual shape mismatch",
            [1, 4, 4],
            4,
            1,
            vec![Layer::Save, conv(Dim::Width(1), 3, 1), Layer::AddScaled, Layer::Flatten, dense],
        ),
        ("image output", [1, 4, 4], 4, 1, vec![conv(Dim::Width(1), 3, 1)]),
        ("h_min > h_max", [1, 4, 4], 4, 5, vec![Layer::Flatten, dense]),
        ("h_min = 0", [1, 4, 4], 4, 0, vec![Layer::Flatten, dense]),
        ("zero input", [1, 0, 4], 4, 1, vec![Layer::Flatten, dense]),
        ("zero width", [1, 4, 4], 4, 1, vec![Layer::Flatten, Layer::Dense { out: Dim::Width(0) }, dense]),
        ("spatial on flat", [1, 4, 4], 4, 1, vec![Layer::Flatten, Layer::GlobalAvgPool, dense]),
        ("too many layers", [1, 4, 4], 4, 1, [Layer::Relu; 40].into_iter().chain([Layer::Flatten, dense]).collect()),
        (
            "nesting too deep",
            [1, 4, 4],
            4,
            1,
            [Layer::Save; 5].into_iter().chain([Layer::AddScaled; 5]).chain([Layer::Flatten, dense]).collect(),
        ),
    ];
    for (what, input, h_max, h_min, layers) in cases {
        let r = ArchSpec::new(what, *input, *h_max, *h_min, layers);
        assert!(matches!(r, Err(Error::BadSpec(_))), "{what}: {r:?}");
    }
    assert!(matches!(ArchSpec::new(&"x".repeat(33), [1, 1, 1], 1, 1, &[Layer::Flatten]), Err(Error::BadSpec(_))));
}

#[test]
fn huge_specs_overflow_into_errors_not_panics() {
    // 65535 channels of 65535² pixels, times 65535 in a dense layer: every count overflows u64.
    let r = ArchSpec::new(
        "huge",
        [u16::MAX; 3],
        u16::MAX,
        1,
        &[
            Layer::Conv2d { out: Dim::Width(u16::MAX), kernel: 1, stride: 1, pad: 255 },
            Layer::Flatten,
            Layer::Dense { out: Dim::Width(u16::MAX) },
        ],
    );
    assert!(matches!(r, Err(Error::Overflow | Error::BadSpec(_))), "{r:?}");
}
