//! Every ONNX model the writer emits passes the `onnx` checker and tract's loader, and the
//! native, tract and ONNX Runtime engines agree within 1e-4 on the same input.
//!
//! Needs `METAMORPH_PYTHON` (a Python with the `onnx` package) and `ORT_DYLIB_PATH` (the ONNX
//! Runtime shared library); `scripts/test.sh` sets both. Missing either fails the test.
use metamorph::rng::Rng;
use metamorph::spec::{ArchSpec, Dim, Layer};
use metamorph_host::engine::{Backend, Source};
use metamorph_host::onnx::{to_onnx, Provenance};
use std::path::PathBuf;

#[path = "support/onnx_checker.rs"]
mod onnx_checker;
use onnx_checker::onnx_check;

fn families() -> Vec<ArchSpec> {
    use Layer::*;
    let w = |m| Dim::Width(m);
    let f = |n| Dim::Fixed(n);
    let conv = |out, kernel, stride, pad| Conv2d { out, kernel, stride, pad };
    vec![
        ArchSpec::new(
            "mlp",
            [1, 8, 8],
            12,
            2,
            &[Flatten, Dense { out: w(1) }, Relu, Dense { out: w(1) }, Relu, Dense { out: f(10) }],
        )
        .unwrap(),
        ArchSpec::new(
            "cnn-pools",
            [1, 12, 12],
            6,
            1,
            &[
                conv(w(1), 3, 1, 1),
                Relu,
                MaxPool { kernel: 2, stride: 2 },
                conv(w(2), 3, 2, 1),
                Relu,
                AvgPool { kernel: 2, stride: 1 },
                GlobalAvgPool,
                Flatten,
                Dense { out: f(4) },
            ],
        )
        .unwrap(),
        ArchSpec::new(
            "resnet-ish",
            [2, 10, 10],
            4,
            1,
            &[
                conv(w(2), 3, 1, 1),
                Relu,
                Save,
                conv(w(2), 3, 1, 1),
                Relu,
                Save,
                conv(w(2), 1, 1, 0),
                AddScaled,
                AddScaled,
                MaxPool { kernel: 2, stride: 2 },
                Flatten,
                Dense { out: f(3) },
            ],
        )
        .unwrap(),
        ArchSpec::new(
            "residual-mlp",
            [1, 4, 4],
            8,
            1,
            &[Flatten, Dense { out: w(2) }, Relu, Save, Dense { out: w(2) }, Relu, AddScaled, Dense { out: f(5) }],
        )
        .unwrap(),
    ]
}

fn scratch_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metamorph-onnx-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "{what}: logit {i}: {x} vs {y}");
    }
}

#[test]
fn writer_output_passes_checker_and_backends_agree() {
    if cfg!(feature = "ort") {
        assert!(
            std::env::var_os("ORT_DYLIB_PATH").is_some(),
            "ORT_DYLIB_PATH is not set: point it at libonnxruntime.so (scripts/test.sh sets it)"
        );
    }
    let mut rng = Rng::new(0x5eed);
    for arch in families() {
        for h in [arch.h_min as usize, (arch.h_min as usize + arch.h_max as usize) / 2, arch.h_max as usize] {
            let costs = arch.costs(h).unwrap();
            let params: Vec<f32> = (0..costs.params).map(|_| rng.uniform(-0.5, 0.5)).collect();
            let batch = 3;
            let input: Vec<f32> = (0..batch * arch.input_shape().len()).map(|_| rng.next_f32()).collect();
            let what = format!("{} at h = {h}", arch.name);
            let prov = Provenance { dataset: "test".into(), checksum: 0xdead_beef };
            let onnx = to_onnx(&arch, h, &params, &prov).unwrap();
            let path = scratch_file(&format!("{}-h{h}.onnx", arch.name));
            std::fs::write(&path, &onnx).unwrap();
            onnx_check(&path);

            let native = Backend::Native
                .load(&Source::Params { arch: &arch, h, params: &params })
                .unwrap()
                .run(&input, batch)
                .unwrap();
            assert_eq!(native.len(), batch * arch.classes().unwrap());
            let tract = Backend::Tract.load(&Source::Onnx(&onnx)).unwrap().run(&input, batch).unwrap();
            assert_close(&format!("{what}: tract vs native"), &tract, &native);
            if cfg!(feature = "ort") {
                let ort = Backend::Ort.load(&Source::Onnx(&onnx)).unwrap().run(&input, batch).unwrap();
                assert_close(&format!("{what}: ort vs native"), &ort, &native);
            }
        }
    }
}

#[test]
fn metadata_and_symbolic_batch() {
    use prost::Message;
    let arch = &families()[0];
    let params = vec![0.1; arch.costs(5).unwrap().params];
    let bytes = to_onnx(arch, 5, &params, &Provenance { dataset: "digits".into(), checksum: 0x1234_abcd }).unwrap();
    let m = tract_onnx::pb::ModelProto::decode(&bytes[..]).unwrap();
    let meta: std::collections::HashMap<_, _> =
        m.metadata_props.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
    assert_eq!(meta["family"], "mlp");
    assert_eq!(meta["h"], "5");
    assert_eq!(meta["hypernet_crc32"], "1234abcd");
    assert_eq!(meta["dataset"], "digits");
    assert!(m.opset_import[0].version >= 13);
    // The same model runs at several batch sizes.
    let mut e = Backend::Tract.load(&Source::Onnx(&bytes)).unwrap();
    for batch in [1, 7] {
        assert_eq!(e.run(&vec![0.5; batch * 64], batch).unwrap().len(), batch * 10);
    }
    assert!(e.run(&[0.5; 63], 1).is_err(), "wrong input length must be an error");
}

#[test]
fn bad_inputs_are_errors() {
    let arch = &families()[0];
    assert!(to_onnx(arch, 5, &[0.0; 3], &Provenance::default()).is_err(), "wrong parameter count");
    assert!(to_onnx(arch, 99, &[], &Provenance::default()).is_err(), "width out of range");
    let mut params = vec![0.1; arch.costs(5).unwrap().params];
    params[7] = f32::NAN;
    assert!(to_onnx(arch, 5, &params, &Provenance::default()).is_err(), "non-finite parameter");
    assert!(Backend::Tract.load(&Source::Onnx(b"not an onnx model")).is_err());
    assert!(Backend::Native.load(&Source::Onnx(b"")).is_err());
    assert_eq!("ORT".parse::<Backend>().unwrap(), Backend::Ort);
    assert!("cuda".parse::<Backend>().is_err());
}

#[test]
fn switcher_cache_counts_in_the_planners_overhead() {
    use metamorph::format::{self, OwnedHypernet};
    use metamorph::inr::InrConfig;
    use metamorph::plan::Budget;
    use metamorph_host::switch::Switcher;
    let arch = families().remove(0);
    let inr = InrConfig { bands: 2, hidden: 8, depth: 1, norm: 16.0 };
    let bytes = OwnedHypernet::zeros(arch, inr, "test").unwrap().to_bytes().unwrap();
    let net = format::read(&bytes).unwrap();
    let mut s = Switcher::new(net, Backend::Tract).with_cache(1 << 20);
    let base = s.overhead_bytes();
    let wide = Budget::default();
    let first = s.switch(&wide).unwrap();
    assert!(!first.cached && first.plan.costs.h == 12);
    assert_eq!(s.cache_bytes(), first.onnx_bytes);
    assert_eq!(s.overhead_bytes(), base + first.onnx_bytes);
    let again = s.switch(&wide).unwrap();
    assert!(again.cached && again.timings.materialise.is_zero());
    // A RAM budget that only fits without the cache: the cache is dropped, the plan still succeeds.
    let c = s.net().arch.costs(12).unwrap();
    let tight = Budget { max_ram_bytes: Some(c.weight_bytes + c.activation_bytes + base), ..Budget::default() };
    let p = s.plan(&tight).unwrap();
    assert_eq!((p.costs.h, s.cache_bytes()), (12, 0));
}
