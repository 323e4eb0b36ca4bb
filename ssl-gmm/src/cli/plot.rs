//! SVG line plots with error bars (plotters), one per experiment.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One line of a plot: a method's mean and spread at each x.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, mean, low, high)` points.
    pub points: Vec<(f64, f64, f64, f64)>,
}

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

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
    } else if (1e-2..1e4).contains(&v.abs()) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// Writes an SVG line plot with error bars to `path` (atomically: temporary file, then rename).
/// With `x_names`, integer x positions are labelled by those names (categorical axis).
pub fn line_plot(path: &Path, spec: &PlotSpec, series: &[Series]) -> anyhow::Result<()> {
    let PlotSpec { title, x_label, y_label, log_x, log_y, ref x_names } = *spec;
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
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { (x0 - 0.5, x1 + 0.5) };
    let tmp = path.with_extension("svg.tmp");
    {
        let root = SVGBackend::new(&tmp, (720, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(42).y_label_area_size(64);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                let x_fmt = |v: &f64| match x_names.get(v.round() as usize) {
                    Some(name) if (v - v.round()).abs() < 1e-9 && *v >= 0.0 => name.clone(),
                    _ if !x_names.is_empty() => String::new(),
                    _ => tick(*v),
                };
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .x_label_formatter(&x_fmt)
                    .y_label_formatter(&|v: &f64| tick(*v))
                    .draw()?;
                for (i, s) in series.iter().enumerate() {
                    let colour = COLOURS[i % COLOURS.len()];
                    let pts: Vec<(f64, f64)> = s.points.iter().filter(|p| fin(p.1)).map(|p| (p.0, p.1)).collect();
                    chart
                        .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?
                        .label(s.label.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
                    chart.draw_series(
                        s.points
                            .iter()
                            .filter(|p| fin(p.2) && fin(p.3))
                            .map(|p| ErrorBar::new_vertical(p.0, p.2, p.1, p.3, colour, 6)),
                    )?;
                }
                chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
            }};
        }
        match (log_x, log_y) {
            (true, true) => draw!(builder.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?),
            (true, false) => draw!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?),
            (false, true) => draw!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?),
            (false, false) => draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?),
        }
        root.present()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move the plot into {}", path.display()))
}
