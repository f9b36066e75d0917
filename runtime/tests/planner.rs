//! The planner never exceeds a budget, picks the largest width that fits, and says when none does.

mod common;

use common::tiny_conv;
use metamorph::plan::{plan, Budget, Latency};
use metamorph::spec::{families, ArchSpec, Costs};
use metamorph::Error;
use proptest::prelude::*;

fn families() -> Vec<ArchSpec> {
    vec![families::mlp("mlp", [1, 28, 28], 10, 256, 8).unwrap(), families::mnist_lenet(), tiny_conv()]
}

/// Every limit checked directly on the costs (independently of `Budget::fits`).
fn within(b: &Budget, c: &Costs, overhead: usize) -> bool {
    let ram = c.weight_bytes + c.activation_bytes + overhead;
    b.max_weight_bytes.is_none_or(|l| c.weight_bytes <= l)
        && b.max_ram_bytes.is_none_or(|l| ram <= l)
        && b.max_macs.is_none_or(|l| c.macs <= l)
        && b.latency.is_none_or(|l| c.macs as f64 / l.macs_per_second as f64 * 1000.0 <= l.target_ms as f64)
}

/// A budget around the costs of a random member, each limit present or not.
fn budget(arch: &ArchSpec, pick: [f64; 5], on: [bool; 4]) -> Budget {
    let (lo, hi) = (arch.h_min as f64, arch.h_max as f64);
    let at = |f: f64| {
        arch.costs((lo + f * (hi - lo + 2.0)).floor().max(1.0) as usize)
            .or_else(|_| arch.costs(arch.h_max as usize))
            .unwrap()
    };
    let c = [at(pick[0]), at(pick[1]), at(pick[2]), at(pick[3])];
    let jitter = (pick[4] * 2000.0) as usize;
    Budget {
        max_weight_bytes: on[0].then(|| c[0].weight_bytes + jitter),
        max_ram_bytes: on[1].then(|| c[1].weight_bytes + c[1].activation_bytes + jitter),
        max_macs: on[2].then(|| c[2].macs.saturating_sub(jitter)),
        // 0.05 % above member 3's MACs: clear of f32 rounding, below the next member's MACs.
        latency: on[3].then(|| Latency { target_ms: 2.0, macs_per_second: c[3].macs as f32 * 500.0 * 1.0005 }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn plans_fit_and_are_maximal(
        family in 0usize..3,
        pick in proptest::array::uniform5(0.0f64..1.0),
        on in proptest::array::uniform4(any::<bool>()),
        overhead in 0usize..5000,
    ) {
        let arch = &families()[family];
        let b = budget(arch, pick, on);
        match plan(arch, overhead, &b) {
            Ok(p) => {
                let h = p.costs.h;
                prop_assert!(arch.check_h(h).is_ok());
                prop_assert_eq!(p.costs, arch.costs(h).unwrap());
                prop_assert_eq!(p.ram_bytes, p.costs.weight_bytes + p.costs.activation_bytes + overhead);
                prop_assert!(within(&b, &p.costs, overhead), "h={} over budget {:?}", h, b);
                prop_assert_eq!(p.width, h as f32 / arch.h_max as f32);
                // Maximal: every wider member exceeds some limit (in particular h + 1).
                for wider in h + 1..=arch.h_max as usize {
                    prop_assert!(!within(&b, &arch.costs(wider).unwrap(), overhead), "h={} but {} fits", h, wider);
                }
            }
            Err(e) => {
                prop_assert_eq!(e, Error::NothingFits);
                for h in arch.h_min as usize..=arch.h_max as usize {
                    prop_assert!(!within(&b, &arch.costs(h).unwrap(), overhead));
                }
            }
        }
    }
}

#[test]
fn unconstrained_budget_gives_full_width() {
    for arch in families() {
        let p = plan(&arch, 0, &Budget::default()).unwrap();
        assert_eq!((p.costs.h, p.width), (arch.h_max as usize, 1.0));
    }
}

#[test]
fn nothing_fits_is_an_error() {
    for arch in families() {
        let smallest = arch.costs(arch.h_min as usize).unwrap();
        let tight = [
            Budget { max_weight_bytes: Some(smallest.weight_bytes - 1), ..Budget::default() },
            Budget { max_ram_bytes: Some(smallest.weight_bytes + smallest.activation_bytes + 99), ..Budget::default() },
            Budget { max_macs: Some(smallest.macs - 1), ..Budget::default() },
            Budget { latency: Some(Latency { target_ms: 1.0, macs_per_second: 0.0 }), ..Budget::default() },
            Budget { latency: Some(Latency { target_ms: 0.0, macs_per_second: 1e9 }), ..Budget::default() },
        ];
        for b in tight {
            assert_eq!(plan(&arch, 100, &b).unwrap_err(), Error::NothingFits, "{b:?}");
        }
        // Exactly the smallest member's costs fit it.
        let exact = Budget {
            max_weight_bytes: Some(smallest.weight_bytes),
            max_ram_bytes: Some(smallest.weight_bytes + smallest.activation_bytes),
            max_macs: Some(smallest.macs),
            latency: None,
        };
        assert_eq!(plan(&arch, 0, &exact).unwrap().costs.h, arch.h_min as usize);
    }
}
