//! Outputs of a run: tidy CSVs, SVG plots, `report.md` (its prose in `report_template.md`, each
//! experiment's sentence in its own module) and `summary.json`; and reading the CSVs of sharded
//! runs back for a merge.

use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};
use crate::io::write_atomic;
use crate::plot::{PlotSpec, Series, line_plot};
use crate::row::{Method, Row, Solver, sort_rows};
use crate::run::Suite;
use crate::stats::Stats;

/// The report's prose: `{name}` marks a value the code fills in ([`fill`]).
const TEMPLATE: &str = include_str!("report_template.md");

/// `template` with each `{name}` replaced by its value in `values`, in one pass (a value is never
/// scanned again); unknown names are kept as written.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| values.iter().find(|(k, _)| *k == &after[..close]).map(|v| (close, v))) {
            Some((close, (_, value))) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Suite<'_> {
    /// Writes one tidy CSV per experiment (`<stem>.csv`, one row per experiment, setting,
    /// method, seed) into `out`, atomically.
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn write_csvs(&self, rows: &[Row], out: &Path) -> Result<()> {
        for e in self.experiments() {
            let about = e.about();
            let path = out.join(format!("{}.csv", about.stem));
            write_atomic(&path, |w| -> Result<()> {
                let mut csv = csv::Writer::from_writer(w);
                for r in rows.iter().filter(|r| r.experiment == about.id) {
                    csv.serialize(r)?;
                }
                csv.flush()?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Reads the rows of the experiment CSVs found in `dirs` (the outputs of sharded runs),
    /// sorted by experiment, setting, method and seed.
    ///
    /// # Errors
    /// An unreadable CSV or a bad row, naming the file; no CSV at all.
    pub fn read_rows(&self, dirs: &[PathBuf]) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        for dir in dirs {
            for e in self.experiments() {
                let path = dir.join(format!("{}.csv", e.about().stem));
                if !path.exists() {
                    continue;
                }
                let bad = |e: csv::Error| ExperimentError::Data(format!("{}: {e}", path.display()));
                let mut reader = csv::Reader::from_path(&path).map_err(bad)?;
                for r in reader.deserialize::<Row>() {
                    rows.push(r.map_err(bad)?);
                }
            }
        }
        if rows.is_empty() {
            return Err(ExperimentError::Data("no experiment CSVs found in the given folders".into()));
        }
        sort_rows(&mut rows);
        Ok(rows)
    }

    /// Writes one SVG plot per experiment, `report.md` (how each map is obtained, the headline
    /// table, one sentence per experiment, the plots) and `summary.json` into `out`; `seconds`
    /// is the run time to state (`None` after a merge).
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn write_report(&self, rows: &[Row], out: &Path, seconds: Option<f64>) -> Result<()> {
        let certified: Vec<&Row> = rows.iter().filter(|r| r.solver == Solver::Lbfgs).collect();
        let failed = certified.iter().filter(|r| r.converged == Some(false)).count();
        let whitened: Vec<&Row> = rows.iter().filter(|r| r.method == Method::SimSiamEpochs).collect();
        let mut headline = String::from("| experiment | method | setting | value |\n|---|---|---|---|\n");
        let mut summary = serde_json::Map::new();
        let mut sections = String::new();
        for e in self.experiments() {
            let about = e.about();
            let st = Stats::new(rows, about.id, about.metric);
            if st.is_empty() {
                continue;
            }
            plot(rows, &about, &st, out)?;
            let mut json = serde_json::Map::new();
            for (m, pts) in st.iter() {
                let Some(last) = pts.last() else { continue };
                headline.push_str(&format!("| {} | {m} | {} | {:.3} |\n", about.id, last.label, last.mean));
                let points: Vec<serde_json::Value> = pts
                    .iter()
                    .map(|p| {
                        serde_json::json!({"setting": p.setting, "label": p.label, "mean": p.mean, "min": p.min, "max": p.max, "seeds": p.seeds})
                    })
                    .collect();
                json.insert(m.name().into(), serde_json::json!(points));
            }
            summary.insert(about.id.into(), serde_json::json!({"metric": about.y_label, "methods": json}));
            sections.push_str(&format!(
                "## {}\n\n{}\n\n![{}]({}.svg)\n\nData: `{}.csv`.\n\n",
                about.title,
                e.sentence(rows, &st),
                about.id,
                about.stem,
                about.stem
            ));
        }
        let run_time = seconds.map_or_else(String::new, |s| format!("Run time: {s:.1} s.\n\n"));
        let report = fill(
            TEMPLATE,
            &[
                ("run_time", &run_time),
                ("certified", &(certified.len() - failed).to_string()),
                ("fits", &certified.len().to_string()),
                ("whitened_certified", &whitened.iter().filter(|r| r.converged == Some(true)).count().to_string()),
                ("whitened_runs", &whitened.len().to_string()),
                ("epochs", Method::SimSiamEpochs.name()),
                ("headline", &headline),
                ("sections", &sections),
            ],
        );
        write_atomic(&out.join("report.md"), |w| -> Result<()> {
            Ok(std::io::Write::write_all(w, report.as_bytes())?)
        })?;
        write_atomic(&out.join("summary.json"), |w| -> Result<()> { Ok(serde_json::to_writer_pretty(w, &summary)?) })?;
        Ok(())
    }
}

/// The experiment's SVG plot: each method's mean and spread over seeds, marked "not certified"
/// when one of its trained maps has no certificate.
fn plot(rows: &[Row], about: &crate::experiment::About, st: &Stats, out: &Path) -> Result<()> {
    let uncertified =
        |m: Method| rows.iter().any(|r| r.experiment == about.id && r.method == m && r.converged == Some(false));
    let series: Vec<Series> = st
        .iter()
        .map(|(m, pts)| Series {
            label: if uncertified(m) { format!("{m} (not certified)") } else { m.to_string() },
            points: pts
                .iter()
                .map(|p| (p.setting.max(if about.log_x { 1e-9 } else { f64::MIN }), p.mean, p.min, p.max))
                .collect(),
        })
        .collect();
    let x_names: Vec<String> = if about.categorical {
        let mut names: Vec<(u64, String)> =
            rows.iter().filter(|r| r.experiment == about.id).map(|r| (r.setting.to_bits(), r.label.clone())).collect();
        names.sort();
        names.dedup();
        names.into_iter().map(|(_, n)| n).collect()
    } else {
        Vec::new()
    };
    let spec = PlotSpec {
        title: about.title,
        x_label: about.x_label,
        y_label: about.y_label,
        log_x: about.log_x,
        log_y: about.log_y,
        x_names,
    };
    line_plot(&out.join(format!("{}.svg", about.stem)), &spec, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_filled_in_one_pass() {
        assert_eq!(fill("a {x} b {y} {z}", &[("x", "{y}"), ("y", "2")]), "a {y} b 2 {z}");
        assert_eq!(fill("{", &[]), "{");
        for key in
            ["run_time", "certified", "fits", "whitened_certified", "whitened_runs", "epochs", "headline", "sections"]
        {
            assert!(TEMPLATE.contains(&format!("{{{key}}}")), "{key}");
        }
    }
}
