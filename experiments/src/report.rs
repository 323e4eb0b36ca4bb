//! Outputs of a run: tidy CSVs, plots (SVG and PNG), `report.md` (its prose in `report_template.md`, each
//! experiment's sentence in its own module) and `summary.json`; and reading the CSVs of sharded
//! runs back for a merge.

use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};
use crate::experiment::Experiment;
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

/// The prefix of the CSV columns of a map's singular values (`singular_value_1`, ...).
const SINGULAR_VALUE: &str = "singular_value_";

impl Suite<'_> {
    /// Writes one tidy CSV per experiment (`<stem>.csv`, one row per experiment, setting,
    /// method, seed) into `out`, atomically: the row's fields, then the map's singular values in
    /// columns `singular_value_1`, ... (empty where a map has fewer).
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn write_csvs(&self, rows: &[Row], out: &Path) -> Result<()> {
        for e in self.experiments() {
            let about = e.about();
            let mine: Vec<&Row> = rows.iter().filter(|r| r.experiment == about.id).collect();
            let columns = mine.iter().map(|r| r.singular_values.len()).max().unwrap_or(0);
            // The fields by serde (its header included), then the singular values appended.
            let mut fields = csv::Writer::from_writer(Vec::new());
            for r in &mine {
                fields.serialize(r)?;
            }
            let fields = fields.into_inner().map_err(|e| ExperimentError::Data(e.to_string()))?;
            let mut records = csv::Reader::from_reader(fields.as_slice());
            let mut header = records.headers()?.clone();
            (1..=columns).for_each(|i| header.push_field(&format!("{SINGULAR_VALUE}{i}")));
            let path = out.join(format!("{}.csv", about.stem));
            write_atomic(&path, |w| -> Result<()> {
                let mut csv = csv::Writer::from_writer(w);
                if !mine.is_empty() {
                    csv.write_record(&header)?;
                }
                for (record, r) in records.records().zip(&mine) {
                    let mut record = record?;
                    for i in 0..columns {
                        record.push_field(&r.singular_values.get(i).map(f64::to_string).unwrap_or_default());
                    }
                    csv.write_record(&record)?;
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
                let header = reader.headers().map_err(bad)?.clone();
                let singular: Vec<usize> =
                    (0..header.len()).filter(|&i| header[i].starts_with(SINGULAR_VALUE)).collect();
                for record in reader.records() {
                    let record = record.map_err(bad)?;
                    let mut row: Row = record.deserialize(Some(&header)).map_err(bad)?;
                    for &i in &singular {
                        if record[i].is_empty() {
                            break;
                        }
                        let v = record[i].parse::<f64>().map_err(|e| {
                            ExperimentError::Data(format!("{}: {} = {:?}: {e}", path.display(), &header[i], &record[i]))
                        })?;
                        row.singular_values.push(v);
                    }
                    rows.push(row);
                }
            }
        }
        if rows.is_empty() {
            return Err(ExperimentError::Data("no experiment CSVs found in the given folders".into()));
        }
        sort_rows(&mut rows);
        Ok(rows)
    }

    /// Writes one plot (SVG and PNG) per experiment, `report.md` (how each map is obtained, the headline
    /// table, one sentence per experiment, the plots) and `summary.json` into `out`; `seconds`
    /// is the run time to state (`None` after a merge).
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn write_report(&self, rows: &[Row], out: &Path, seconds: Option<f64>) -> Result<()> {
        let certified: Vec<&Row> = rows.iter().filter(|r| r.solver == Solver::Lbfgs).collect();
        let failed = certified.iter().filter(|r| r.converged == Some(false)).count();
        let whitened: Vec<&Row> = rows.iter().filter(|r| r.method == Method::SimSiamEpochs).collect();
        let mut headline = String::from("| experiment | method | setting | metric | value |\n|---|---|---|---|---|\n");
        let mut summary = serde_json::Map::new();
        let mut sections = String::new();
        for e in self.experiments() {
            let about = e.about();
            let st = Stats::new(rows, about.id, about.metric);
            if st.is_empty() {
                continue;
            }
            plot(*e, rows, &st, out)?;
            let mut json = serde_json::Map::new();
            for (m, pts) in st.iter() {
                let Some(last) = pts.last() else { continue };
                headline.push_str(&format!(
                    "| {} | {m} | {} | {} | {:.3} |\n",
                    about.id, last.label, about.y_label, last.mean
                ));
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

/// The experiment's plot (SVG and PNG): each method's mean and spread over seeds, marked "not
/// certified" when one of its trained maps has no certificate, with the experiment's own legend
/// notes and reference lines, and a note saying what the bars span.
fn plot(e: &dyn Experiment, rows: &[Row], st: &Stats, out: &Path) -> Result<()> {
    let about = e.about();
    let uncertified =
        |m: Method| rows.iter().any(|r| r.experiment == about.id && r.method == m && r.converged == Some(false));
    let mut series: Vec<Series> = st
        .iter()
        .map(|(m, pts)| Series {
            label: format!("{m}{}{}", if uncertified(m) { " (not certified)" } else { "" }, e.legend_note(m, pts)),
            reference: false,
            points: pts
                .iter()
                .map(|p| (p.setting.max(if about.log_x { 1e-9 } else { f64::MIN }), p.mean, p.min, p.max))
                .collect(),
        })
        .collect();
    series.extend(e.references(st));
    let (fewest, most) = st
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.seeds))
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    let seeds = if fewest == most { format!("{most}") } else { format!("{fewest} to {most}") };
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
        note: format!("points: mean over seeds; bars: min..max over {seeds} seeds"),
    };
    line_plot(&out.join(format!("{}.svg", about.stem)), &spec, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_values_have_their_own_columns_and_read_back_exactly() {
        let suite = Suite::paper();
        let e5 = suite.find("E5").expect("E5 is in the paper's suite");
        let job = crate::experiment::Job { experiment: e5, setting: 2.0, label: "r 2".into(), seed: 3 };
        let mut rows = vec![job.row(Method::Pca, Solver::ClosedForm), job.row(Method::Lda, Solver::ClosedForm)];
        rows[0].singular_values = vec![1.0 / 3.0, 2e-17, 0.1];
        rows[1].singular_values = vec![0.5];
        let dir = std::env::temp_dir().join(format!("ssl-gmm-sv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        suite.write_csvs(&rows, &dir).unwrap();
        let text = std::fs::read_to_string(dir.join("e5_output_dimension.csv")).unwrap();
        let header = text.lines().next().unwrap();
        assert!(header.ends_with("singular_value_1,singular_value_2,singular_value_3"), "{header}");
        assert!(text.lines().nth(2).unwrap().ends_with(",0.5,,"), "{text}");
        let back = suite.read_rows(std::slice::from_ref(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut want = rows.clone();
        sort_rows(&mut want);
        assert_eq!(back, want);
    }

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
