//! Channel permutation keeps the network's function and lowers channel-axis total variation.

mod common;
use candle_core::Device;
use common::*;
use metamorph::spec::ArchSpec;
use metamorph_trainer::data::{Dataset, Split};
use metamorph_trainer::permute::{self, channel_groups, Axis};
use metamorph_trainer::preset::Preset;
use metamorph_trainer::{base, net};

fn check_same_function(arch: &ArchSpec, h: usize, params: &[candle_core::Tensor]) -> (f64, f64) {
    let (permuted, report) = permute::permute_tensors(arch, h, params, 0).unwrap();
    let x = random_input(arch, 8, 9);
    let d = max_diff(&net::forward(arch, h, params, &x).unwrap(), &net::forward(arch, h, &permuted, &x).unwrap());
    assert!(d <= 1e-5, "{} h={h}: outputs differ by {d}", arch.name);
    // Something actually moved, and every order is a permutation.
    assert!(report.groups.iter().any(|g| g.order.iter().enumerate().any(|(i, &c)| i != c)));
    for g in &report.groups {
        let mut o = g.order.clone();
        o.sort();
        assert_eq!(o, (0..g.group.channels).collect::<Vec<_>>());
        assert!(g.tv_after <= g.tv_before + 1e-9);
    }
    // The report's TV matches a fresh measurement of the permuted weights.
    let after = permute::total_variation(arch, h, &report.params).unwrap();
    assert!((after - report.tv().1).abs() < 1e-6 * after.max(1.0));
    report.tv()
}

#[test]
fn groups_of_the_presets_and_residuals() {
    let lenet = Preset::load("mnist-lenet").unwrap().arch;
    let g = channel_groups(&lenet, 8).unwrap();
    assert_eq!(g.iter().map(|g| g.channels).collect::<Vec<_>>(), vec![8, 16, 32]);
    assert!(g.iter().all(|g| g.members.len() == 3));
    // conv_net flattens 16 channels of 4×4: each channel owns a 16-feature block of the Dense input.
    let g = channel_groups(&conv_net(), 8).unwrap();
    assert_eq!(g[1].members[2].axis, Axis::In { block: 16 });
    // The residual add ties conv0 and conv1 into one group; conv2 is its own.
    let g = channel_groups(&residual_net(), 4).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].members.len(), 6, "{:?}", g[0]);
    assert_eq!(g[1].channels, 8);
}

#[test]
fn permuted_networks_compute_the_same_outputs() {
    let mlp = Preset::load("digits-mlp").unwrap().arch;
    // Small widths use Held–Karp, larger ones the local search.
    for (arch, h) in
        [(mlp.clone(), 8), (mlp, 32), (conv_net(), 4), (conv_net(), 16), (residual_net(), 5), (residual_net(), 14)]
    {
        let params = random_params(&arch, h, h as u64);
        check_same_function(&arch, h, &params);
    }
}

#[test]
fn permutation_lowers_total_variation_of_a_trained_network() {
    let preset = Preset::load("digits-mlp").unwrap();
    let (train, test) = (Dataset::load("digits", Split::Train).unwrap(), Dataset::load("digits", Split::Test).unwrap());
    let mut opts = base::BaseOptions::from_preset(&preset, None);
    opts.progress = false;
    let trained = base::train(&preset.arch, &opts, &train, &test, &Device::Cpu).unwrap();
    let h = opts.h;
    let (before, after) = check_same_function(&preset.arch, h, &trained.params);
    eprintln!("digits-mlp h={h}: channel TV {before:.2} -> {after:.2} ({:.1}% lower)", 100.0 * (1.0 - after / before));
    assert!(after < 0.9 * before, "TV {before} -> {after}");
    let permuted = permute::permute(&preset.arch, &trained.params).unwrap();
    let acc = base::evaluate(&preset.arch, h, &permuted, &test, &Device::Cpu).unwrap();
    assert_eq!(acc, trained.test_accuracy);
}
