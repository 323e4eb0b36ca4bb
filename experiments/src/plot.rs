//! SVG line plots with error bars (plotters), one per experiment.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{ExperimentError, Result};

/// One line of a plot: a method's mean and spread at each x.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, mean, low, high)` points.
    pub points: Vec<(f64, f64, f64, f64)>,
}

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in, so plots render on machines without system fonts.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Titles and axes of a plot.
pub struct PlotSpec {
    /// Caption.
    pub title: &'static str,
    /// x-axis description.
    pub x_label: &'static str,
    /// y-axis description.
    pub y_label: &'static str,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Names of integer x positions (categorical axis); empty for a numeric axis.
    pub x_names: Vec<String>,
}

/// A short tick label: plain for moderate magnitudes, scientific otherwise.
fn tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if (1e-2..1e5).contains(&v.abs()) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// The labelled points of a logarithmic axis over `[lo, hi]`: 1, 2 and 5 times the powers of
/// ten (the powers alone when the range spans more than 2.5 decades), so that labels never
/// crowd.
fn log_key_points(lo: f64, hi: f64) -> Vec<f64> {
    let decades_only = (hi / lo).log10() > 2.5;
    let mantissas: &[f64] = if decades_only { &[1.0] } else { &[1.0, 2.0, 5.0] };
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    (k0..=k1).flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k))).filter(|v| (lo..=hi).contains(v)).collect()
}

/// Width of the legend panel to the right of the data.
const LEGEND_WIDTH: u32 = 300;

/// Writes an SVG plot with error bars to `path` (atomically: temporary file, then rename): lines
/// through the means on numeric axes; points only, each method shifted slightly, on a
/// categorical axis (`x_names`: integer x positions named). The legend sits in its own panel to
/// the right of the data.
///
/// # Errors
/// A plot that cannot be drawn or written.
pub fn line_plot(path: &Path, spec: &PlotSpec, series: &[Series]) -> Result<()> {
    let PlotSpec { title, x_label, y_label, log_x, log_y, ref x_names } = *spec;
    let categorical = !x_names.is_empty();
    register_font();
    let all: Vec<&(f64, f64, f64, f64)> = series.iter().flat_map(|s| s.points.iter()).collect();
    let fin = |v: f64| v.is_finite() && (!log_y || v > 0.0);
    let xs: Vec<f64> = all.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = all.iter().flat_map(|p| [p.2, p.3]).filter(|v| fin(*v)).collect();
    let (x0, x1) =
        (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let (mut y0, mut y1) =
        (ys.iter().copied().fold(f64::INFINITY, f64::min), ys.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if log_y {
        y0 = y0.max(1e-12) / 1.5;
        y1 *= 1.5;
    } else {
        let pad = 0.05 * (y1 - y0).max(1e-9);
        (y0, y1) = (y0 - pad, y1 + pad);
    }
    let (x0, x1) = if categorical {
        (x0 - 0.5, x1 + 0.5)
    } else if x1 > x0 {
        if log_x { (x0 / 1.15, x1 * 1.15) } else { (x0 - 0.03 * (x1 - x0), x1 + 0.03 * (x1 - x0)) }
    } else {
        (x0 - 0.5, x1 + 0.5)
    };
    let shift = |i: usize| if categorical { 0.12 * (i as f64 - (series.len() as f64 - 1.0) / 2.0) } else { 0.0 };
    let tmp = path.with_extension("svg.tmp");
    {
        let root = SVGBackend::new(&tmp, (720 + LEGEND_WIDTH, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(720);
        let mut builder = ChartBuilder::on(&plot_area);
        builder.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(42).y_label_area_size(64);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                let x_fmt = |v: &f64| {
                    if categorical {
                        match x_names.get(v.round() as usize) {
                            Some(name) if (v - v.round()).abs() < 1e-9 && *v >= 0.0 => name.clone(),
                            _ => String::new(),
                        }
                    } else {
                        tick(*v)
                    }
                };
                let y_fmt = |v: &f64| tick(*v);
                let mut mesh = chart.configure_mesh();
                mesh.x_desc(x_label)
                    .y_desc(y_label)
                    .x_label_formatter(&x_fmt)
                    .y_label_formatter(&y_fmt)
                    .bold_line_style(BLACK.mix(0.08))
                    .light_line_style(TRANSPARENT);
                if categorical {
                    mesh.x_labels(x_names.len() * 2 + 1);
                }
                mesh.draw()?;
                for (i, s) in series.iter().enumerate() {
                    let colour = COLOURS[i % COLOURS.len()];
                    let dx = shift(i);
                    let pts: Vec<(f64, f64)> = s.points.iter().filter(|p| fin(p.1)).map(|p| (p.0 + dx, p.1)).collect();
                    if !categorical {
                        chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
                    }
                    chart.draw_series(
                        pts.iter().map(|&p| Circle::new(p, if categorical { 5 } else { 3 }, colour.filled())),
                    )?;
                    chart.draw_series(
                        s.points
                            .iter()
                            .filter(|p| fin(p.2) && fin(p.3))
                            .map(|p| ErrorBar::new_vertical(p.0 + dx, p.2, p.1, p.3, colour, 6)),
                    )?;
                }
            }};
        }
        let log_range = |lo: f64, hi: f64| (lo..hi).log_scale().with_key_points(log_key_points(lo, hi));
        match (log_x && !categorical, log_y) {
            (true, true) => draw!(builder.build_cartesian_2d(log_range(x0, x1), log_range(y0, y1))?),
            (true, false) => draw!(builder.build_cartesian_2d(log_range(x0, x1), y0..y1)?),
            (false, true) => draw!(builder.build_cartesian_2d(x0..x1, log_range(y0, y1))?),
            (false, false) => draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?),
        }
        // The legend, outside the data.
        for (i, s) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let y = 60 + 26 * i as i32;
            legend_area.draw(&PathElement::new(vec![(8, y), (34, y)], colour.stroke_width(2)))?;
            legend_area.draw(&Circle::new((21, y), 3, colour.filled()))?;
            legend_area.draw(&Text::new(s.label.clone(), (42, y - 7), ("sans-serif", 13).into_font()))?;
        }
        root.present()?;
    }
    std::fs::rename(&tmp, path).map_err(|source| ExperimentError::Io {
        what: "cannot move the plot into",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_label_one_two_five_or_decades() {
        assert_eq!(log_key_points(1500.0, 40000.0), vec![2000.0, 5000.0, 10000.0, 20000.0]);
        assert_eq!(log_key_points(0.8, 1200.0), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(tick(0.05), "0.05");
        assert_eq!(tick(2e-5), "2e-5");
    }
}
