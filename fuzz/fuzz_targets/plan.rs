//! The planner on arbitrary budgets against the specs of real files (the shipped `models/*.mmh`
//! and the tiny seeds in `fuzz/seeds/`): weight, RAM and MAC limits anywhere in `usize`,
//! latency targets and throughputs of any f32 bits (zero, negative, NaN, infinite, subnormal),
//! any RAM overhead, and any width fraction. Nothing may panic; a width fraction must give a base
//! width in the family's range; a plan ([`plan`] and [`plan_streamed`]) must be in range, carry
//! its width's true costs and RAM, fit every limit, and be the widest that does; and "nothing
//! fits" must mean that the narrowest member does not fit.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use metamorph::format;
use metamorph::plan::{plan, plan_streamed, Budget, Latency, Plan};
use metamorph::spec::{ArchSpec, Costs};
use metamorph::{exec, materialise, Error};
use std::sync::LazyLock;

/// Each real file's spec and the materialiser scratch (bytes) the `metamorph plan` command counts.
static FILES: LazyLock<Vec<(ArchSpec, usize)>> = LazyLock::new(|| {
    let files: [&[u8]; 13] = [
        include_bytes!("../../models/mnist-mlp.mmh"),
        include_bytes!("../../models/mnist-mlp-shallow.mmh"),
        include_bytes!("../../models/mnist-mlp-slim.mmh"),
        include_bytes!("../../models/mnist-lenet.mmh"),
        include_bytes!("../../models/mnist-lenet-slim.mmh"),
        include_bytes!("../seeds/mlp-inr-f32.mmh"),
        include_bytes!("../seeds/mlp-inr-f16.mmh"),
        include_bytes!("../seeds/mlp-inr-i8.mmh"),
        include_bytes!("../seeds/mlp-slim-f32.mmh"),
        include_bytes!("../seeds/lenet-inr-f16.mmh"),
        include_bytes!("../seeds/lenet-slim-i8.mmh"),
        include_bytes!("../seeds/residual-inr-f32.mmh"),
        include_bytes!("../seeds/residual-slim-f16.mmh"),
    ];
    files
        .iter()
        .map(|bytes| {
            let net = format::read(bytes).expect("a committed hypernet reads");
            (net.arch.clone(), materialise::scratch_len(&net) * 4)
        })
        .collect()
});

/// Which planner, and the peak RAM it counts for a member.
#[derive(Clone, Copy)]
enum Planner {
    /// [`plan`]: all weights, activations and overhead.
    Whole,
    /// [`plan_streamed`]: the largest layer's weights instead of all.
    Streamed,
}

impl Planner {
    fn run(self, arch: &ArchSpec, overhead: usize, budget: &Budget) -> metamorph::Result<Plan> {
        match self {
            Planner::Whole => plan(arch, overhead, budget),
            Planner::Streamed => plan_streamed(arch, overhead, budget),
        }
    }

    fn ram(self, arch: &ArchSpec, c: &Costs, overhead: usize) -> usize {
        let weights = match self {
            Planner::Whole => c.weight_bytes,
            Planner::Streamed => exec::layer_len(arch, c.h).expect("a real spec's layer") * 4,
        };
        weights.saturating_add(c.activation_bytes).saturating_add(overhead)
    }
}

/// Every limit of `b`, checked on the member's costs and RAM.
fn within(b: &Budget, c: &Costs, ram: usize) -> bool {
    b.max_weight_bytes.is_none_or(|l| c.weight_bytes <= l)
        && b.max_ram_bytes.is_none_or(|l| ram <= l)
        && b.max_macs.is_none_or(|l| c.macs <= l)
        && b.latency.is_none_or(|l| l.macs_per_second > 0.0 && l.estimate_ms(c.macs) <= l.target_ms)
}

fn limit(u: &mut Unstructured) -> Result<Option<usize>> {
    Ok(if u.arbitrary()? { Some(u.arbitrary()?) } else { None })
}

fn check(u: &mut Unstructured) -> Result<()> {
    let (arch, scratch) = &FILES[u.choose_index(FILES.len())?];
    let w = f32::from_bits(u.arbitrary()?);
    assert!(arch.check_h(arch.base_width(w)).is_ok(), "width {w} gave base width {}", arch.base_width(w));
    let overhead = match u.int_in_range(0..=2)? {
        0 => 0,
        1 => *scratch,
        _ => u.arbitrary()?,
    };
    let latency = if u.arbitrary()? {
        let target_ms = f32::from_bits(u.arbitrary()?);
        Some(Latency { target_ms, macs_per_second: f32::from_bits(u.arbitrary()?) })
    } else {
        None
    };
    let budget = Budget { max_weight_bytes: limit(u)?, max_ram_bytes: limit(u)?, max_macs: limit(u)?, latency };
    for planner in [Planner::Whole, Planner::Streamed] {
        let costs = |h| arch.costs(h).expect("a real spec's costs");
        let fits = |h| {
            let c = costs(h);
            within(&budget, &c, planner.ram(arch, &c, overhead))
        };
        match planner.run(arch, overhead, &budget) {
            Ok(p) => {
                let h = p.costs.h;
                assert!(arch.check_h(h).is_ok(), "planned h = {h} outside the family");
                assert_eq!(p.costs, costs(h));
                assert_eq!(p.ram_bytes, planner.ram(arch, &p.costs, overhead));
                assert_eq!(p.width, arch.width_of(h));
                assert!(fits(h), "h = {h} ({:?}, RAM {}) over {budget:?}", p.costs, p.ram_bytes);
                assert!(h == arch.h_max as usize || !fits(h + 1), "h = {h} planned but h + 1 fits {budget:?}");
            }
            Err(Error::NothingFits) => assert!(!fits(arch.h_min as usize), "nothing fits, yet h_min does"),
            Err(e) => panic!("unexpected error {e} for {budget:?}"),
        }
    }
    Ok(())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = check(&mut Unstructured::new(data));
});
