//! Folding BatchNorm into convolutions keeps the network's evaluation-mode output.

mod common;
use candle_core::{Device, Tensor, Var};
use common::*;
use metamorph::rng::Rng;
use metamorph::spec::Layer;
use metamorph_trainer::{bn::BatchNorm, fold::fold_all, net};

fn random_bn(c: usize, rng: &mut Rng) -> BatchNorm {
    let dev = Device::Cpu;
    let mut v =
        |lo: f32, hi: f32| Tensor::from_vec((0..c).map(|_| rng.uniform(lo, hi)).collect::<Vec<_>>(), c, &dev).unwrap();
    let mut bn = BatchNorm::new(c, &dev).unwrap();
    bn.gamma = Var::from_tensor(&v(0.5, 2.0)).unwrap();
    bn.beta = Var::from_tensor(&v(-1.0, 1.0)).unwrap();
    bn.mean = v(-1.0, 1.0);
    bn.var = v(0.1, 3.0);
    bn
}

#[test]
fn folded_network_equals_bn_network_in_eval_mode() {
    let mut rng = Rng::new(5);
    for (arch, h) in [(conv_net(), 4), (residual_net(), 6)] {
        let params = random_params(&arch, h, 1);
        let bns: Vec<Option<BatchNorm>> = arch
            .walk(h)
            .map(|(layer, _, out)| match (layer, out) {
                (Layer::Conv2d { .. }, metamorph::spec::Shape::Image(c, ..)) => Some(random_bn(c, &mut rng)),
                _ => None,
            })
            .collect();
        let x = random_input(&arch, 16, 2);
        let with_bn = net::forward_with(&arch, h, &params, &x, &mut |i, _, t| match &bns[i] {
            Some(bn) => bn.forward_eval(&t),
            None => Ok(t),
        })
        .unwrap();
        let folded = fold_all(&arch, h, &params, &bns).unwrap();
        let plain = net::forward(&arch, h, &folded, &x).unwrap();
        let d = max_diff(&with_bn, &plain);
        assert!(d <= 1e-5, "{}: folded differs by {d}", arch.name);
        // And BN did change something (the test is not vacuous).
        assert!(max_diff(&with_bn, &net::forward(&arch, h, &params, &x).unwrap()) > 1e-2);
    }
}

#[test]
fn training_mode_normalises_each_channel() {
    let mut bn = BatchNorm::new(3, &Device::Cpu).unwrap();
    let x = (random_input(&common::conv_net(), 24, 3).repeat((1, 3, 1, 1)).unwrap() * 5.0).unwrap();
    let y = bn.forward_train(&x).unwrap();
    let per_channel = y.transpose(0, 1).unwrap().flatten_from(1).unwrap();
    let mean = per_channel.mean(1).unwrap().to_vec1::<f32>().unwrap();
    let var = per_channel.sqr().unwrap().mean(1).unwrap().to_vec1::<f32>().unwrap();
    assert!(mean.iter().all(|m| m.abs() < 1e-4), "{mean:?}");
    assert!(var.iter().all(|v| (v - 1.0).abs() < 1e-3), "{var:?}");
    // Running statistics moved 10 % of the way from (0, 1) toward the batch's.
    let rm = bn.mean.to_vec1::<f32>().unwrap();
    assert!(rm.iter().all(|m| (m - 0.25).abs() < 0.05), "{rm:?}");
}
