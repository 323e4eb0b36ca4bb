//! The zoo table's plot (`ssl-gmm zoo --out DIR`): one cell per loss and augmentation,
//! coloured by the outcome most of its mixtures gave, with the count and the median `sin` to `F`.

use std::path::Path;

use gmm_core::Sig3;
use verdict::Cell;

use crate::error::Result;
use crate::plot::{GridCell, GridSpec, grid_plot};

/// The plot's categories, in the order of the grid's colours (the sixth, a mid grey, unused).
const CATEGORIES: [&str; 7] =
    ["F", "collapsed in F / F + extra", "spectral (PCA, CCA, ...)", "none / not F", "not unique", "", "unresolved"];

/// The category of an outcome's name in the table ([`verdict::Cell::outcomes`]).
fn category(outcome: &str) -> usize {
    match outcome {
        "F" => 0,
        o if o.starts_with("collapsed") || o.starts_with("F +") => 1,
        o if o.starts_with("none") || o.starts_with("not F") => 3,
        "not unique" => 4,
        "unresolved" => 6,
        _ => 2,
    }
}

/// Writes `path` (`.svg` and `.png`): the grid of `cells`, which [`verdict::run_table`] gives in
/// row-major order, `views` columns per loss.
///
/// # Errors
/// No views; the plot's errors.
pub fn zoo_plot(path: &Path, cells: &[Cell], views: usize, title: String) -> Result<()> {
    gmm_core::check_at_least(views, 1, "augmentations of the zoo plot")?;
    let mut spec = GridSpec {
        title,
        rows: cells.chunks(views).map(|row| row[0].loss.clone()).collect(),
        cols: cells.iter().take(views).map(|c| c.view.to_string()).collect(),
        categories: CATEGORIES.iter().map(|c| c.to_string()).collect(),
        cells: Vec::new(),
        note: "colour: the outcome most mixtures gave; text: that outcome, its count, the median sin to F (whitened); white: n/a".into(),
    };
    for (i, cell) in cells.iter().enumerate() {
        let (row, col) = (i / views, i % views);
        if cell.not_applicable.is_some() {
            spec.cells.push(GridCell { row, col, category: None, text: "n/a".into() });
            continue;
        }
        let Some((top, n)) = cell.ranked_outcomes(true).into_iter().next() else { continue };
        let mut name: String = top.chars().take(22).collect();
        if name.len() < top.len() {
            name.push_str("...");
        }
        let sin = cell.median_sin_to_fisher.map(|s| format!(", sin {}", Sig3(s))).unwrap_or_default();
        spec.cells.push(GridCell {
            row,
            col,
            category: Some(category(&top)),
            text: format!("{name}\n{n}/{}{sin}", cell.cases),
        });
    }
    grid_plot(path, &spec)
}
