//! The report's targets, judged from its numbers: every verdict is computed, none written by hand.
//! Issue 5's (against individually trained nets, slicing and the file size) and the equal-byte
//! int8 zoo bar of issue 13.
//!
//! Accuracy targets are judged per `K` (1 and 10); the size target is judged on its own and
//! together with the accuracy targets ("while holding the accuracy target").

use super::{Report, Row, SAMPLES};

/// Tolerance (in accuracy points) for comparing accuracies measured on the same test set.
const EPS: f64 = 1e-6;

/// One target and where the report stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The target, in words.
    pub name: String,
    /// Whether the numbers meet it.
    pub pass: bool,
    /// The numbers behind the verdict.
    pub detail: String,
}

fn pt(x: f32) -> f64 {
    100.0 * x as f64
}

/// Percent label of a width fraction (`87.5 %`, `25 %`).
pub fn width_label(w: f32) -> String {
    let p = 100.0 * w as f64;
    if p.fract() == 0.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// The three accuracy targets at sample count index `k` (into [`SAMPLES`]).
fn accuracy_targets(report: &Report, k: usize) -> Vec<Target> {
    let kk = SAMPLES[k];
    let mut out = Vec::new();
    let worst =
        report.rows.iter().map(|r| (r, pt(r.hypernet[k]) - pt(r.individual))).min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((r, d)) = worst {
        out.push(Target {
            name: format!("hypernet (K = {kk}) ≥ individually trained − 0.5 pt at every width"),
            pass: d >= -0.5 - EPS,
            detail: format!("worst gap {d:+.2} pt at {} (h = {})", width_label(r.width), r.h),
        });
    }
    let quarter: Option<&Row> = report.row(0.25);
    match quarter {
        Some(r) => {
            let unseen = if report.unseen(r.h) { "unseen" } else { "seen in training" };
            let d = pt(r.hypernet[k]) - pt(r.individual);
            out.push(Target {
                name: format!("hypernet (K = {kk}) ≥ individually trained at 25 %"),
                pass: d >= -EPS,
                detail: format!(
                    "{:.2} vs {:.2} % ({d:+.2} pt; h = {}, {unseen})",
                    pt(r.hypernet[k]),
                    pt(r.individual),
                    r.h
                ),
            });
            let d = pt(r.hypernet[k]) - pt(r.sliced) - 5.0;
            out.push(Target {
                name: format!("hypernet (K = {kk}) ≥ slicing + 5 pt at 25 %"),
                pass: d >= -EPS,
                detail: format!("{:.2} vs {:.2} + 5 % ({d:+.2} pt)", pt(r.hypernet[k]), pt(r.sliced)),
            });
        }
        None => out.push(Target {
            name: "accuracy at 25 %".into(),
            pass: false,
            detail: "the sweep has no 25 % width".into(),
        }),
    }
    out
}

/// Every target of issue 5 this report can judge, in order: the 25 % width unseen in
/// training, the accuracy targets at each `K`, the size target alone and with accuracy held.
pub fn evaluate(report: &Report) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(r) = report.row(0.25) {
        out.push(Target {
            name: "25 % width kept unseen in training".into(),
            pass: report.unseen(r.h),
            detail: format!("h = {} vs trained range [{}, {}]", r.h, report.trained_h[0], report.trained_h[1]),
        });
    }
    let per_k: Vec<Vec<Target>> = (0..SAMPLES.len()).map(|k| accuracy_targets(report, k)).collect();
    let held: Vec<u32> = per_k.iter().zip(SAMPLES).filter(|(t, _)| t.iter().all(|t| t.pass)).map(|(_, k)| k).collect();
    out.extend(per_k.into_iter().flatten());
    out.push(zoo_target(report));
    if let Some(t) = slimmable_target(report) {
        out.push(t);
    }
    if let Some(t) = slim_cut_target(report) {
        out.push(t);
    }
    let s = &report.storage;
    let ratio = s.ratio(s.hypernet_bytes);
    let small = ratio <= 0.25;
    out.push(Target {
        name: "hypernet bytes ≤ 0.25 × full-width fp32 bytes".into(),
        pass: small,
        detail: format!("{} / {} bytes = {ratio:.3}", s.hypernet_bytes, s.fp32_bytes),
    });
    out.push(Target {
        name: "… while holding the accuracy targets".into(),
        pass: small && !held.is_empty(),
        detail: match held.first() {
            Some(k) => format!("size {}, accuracy targets all met at K = {k}", if small { "met" } else { "missed" }),
            None => format!("size {}, accuracy targets missed at every K", if small { "met" } else { "missed" }),
        },
    });
    out
}

/// The hypernet (K = 1) at least as accurate as the best int8 zoo of its own byte count at every
/// width of the sweep; a width where no zoo member fits counts for the hypernet.
fn zoo_target(report: &Report) -> Target {
    let name = "hypernet (K = 1) ≥ int8 zoo of equal bytes at every width".to_string();
    let file = report.storage.hypernet_bytes;
    let Some((_, zoo)) = report.zoos.iter().find(|(b, _)| *b == file) else {
        return Target { name, pass: false, detail: "the report has no zoo at the hypernet's bytes".into() };
    };
    let Some(zoo) = zoo else {
        return Target {
            name,
            pass: true,
            detail: "no individually trained int8 net fits in the hypernet's bytes".into(),
        };
    };
    let worst = report
        .rows
        .iter()
        .map(|r| (r, zoo.accuracy_at(r.h).map_or(f64::INFINITY, |z| pt(r.hypernet[0]) - pt(z))))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match worst {
        Some((r, d)) if d.is_finite() => Target {
            name,
            pass: d >= -EPS,
            detail: format!("worst gap {d:+.2} pt at {} (h = {}; zoo of {} B)", width_label(r.width), r.h, zoo.bytes),
        },
        _ => Target { name, pass: true, detail: "no zoo member fits any width of the sweep".into() },
    }
}

/// The hypernet (K = 1) at least as accurate as the int8 slimmable net at every width, with no
/// more bytes; `None` when the report has no slimmable net.
fn slimmable_target(report: &Report) -> Option<Target> {
    let (_, [_, int8_bytes]) = report.slimmable.as_ref()?;
    let file = report.storage.hypernet_bytes;
    let worst = report
        .rows
        .iter()
        .filter_map(|r| r.slimmable.map(|[_, q]| (r, pt(r.hypernet[0]) - pt(q))))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let (r, d) = worst?;
    Some(Target {
        name: "hypernet (K = 1) ≥ int8 slimmable net at every width, at no more bytes".into(),
        pass: d >= -EPS && file <= *int8_bytes,
        detail: format!("worst gap {d:+.2} pt at {} (h = {}); {file} vs {int8_bytes} bytes", width_label(r.width), r.h),
    })
}

/// The hypernet (K = 1) at least as accurate, at every width of the sweep, as the slimmable file
/// cut to the hypernet's own bytes; `None` without a slimmable file.
fn slim_cut_target(report: &Report) -> Option<Target> {
    let file = report.storage.hypernet_bytes;
    let name = "hypernet (K = 1) ≥ int8 slimmable net cut to its bytes at every width".to_string();
    let (_, cut) = report.slim_cuts.iter().find(|(b, _)| *b == file)?;
    let Some(cut) = cut else {
        return Some(Target { name, pass: true, detail: "not even the slimmable net's narrowest member fits".into() });
    };
    let (r, d) = report
        .rows
        .iter()
        .zip(&cut.accuracy)
        .map(|(r, &a)| (r, pt(r.hypernet[0]) - pt(a)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Target {
        name,
        pass: d >= -EPS,
        detail: format!(
            "worst gap {d:+.2} pt at {} (h = {}); cut at h = {}, {} bytes",
            width_label(r.width),
            r.h,
            cut.h,
            cut.bytes
        ),
    })
}
