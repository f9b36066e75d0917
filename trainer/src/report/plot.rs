//! The plots of a report, as SVG (plotters): accuracy against width, one line per method (widths
//! outside the hypernet's training range shaded), and accuracy against stored bytes at full and at
//! 25 % width, the picture a device engineer chooses from.

use super::{Report, SAMPLES};
use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// File name of preset `name`'s plot: `accuracy-<name>.svg`.
pub fn file_name(name: &str) -> String {
    format!("accuracy-{name}.svg")
}

/// One plotted method: legend label, colour, `(width %, accuracy %)` points.
type Series = (String, RGBColor, Vec<(f32, f32)>);

/// The SVG text of `report`'s plot: test accuracy (%) against width (% of full), one line per
/// method.
pub fn svg(report: &Report) -> Result<String> {
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing the accuracy plot: {e}");
    let series: Vec<Series> = {
        let pts = |f: &dyn Fn(&super::Row) -> f32| -> Vec<(f32, f32)> {
            report.rows.iter().map(|r| (100.0 * r.width, 100.0 * f(r))).collect()
        };
        vec![
            (format!("hypernet, K = {}", SAMPLES[0]), RGBColor(31, 119, 180), pts(&|r| r.hypernet[0])),
            (format!("hypernet, K = {}", SAMPLES[1]), RGBColor(23, 190, 207), pts(&|r| r.hypernet[1])),
            ("individually trained".into(), RGBColor(0, 0, 0), pts(&|r| r.individual)),
            ("individually trained, int8".into(), RGBColor(127, 127, 127), pts(&|r| r.individual_int8)),
            ("slicing".into(), RGBColor(214, 39, 40), pts(&|r| r.sliced)),
            ("magnitude pruning".into(), RGBColor(255, 127, 14), pts(&|r| r.pruned)),
        ]
        .into_iter()
        .chain(
            report
                .slimmable
                .is_some()
                .then(|| {
                    let slim = |i: usize| pts(&move |r: &super::Row| r.slimmable.map_or(0.0, |s| s[i]));
                    [
                        ("slimmable".to_string(), RGBColor(44, 160, 44), slim(0)),
                        ("slimmable, int8".to_string(), RGBColor(148, 103, 189), slim(1)),
                    ]
                })
                .into_iter()
                .flatten(),
        )
        .collect()
    };
    let lowest = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).fold(100.0f32, f32::min);
    let y_lo = ((lowest - 5.0) / 10.0).floor().max(0.0) * 10.0;
    let x_lo = report.rows.iter().map(|r| 100.0 * r.width).fold(100.0f32, f32::min) - 5.0;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{}: test accuracy against width", report.name), ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(x_lo..102.0f32, y_lo..100.0f32)
            .map_err(|e| err(&e))?;
        let seen_lo = 100.0 * report.trained_h[0] as f32 / report.h_max as f32;
        if seen_lo > x_lo {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x_lo, y_lo), (seen_lo.min(102.0), 100.0)],
                    BLACK.mix(0.06).filled(),
                )))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_mesh()
            .x_desc("width (% of full; shaded: unseen in hypernet training)")
            .y_desc("test accuracy (%)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (label, color, points) in series {
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| err(&e))?;
        }
        legend(&mut chart).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(buf)
}

/// One stored option of the bytes plot: legend label, colour, and its points as
/// `(bytes, accuracy at full width, accuracy at the narrowest width)` (NaN: not plotted there).
type StoredOption = (String, RGBColor, Vec<(f64, f32, f32)>);

/// File name of preset `name`'s accuracy-against-bytes plot: `bytes-<name>.svg`.
pub fn bytes_file_name(name: &str) -> String {
    format!("bytes-{name}.svg")
}

/// The SVG text of `report`'s accuracy-against-bytes plot: for the full width and the narrowest
/// width of the sweep, each option's stored bytes (log scale) and its test accuracy there: the
/// hypernet file, the int8 zoos and the slimmable file's int8 cuts at the report's budgets, the
/// individually trained net of that width (fp32 and int8), and the slimmable files.
pub fn bytes_svg(report: &Report) -> Result<String> {
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing the bytes plot: {e}");
    let (Some(full), Some(narrow)) = (report.rows.first(), report.rows.last()) else {
        return Err(anyhow!("the report has no rows"));
    };
    let st = &report.storage;
    let mut options: Vec<StoredOption> = vec![(
        "hypernet, K = 1".into(),
        RGBColor(31, 119, 180),
        vec![(st.hypernet_bytes as f64, full.hypernet[0], narrow.hypernet[0])],
    )];
    let zoo: Vec<(f64, f32, f32)> = report
        .zoos
        .iter()
        .filter_map(|(_, z)| z.as_ref())
        .filter_map(|z| Some((z.bytes as f64, z.accuracy_at(full.h)?, z.accuracy_at(narrow.h)?)))
        .collect();
    options.push(("int8 zoo (best set per budget)".into(), RGBColor(127, 127, 127), zoo));
    let cuts: Vec<(f64, f32, f32)> = report
        .slim_cuts
        .iter()
        .filter_map(|(_, c)| c.as_ref())
        .filter_map(|c| Some((c.bytes as f64, *c.accuracy.first()?, *c.accuracy.last()?)))
        .collect();
    if !cuts.is_empty() {
        options.push(("slimmable cut to budget, int8".into(), RGBColor(140, 86, 75), cuts));
    }
    // The individually trained int8 net of each of the two widths, at its own bytes.
    options.push((
        "individually trained, int8 (one net)".into(),
        RGBColor(0, 0, 0),
        vec![
            (full.int8_bytes as f64, full.individual_int8, f32::NAN),
            (narrow.int8_bytes as f64, f32::NAN, narrow.individual_int8),
        ],
    ));
    if let Some((_, [fp32_bytes, int8_bytes])) = &report.slimmable {
        let (f, n) = (full.slimmable.unwrap_or([f32::NAN; 2]), narrow.slimmable.unwrap_or([f32::NAN; 2]));
        options.push(("slimmable, fp32".into(), RGBColor(44, 160, 44), vec![(*fp32_bytes as f64, f[0], n[0])]));
        options.push(("slimmable, int8".into(), RGBColor(148, 103, 189), vec![(*int8_bytes as f64, f[1], n[1])]));
    }
    let points = || options.iter().flat_map(|o| o.2.iter());
    let lowest = points().flat_map(|p| [p.1, p.2]).filter(|a| a.is_finite()).fold(1.0f32, f32::min);
    let y_lo = ((100.0 * lowest - 2.0) / 5.0).floor().max(0.0) * 5.0;
    let (b_lo, b_hi) = points().fold((f64::MAX, 0.0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: accuracy against stored bytes (● h = {}, ▲ h = {})", report.name, full.h, narrow.h),
                ("sans-serif", 18),
            )
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d((b_lo * 0.7..b_hi * 1.4).log_scale(), y_lo..100.0f32)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("stored bytes (log scale)")
            .light_line_style(WHITE)
            .y_desc("test accuracy (%)")
            .x_label_formatter(&|x| format!("{:.0} k", x / 1e3))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (label, color, pts) in options {
            let at = |i: usize| -> Vec<(f64, f32)> {
                pts.iter().map(|p| (p.0, 100.0 * if i == 0 { p.1 } else { p.2 })).filter(|p| p.1.is_finite()).collect()
            };
            chart
                .draw_series(at(0).into_iter().map(|p| Circle::new(p, 5, color.filled())))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
            chart
                .draw_series(at(1).into_iter().map(|p| TriangleMarker::new(p, 6, color.filled())))
                .map_err(|e| err(&e))?;
        }
        legend(&mut chart).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(buf)
}

/// The legend box both plots draw in their lower right corner.
fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}
