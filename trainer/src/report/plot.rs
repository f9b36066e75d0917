//! The accuracy-vs-width plot of a report, as SVG (plotters), one line per method. Widths
//! outside the hypernet's training range are shaded.

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
            ("slicing".into(), RGBColor(214, 39, 40), pts(&|r| r.sliced)),
            ("magnitude pruning".into(), RGBColor(255, 127, 14), pts(&|r| r.pruned)),
        ]
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
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(buf)
}
