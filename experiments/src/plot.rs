//! Line plots with error bars (plotters), one per experiment, as SVG and PNG: each method with
//! its own colour (a colour-blind-safe palette), marker and line style, a compact legend under
//! the data that says what the bars span, and optional reference lines.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{ExperimentError, Result};

/// One line of a plot: a method's mean and spread at each x, or a reference line.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, mean, low, high)` points (a reference line: `low = high = mean`).
    pub points: Vec<(f64, f64, f64, f64)>,
    /// A reference (e.g. a theoretical rate): thin, grey, dashed, no markers or bars.
    pub reference: bool,
}

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in, so plots render on machines without system fonts.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The colour-blind-safe palette of Okabe and Ito (2008) without its yellow (too light on
/// white): blue, vermillion, bluish green, reddish purple, orange, sky blue, black. Methods also
/// differ by marker and line style, so no pair is told apart by colour alone.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Grey of reference lines.
const REFERENCE: RGBColor = RGBColor(120, 120, 120);

/// Runs `$body` with `$make` bound to the `i`-th series' marker maker (a point to an
/// element): filled circle, filled triangle, filled square, cross, open circle, open triangle,
/// then again. Each arm has its own element type, so the body is expanded once per arm.
macro_rules! with_marker {
    ($i:expr, $colour:expr, $make:ident => $body:expr) => {{
        let (filled, open) = ($colour.filled(), $colour.stroke_width(2));
        match $i % 6 {
            0 => {
                let $make = |p| EmptyElement::at(p) + Circle::new((0, 0), 4, filled);
                $body
            }
            1 => {
                let $make = |p| EmptyElement::at(p) + TriangleMarker::new((0, 0), 5, filled);
                $body
            }
            2 => {
                let $make = |p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], filled);
                $body
            }
            3 => {
                let $make = |p| EmptyElement::at(p) + Cross::new((0, 0), 4, open);
                $body
            }
            4 => {
                let $make = |p| EmptyElement::at(p) + Circle::new((0, 0), 4, open);
                $body
            }
            _ => {
                let $make = |p| EmptyElement::at(p) + TriangleMarker::new((0, 0), 5, open);
                $body
            }
        }
    }};
}

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
    /// The last line of the legend: what the error bars span (e.g. `bars: min..max over 2 seeds`).
    pub note: String,
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

/// Width of the plot and of one legend column.
const WIDTH: u32 = 760;
const LEGEND_COLUMN: i32 = 250;
/// Height of the data panel and of one legend row.
const PLOT_HEIGHT: u32 = 420;
const LEGEND_ROW: i32 = 20;

/// Writes the plot as `path` (`.svg`) and beside it as PNG (`.png`), each atomically
/// (temporary file, then rename): lines through the means on numeric axes; points only, each
/// method shifted slightly, on a categorical axis (`x_names`: integer x positions named). The
/// legend runs in rows of three under the data, ending with the note.
///
/// # Errors
/// A plot that cannot be drawn or written.
pub fn line_plot(path: &Path, spec: &PlotSpec, series: &[Series]) -> Result<()> {
    let rows = series.len().div_ceil(3) as u32 + 1;
    let size = (WIDTH, PLOT_HEIGHT + 16 + rows * LEGEND_ROW as u32);
    save(path, size, |root| draw(root, spec, series), |root| draw(root, spec, series))
}

/// Draws a plot of `size` as `path` with extension `.svg` (by `svg`) and `.png` (by `png`, the
/// same drawing on the bitmap backend), each into a temporary file renamed into place, so an
/// interrupted run leaves no half plot.
fn save(
    path: &Path,
    size: (u32, u32),
    svg: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
    png: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let svg_path = path.with_extension("svg");
    let tmp = svg_path.with_extension("svg.tmp");
    svg(SVGBackend::new(&tmp, size).into_drawing_area())?;
    rename(&tmp, &svg_path)?;
    let png_path = path.with_extension("png");
    // The encoder picks the format from the file name, so the temporary file ends in .png.
    let tmp = png_path.with_extension("tmp.png");
    png(BitMapBackend::new(&tmp, size).into_drawing_area())?;
    rename(&tmp, &png_path)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| ExperimentError::Io {
        what: "cannot move the plot into",
        path: to.to_path_buf(),
        source,
    })
}

/// Draws the plot on `root` (any backend).
fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, spec: &PlotSpec, series: &[Series]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let PlotSpec { title, x_label, y_label, log_x, log_y, ref x_names, ref note } = *spec;
    let categorical = !x_names.is_empty();
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
    let methods = series.iter().filter(|s| !s.reference).count();
    let shift = |i: usize| if categorical { 0.12 * (i as f64 - (methods as f64 - 1.0) / 2.0) } else { 0.0 };
    root.fill(&WHITE)?;
    let (plot_area, legend_area) = root.split_vertically(PLOT_HEIGHT);
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
            let mut method = 0;
            for s in series {
                let pts: Vec<(f64, f64)> = s.points.iter().filter(|p| fin(p.1)).map(|p| (p.0, p.1)).collect();
                if s.reference {
                    chart.draw_series(DashedLineSeries::new(pts, 6, 4, REFERENCE.stroke_width(1)))?;
                    continue;
                }
                let (i, colour, dx) = (method, COLOURS[method % COLOURS.len()], shift(method));
                method += 1;
                let pts: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| (x + dx, y)).collect();
                if !categorical {
                    if i % 2 == 0 {
                        chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
                    } else {
                        chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 4, colour.stroke_width(2)))?;
                    }
                }
                chart.draw_series(
                    s.points
                        .iter()
                        .filter(|p| fin(p.2) && fin(p.3))
                        .map(|p| ErrorBar::new_vertical(p.0 + dx, p.2, p.1, p.3, colour.stroke_width(1), 6)),
                )?;
                with_marker!(i, colour, make => chart.draw_series(pts.iter().map(|&p| make(p)))?);
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
    // The legend: rows of three entries under the data, then the note.
    let mut method = 0;
    for (k, s) in series.iter().enumerate() {
        let (x, y) = (16 + LEGEND_COLUMN * (k % 3) as i32, 10 + LEGEND_ROW * (k / 3) as i32);
        if s.reference {
            legend_area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], REFERENCE.stroke_width(1)))?;
        } else {
            let colour = COLOURS[method % COLOURS.len()];
            // The method's line style as drawn: solid, or dashed for every second method; no
            // line on a categorical axis, which has none.
            let segments: &[(i32, i32)] = match (categorical, method % 2) {
                (true, _) => &[],
                (false, 0) => &[(0, 28)],
                (false, _) => &[(0, 8), (12, 20), (24, 28)],
            };
            for &(a, b) in segments {
                legend_area.draw(&PathElement::new(vec![(x + a, y), (x + b, y)], colour.stroke_width(2)))?;
            }
            with_marker!(method, colour, make => legend_area.draw(&make((x + 14, y)))?);
            method += 1;
        }
        legend_area.draw(&Text::new(s.label.clone(), (x + 36, y - 7), ("sans-serif", 12).into_font()))?;
    }
    let y = 10 + LEGEND_ROW * series.len().div_ceil(3) as i32;
    legend_area.draw(&Text::new(note.clone(), (16, y - 7), ("sans-serif", 12).into_font().color(&REFERENCE)))?;
    root.present()?;
    Ok(())
}

/// One cell of a categorical grid: its row and column, the index of its category (its colour,
/// see [`GRID_COLOURS`]) and its text.
pub struct GridCell {
    /// Row index.
    pub row: usize,
    /// Column index.
    pub col: usize,
    /// Category index (`None`: not applicable, drawn white).
    pub category: Option<usize>,
    /// Text written in the cell.
    pub text: String,
}

/// A categorical grid (rows x columns of coloured, labelled cells) with its legend.
pub struct GridSpec {
    /// Caption.
    pub title: String,
    /// Row names (left).
    pub rows: Vec<String>,
    /// Column names (top).
    pub cols: Vec<String>,
    /// The categories' names, in the order of [`GRID_COLOURS`] (an empty name: not in the legend).
    pub categories: Vec<String>,
    /// The cells.
    pub cells: Vec<GridCell>,
    /// The legend's last line.
    pub note: String,
}

/// The grid's category colours: Okabe-Ito's bluish green, sky blue, orange, vermillion, reddish
/// purple, then greys (light enough for black text on each).
pub const GRID_COLOURS: [RGBColor; 7] =
    [COLOURS[2], COLOURS[5], COLOURS[4], COLOURS[1], COLOURS[3], RGBColor(170, 170, 170), RGBColor(225, 225, 225)];

/// Draws `spec` as `path` with extension `.svg` and `.png` (as [`line_plot`]).
///
/// # Errors
/// The backend's errors; a file that cannot be moved into place.
pub fn grid_plot(path: &Path, spec: &GridSpec) -> Result<()> {
    let layout = (190i32, 150i32, 44i32, 70i32);
    let (label_w, cell_w, cell_h, top) = layout;
    let legend_rows = spec.categories.len().div_ceil(4) as i32 + 1;
    let width = (label_w + cell_w * spec.cols.len() as i32 + 16) as u32;
    let height = (top + cell_h * spec.rows.len() as i32 + 16 + LEGEND_ROW * legend_rows + 8) as u32;
    save(path, (width, height), |root| draw_grid(root, spec, layout), |root| draw_grid(root, spec, layout))
}

fn draw_grid<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    spec: &GridSpec,
    (label_w, cell_w, cell_h, top): (i32, i32, i32, i32),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    root.draw(&Text::new(spec.title.clone(), (12, 10), ("sans-serif", 16).into_font()))?;
    let font = ("sans-serif", 12).into_font();
    for (j, name) in spec.cols.iter().enumerate() {
        root.draw(&Text::new(name.clone(), (label_w + cell_w * j as i32 + 8, top - 20), font.clone()))?;
    }
    for (i, name) in spec.rows.iter().enumerate() {
        root.draw(&Text::new(name.clone(), (12, top + cell_h * i as i32 + cell_h / 2 - 7), font.clone()))?;
    }
    for c in &spec.cells {
        let (x, y) = (label_w + cell_w * c.col as i32, top + cell_h * c.row as i32);
        let fill = c.category.map_or(WHITE, |k| GRID_COLOURS[k % GRID_COLOURS.len()]);
        root.draw(&Rectangle::new([(x, y), (x + cell_w - 2, y + cell_h - 2)], fill.filled()))?;
        root.draw(&Rectangle::new([(x, y), (x + cell_w - 2, y + cell_h - 2)], BLACK.mix(0.3).stroke_width(1)))?;
        for (line, text) in c.text.lines().enumerate() {
            root.draw(&Text::new(text.to_string(), (x + 6, y + 6 + 15 * line as i32), font.clone()))?;
        }
    }
    let y0 = top + cell_h * spec.rows.len() as i32 + 16;
    let named = spec.categories.iter().enumerate().filter(|(_, name)| !name.is_empty());
    for (slot, (k, name)) in named.enumerate() {
        let (x, y) = (12 + 190 * (slot % 4) as i32, y0 + LEGEND_ROW * (slot / 4) as i32);
        root.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], GRID_COLOURS[k % GRID_COLOURS.len()].filled()))?;
        root.draw(&Text::new(name.clone(), (x + 20, y), font.clone()))?;
    }
    let y = y0 + LEGEND_ROW * spec.categories.len().div_ceil(4) as i32;
    root.draw(&Text::new(spec.note.clone(), (12, y), font.color(&REFERENCE)))?;
    root.present()?;
    Ok(())
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
