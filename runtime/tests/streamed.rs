//! Layer-by-layer execution: `exec::run_streamed` gives the same bits as `exec::run` on the same
//! materialised parameters while holding one layer's, and `plan::plan_streamed` counts exactly
//! that buffer against the budget.
#![cfg(feature = "alloc")]

mod common;

use common::{random_hypernet, tiny_conv, tiny_mlp, SMALL_INR};
use metamorph::exec;
use metamorph::format;
use metamorph::materialise::Materialiser;
use metamorph::plan::{plan, plan_streamed, Budget};
use metamorph::rng::Rng;
use metamorph::spec::{families, ArchSpec};
use metamorph::Error;

#[test]
fn streamed_run_equals_whole_run_bit_for_bit() {
    for arch in [tiny_mlp(), tiny_conv()] {
        let bytes = random_hypernet(arch, SMALL_INR, 11).to_bytes().unwrap();
        let net = format::read(&bytes).unwrap();
        let mut rng = Rng::new(3);
        for h in net.arch.h_min as usize..=net.arch.h_max as usize {
            let m = Materialiser::new(&net, h, 2, 5).unwrap();
            let params = m.to_vec().unwrap();
            let batch = 2;
            let input: Vec<f32> = (0..net.arch.input_shape().len() * batch).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut scratch = vec![0.0; exec::scratch_len(&net.arch, h, batch).unwrap()];
            let whole = exec::run(&net.arch, h, &params, &input, batch, &mut scratch).unwrap().to_vec();

            let layer_len = exec::layer_len(&net.arch, h).unwrap();
            assert!(layer_len < params.len(), "{} h {h}: one layer holds every parameter", net.arch.name);
            let mut layer = vec![f32::NAN; layer_len];
            let mut mat_scratch = vec![0.0; m.scratch_len()];
            let mut filled = 0;
            let streamed = exec::run_streamed(&net.arch, h, &input, batch, &mut scratch, &mut layer, |info, out| {
                filled += 1;
                m.tensor(info, out, &mut mat_scratch).map(|_| ())
            })
            .unwrap();
            assert_eq!(filled, net.arch.params(h).count(), "every tensor generated once");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(streamed), bits(&whole), "{} h {h}", net.arch.name);

            let mut short = vec![0.0; layer_len - 1];
            let err = exec::run_streamed(&net.arch, h, &input, batch, &mut scratch, &mut short, |_, _| Ok(()));
            assert_eq!(err.unwrap_err(), Error::BufferTooSmall { needed: layer_len, provided: layer_len - 1 });
        }
    }
}

#[test]
fn fill_errors_propagate() {
    let arch = tiny_mlp();
    let mut layer = vec![0.0; exec::layer_len(&arch, 3).unwrap()];
    let mut scratch = vec![0.0; exec::scratch_len(&arch, 3, 1).unwrap()];
    let r = exec::run_streamed(&arch, 3, &[0.0; 4], 1, &mut scratch, &mut layer, |_, _| Err(Error::NonFinite));
    assert_eq!(r.unwrap_err(), Error::NonFinite);
}

/// The largest layer's weight + bias, counted from the shapes.
fn largest_layer(arch: &ArchSpec, h: usize) -> usize {
    let mut per_layer = vec![0; arch.layers.len()];
    for p in arch.params(h) {
        per_layer[p.layer] += p.len();
    }
    per_layer.into_iter().max().unwrap()
}

#[test]
fn streamed_plan_counts_the_largest_layer_and_never_exceeds_the_budget() {
    for arch in [families::mnist_lenet(), families::mlp("mlp", [1, 28, 28], 10, 256, 8).unwrap(), tiny_conv()] {
        for h in arch.h_min as usize..=arch.h_max as usize {
            assert_eq!(exec::layer_len(&arch, h).unwrap(), largest_layer(&arch, h), "{} h {h}", arch.name);
        }
        let overhead = 1000;
        let widest = plan(&arch, overhead, &Budget::default()).unwrap().ram_bytes;
        let mut some_wider = false;
        for step in 1..=200 {
            let ram = step * widest / 200;
            let budget = Budget { max_ram_bytes: Some(ram), ..Budget::default() };
            let Ok(p) = plan_streamed(&arch, overhead, &budget) else {
                let h_min = arch.h_min as usize;
                let c = arch.costs(h_min).unwrap();
                assert!(largest_layer(&arch, h_min) * 4 + c.activation_bytes + overhead > ram);
                continue;
            };
            let h = p.costs.h;
            let need = largest_layer(&arch, h) * 4 + p.costs.activation_bytes + overhead;
            assert_eq!(p.ram_bytes, need, "{} h {h}", arch.name);
            assert!(need <= ram, "{} h {h}: {need} > {ram}", arch.name);
            if h < arch.h_max as usize {
                let c = arch.costs(h + 1).unwrap();
                assert!(largest_layer(&arch, h + 1) * 4 + c.activation_bytes + overhead > ram, "h + 1 fits too");
            }
            match plan(&arch, overhead, &budget) {
                Ok(whole) => {
                    assert!(whole.costs.h <= h, "streaming holds less, so it is never narrower");
                    some_wider |= whole.costs.h < h;
                }
                Err(e) => assert_eq!(e, Error::NothingFits),
            }
        }
        assert!(some_wider, "{}: streaming never allowed a wider member", arch.name);
    }
}
