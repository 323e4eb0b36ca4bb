//! `ssl-gmm zoo`: the zoo's losses against augmentations over random mixtures (crate `verdict`),
//! each cell's outcomes and statistics as a table, CSV and JSON.

use std::fmt::Write as _;
use std::path::PathBuf;

use gmm_core::Sig3;
use verdict::{Cell, View, ZOO_LOSSES, run_table};

use super::io::write_atomic;

/// Arguments of `zoo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// 4 mixtures per cell instead of 12.
    #[arg(long)]
    quick: bool,
    /// Mixtures per cell (overrides --quick).
    #[arg(long)]
    cases: Option<usize>,
    /// The losses, comma separated: spectral, infonce, barlow, barlow-10, vicreg, vicreg-100,
    /// simsiam-flow, byol-flow, simsiam-flow-raw, byol-flow-raw (default all). Hyper-parameters
    /// of your choice follow a colon as key=value pairs separated by colons: infonce:tau=0.5,
    /// barlow:lambda=0.1, vicreg:inv=25:var=25:cov=10, byol-flow:decay=0.1:momentum=0.05.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    losses: Option<Vec<String>>,
    /// The augmentations, comma separated: coupled, noise-iso, noise-sigma, noise-both, mask
    /// (default all).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    augmentations: Option<Vec<View>>,
    /// Master seed of the mixtures.
    #[arg(long, default_value_t = 20_241_105)]
    seed: u64,
    /// Write zoo.csv, zoo.json and the grid plot zoo.svg / zoo.png into this directory (created if
    /// missing; files replaced whole).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the cells as JSON lines instead of the table.
    #[arg(long)]
    json: bool,
    /// No progress lines on standard error.
    #[arg(long)]
    quiet: bool,
}

/// A cell as it reads in the table: every outcome with its count (the most frequent first), the
/// fits without a verdict, the median `sin` to `F` of those with one (and to the nearest
/// yardstick of those with none), or "n/a" where the loss does not apply.
fn entry(cell: &Cell) -> String {
    if cell.not_applicable.is_some() {
        return "n/a".into();
    }
    let mut parts: Vec<String> = cell.ranked_outcomes(false).iter().map(|(o, n)| format!("{o} {n}")).collect();
    if cell.resolved < cell.cases {
        parts.push(format!("unresolved {}", cell.cases - cell.resolved));
    }
    let mut stats: Vec<String> = Vec::new();
    if let Some(s) = cell.median_sin_to_fisher {
        stats.push(format!("median sin to F {}", Sig3(s)));
    }
    if let Some(s) = cell.median_sin_to_nearest {
        stats.push(format!("to nearest {}", Sig3(s)));
    }
    if let Some(s) = cell.median_tolerance {
        stats.push(format!("tolerance {}", Sig3(s)));
    }
    if let (Some(gap), Some(t)) = (cell.median_held_out_gap, cell.min_held_out_t) {
        stats.push(format!("held-out loss gap of the best map in F {} nats, smallest t {:.1}", Sig3(gap), t));
    }
    let stats = if stats.is_empty() { String::new() } else { format!(" ({})", stats.join("; ")) };
    format!("{}{stats}", parts.join(", "))
}

fn table(cells: &[Cell], views: &[View], cases: usize, seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Population minimisers of each loss (for the SimSiam/BYOL flows, their full-rank stable fixed point) on each augmentation over {cases} random mixtures (master seed {seed}; r = k - 1; a cell: how many of the mixtures gave each certified outcome, how many had no verdict, and over those with one the median sin theta_max to F and the median tolerance, the distance bound or the quadrature's floor, in the anchors' whitened coordinates). InfoNCE on masked views has no population form: its cell is decided from samples, by whether the best map inside F loses to the unrestricted fit on held-out pairs (one-sided paired t-test at level 1e-3; the gap in nats and the smallest t).\n"
    );
    let _ = writeln!(s, "| loss | {} |", views.iter().map(|v| v.name()).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(views.len()));
    for row in cells.chunks(views.len()) {
        let entries: Vec<String> = row.iter().map(entry).collect();
        let _ = writeln!(s, "| {} | {} |", row[0].loss, entries.join(" | "));
    }
    let mut reasons: Vec<String> = Vec::new();
    for c in cells {
        if let Some(why) = &c.not_applicable {
            let line = format!("n/a ({} on {}): {why}.", c.loss, c.view);
            if !reasons.contains(&line) {
                reasons.push(line);
            }
        }
    }
    if !reasons.is_empty() {
        let _ = writeln!(s, "\n{}", reasons.join("\n"));
    }
    s
}

fn csv(cells: &[Cell]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "loss",
        "augmentation",
        "cases",
        "resolved",
        "outcome",
        "count",
        "median_sin_to_f",
        "max_sin_to_f",
        "median_sin_to_nearest",
        "median_tolerance",
        "median_held_out_gap",
        "min_held_out_t",
        "not_applicable",
        "seconds",
    ])?;
    for c in cells {
        let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let rows: Vec<(String, usize)> = if c.not_applicable.is_some() {
            vec![("n/a".into(), 0)]
        } else if c.outcomes.is_empty() {
            vec![("unresolved".into(), 0)]
        } else {
            c.outcomes.clone().into_iter().collect()
        };
        for (outcome, count) in rows {
            w.write_record([
                c.loss.clone(),
                c.view.to_string(),
                c.cases.to_string(),
                c.resolved.to_string(),
                outcome,
                count.to_string(),
                number(c.median_sin_to_fisher),
                number(c.max_sin_to_fisher),
                number(c.median_sin_to_nearest),
                number(c.median_tolerance),
                number(c.median_held_out_gap),
                number(c.min_held_out_t),
                c.not_applicable.clone().unwrap_or_default(),
                format!("{:.3}", c.seconds),
            ])?;
        }
    }
    Ok(w.into_inner()?)
}

/// Runs `zoo`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let cases = args.cases.unwrap_or(if args.quick { 4 } else { 12 });
    let losses: Vec<String> = args.losses.clone().unwrap_or_else(|| ZOO_LOSSES.iter().map(|s| s.to_string()).collect());
    let views: Vec<View> = args.augmentations.clone().unwrap_or_else(|| View::ALL.to_vec());
    let cells = run_table(&losses, &views, cases, args.seed, |cell| {
        if !args.quiet {
            eprintln!("{} on {}: {} ({:.1} s)", cell.loss, cell.view, entry(cell), cell.seconds);
        }
    })?;
    if args.json {
        for c in &cells {
            outln!("{}", serde_json::to_string(c)?);
        }
    } else {
        outln!("{}", table(&cells, &views, cases, args.seed).trim_end());
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        let bytes = csv(&cells)?;
        write_atomic(&dir.join("zoo.csv"), |w| Ok(std::io::Write::write_all(w, &bytes)?))?;
        let json = serde_json::to_vec_pretty(&cells)?;
        write_atomic(&dir.join("zoo.json"), |w| Ok(std::io::Write::write_all(w, &json)?))?;
        let title = format!("Population minimisers over {cases} mixtures (master seed {})", args.seed);
        experiments::zoo_plot(&dir.join("zoo"), &cells, views.len(), title)?;
    }
    Ok(())
}
