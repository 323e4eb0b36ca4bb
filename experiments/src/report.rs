//! Outputs of a run: tidy CSVs, SVG plots, `report.md` and `summary.json`; and reading the CSVs
//! of sharded runs back for a merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};
use crate::experiment::{Experiment, Metric};
use crate::io::write_atomic;
use crate::plot::{PlotSpec, Series, line_plot};
use crate::run::{Row, SIMSIAM, SIMSIAM_EPOCHS};

/// Writes one tidy CSV per experiment (`<stem>.csv`, one row per experiment, setting, method,
/// seed) into `out`, atomically.
///
/// # Errors
/// A file that cannot be written.
pub fn write_csvs(rows: &[Row], out: &Path) -> Result<()> {
    for id in Experiment::ALL {
        let path = out.join(format!("{}.csv", id.stem()));
        write_atomic(&path, |w| -> Result<()> {
            let mut csv = csv::Writer::from_writer(w);
            for r in rows.iter().filter(|r| r.experiment == id) {
                csv.serialize(r)?;
            }
            csv.flush()?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Reads the rows of the experiment CSVs found in `dirs` (the outputs of sharded runs), sorted
/// by experiment, setting, method and seed.
///
/// # Errors
/// An unreadable CSV or a bad row, naming the file; no CSV at all.
pub fn read_rows(dirs: &[PathBuf]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for dir in dirs {
        for id in Experiment::ALL {
            let path = dir.join(format!("{}.csv", id.stem()));
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

/// Sorts rows by experiment, setting, method and seed (the order of a single run's CSVs).
pub(crate) fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        (&a.experiment, a.setting, &a.method, a.seed)
            .partial_cmp(&(&b.experiment, b.setting, &b.method, b.seed))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// Mean and spread (min, max over seeds) of a metric per method and setting.
type Stats = BTreeMap<String, Vec<(f64, String, f64, f64, f64, usize)>>;

fn stats(rows: &[Row], id: Experiment, metric: Metric) -> Stats {
    let mut groups: BTreeMap<(String, u64, String), Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.experiment == id) {
        if let Some(v) = metric.of(r).filter(|v| v.is_finite()) {
            groups.entry((r.method.clone(), r.setting.to_bits(), r.label.clone())).or_default().push(v);
        }
    }
    let mut out: Stats = BTreeMap::new();
    for ((method, bits, label), v) in groups {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        out.entry(method).or_default().push((f64::from_bits(bits), label, mean, lo, hi, v.len()));
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// The mean over seeds of method `m` at its last setting (NaN without one: the report says so).
fn last_mean(st: &Stats, m: &str) -> f64 {
    st.get(m).and_then(|p| p.last()).map_or(f64::NAN, |p| p.2)
}

/// The mean over seeds of method `m` at `setting` (NaN without one).
fn mean_at(st: &Stats, m: &str, setting: f64) -> f64 {
    st.get(m).and_then(|p| p.iter().find(|q| q.0 == setting)).map_or(f64::NAN, |p| p.2)
}

/// The log-log slope of a method's mean error against the setting, two decimals (`n/a` with
/// fewer than two settings).
fn slope(points: &[(f64, String, f64, f64, f64, usize)]) -> String {
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.2.max(1e-300)).collect();
    baselines::stats::log_log_slope(&xs, &ys).map_or_else(|| "n/a".into(), |a| format!("{a:.2}"))
}

/// Writes one SVG plot per experiment, `report.md` (how each map is obtained, the headline
/// table, one sentence per experiment, the plots) and `summary.json` into `out`; `seconds` is
/// the run time to state (`None` after a merge).
///
/// # Errors
/// A file that cannot be written.
pub fn write_report(rows: &[Row], out: &Path, seconds: Option<f64>) -> Result<()> {
    let mut report = String::from(
        "# Reproduction report\n\nBansal, Kavis, Sanghavi, *Understanding Self-Supervised Learning via Gaussian Mixture Models* (arXiv 2411.03517): linear encoders trained with InfoNCE and whitened SimSiam on augmentation pairs, against CCA on pairs (label-free, closed form), PCA and supervised LDA. Every number is a mean over seeds; error bars span min..max over seeds.\n\n",
    );
    if let Some(seconds) = seconds {
        report.push_str(&format!("Run time: {seconds:.1} s.\n\n"));
    }
    let certified: Vec<&Row> = rows.iter().filter(|r| r.solver == "lbfgs").collect();
    let failed = certified.iter().filter(|r| r.converged == Some(false)).count();
    let whitened: Vec<&Row> = rows.iter().filter(|r| r.method == SIMSIAM || r.method == SIMSIAM_EPOCHS).collect();
    report.push_str(&format!(
        "How each map is obtained. InfoNCE (tau = 1, one-way, dot score): a fixed sample of n pairs, the mean batch loss over a fixed partition into batches, on centred and whitened inputs (label-free), minimised by L-BFGS to a relative gradient norm of 1e-5 (the certificate, docs/theory.md 5.3): {} of {} fits certified. CCA on pairs, PCA and LDA: closed forms on the same n. {SIMSIAM}: its recipe (projected SGD with momentum under A M A^T = I, the predictor slowed where the signal is weak so that its noise stays below the signal, docs/theory.md 6) on a stream of fresh pairs (so it sees far more data than n), with a step budget per start set by the eigenvalues of its problem (5x to 25x the streaming budget) and up to 4 random starts (budgets 1x, 2x, 4x, 4x) until one is certified; stop-gradient dynamics minimise no cost, so its certificate is its distance to the known optimum of the problem it solves (sin theta_max <= 0.05, docs/theory.md 5.3): {} of {} runs certified. CLIP (E6) trains on a stream without a certificate. E7 pairs samples of the same class (supervised pairing); E8 pairs two label-free augmented views of an image, and {SIMSIAM_EPOCHS} runs its recipe over epochs of those pairs, certified against the optimum on the pairs' own moments. Every trained map without a certificate is marked \"not certified\" in the plots and `converged = false` in the CSVs, whose columns `solver`, `n`, `converged`, `relative_grad` (InfoNCE) and `sin_to_optimum` (whitened SimSiam) say this per row.\n\n",
        certified.len() - failed,
        certified.len(),
        whitened.iter().filter(|r| r.converged == Some(true)).count(),
        whitened.len(),
    ));
    let mut headline = String::from("| experiment | method | setting | value |\n|---|---|---|---|\n");
    let mut summary = serde_json::Map::new();
    let mut sections = String::new();
    for id in Experiment::ALL {
        let (stem, title, name, x_label) = (id.stem(), id.title(), id.y_label(), id.x_label());
        let (log_x, log_y) = id.log_axes();
        let st = stats(rows, id, id.metric());
        if st.is_empty() {
            continue;
        }
        let uncertified =
            |m: &str| rows.iter().any(|r| r.experiment == id && r.method == m && r.converged == Some(false));
        let series: Vec<Series> = st
            .iter()
            .map(|(m, pts)| Series {
                label: if uncertified(m) { format!("{m} (not certified)") } else { m.clone() },
                points: pts.iter().map(|p| (p.0.max(if log_x { 1e-9 } else { f64::MIN }), p.2, p.3, p.4)).collect(),
            })
            .collect();
        let x_names: Vec<String> = if id.categorical() {
            let mut names: Vec<(u64, String)> =
                rows.iter().filter(|r| r.experiment == id).map(|r| (r.setting.to_bits(), r.label.clone())).collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|(_, n)| n).collect()
        } else {
            Vec::new()
        };
        let spec = PlotSpec { title, x_label, y_label: name, log_x, log_y, x_names };
        line_plot(&out.join(format!("{stem}.svg")), &spec, &series)?;
        let mut json = serde_json::Map::new();
        for (m, pts) in &st {
            let last = pts.last().expect("non-empty");
            headline.push_str(&format!("| {} | {m} | {} | {:.3} |\n", id.id(), last.1, last.2));
            json.insert(m.clone(), serde_json::json!(pts.iter().map(|p| serde_json::json!({"setting": p.0, "label": p.1, "mean": p.2, "min": p.3, "max": p.4, "seeds": p.5})).collect::<Vec<_>>()));
        }
        summary.insert(id.id().into(), serde_json::json!({"metric": name, "methods": json}));
        let get = |m: &str| last_mean(&st, m);
        let sentence = match id {
            Experiment::E1 => format!(
                "sin theta_max to F at the largest condition number (lower is better): PCA {:.3}, InfoNCE {:.3}, SimSiam-whitened {:.3}, CCA {:.3}, LDA {:.3}; the plot shows where each method departs from the Fisher subspace as Sigma becomes anisotropic.",
                get("PCA"),
                get("InfoNCE"),
                get(SIMSIAM),
                get("CCA"),
                get("LDA")
            ),
            Experiment::E2 => {
                let at = |m: &str, k: usize| {
                    st.get(m).and_then(|p| p.get(k)).map(|p| (p.0, p.2)).unwrap_or((f64::NAN, f64::NAN))
                };
                let ((d0, e0), (d1, e1)) = (at("InfoNCE", 0), at("InfoNCE", 1));
                format!(
                    "InfoNCE's sin theta_max to F is {e1:.3} at delta = {d1} and {e0:.3} at delta = {d0} (no signal); LDA uses labels and does not depend on delta."
                )
            }
            Experiment::E3 => format!(
                "At the largest dimension: InfoNCE {:.3}, CCA {:.3}, LDA {:.3}, PCA {:.3}.",
                get("InfoNCE"),
                get("CCA"),
                get("LDA"),
                get("PCA")
            ),
            Experiment::E4 => format!(
                "Log-log slopes of the error against n (theory: -1/2 for the consistent methods): {}.",
                st.iter().map(|(m, p)| format!("{m} {}", slope(p))).collect::<Vec<_>>().join(", ")
            ),
            Experiment::E5 => {
                let weight = stats(rows, id, Metric::ShareOutside);
                let w = |m: &str| last_mean(&weight, m);
                format!(
                    "Containment, not ranking (docs/theory.md 5.6): at the largest r, F lies in row(A) up to sin theta_max {:.3} for InfoNCE and {:.3} for CCA (PCA: {:.3}). The weight on the extra directions, the share of ||A Sigma^1/2||^2 outside F (in the CSV), is a separate statistic: InfoNCE {:.3}, CCA {:.3}; a whitening constraint (CCA, whitened SimSiam) forces it up at the exact optimum, so it is not a failure.",
                    get("InfoNCE"),
                    get("CCA"),
                    get("PCA"),
                    w("InfoNCE"),
                    w("CCA")
                )
            }
            Experiment::E6 => format!(
                "CLIP's weight outside each modality's shared Fisher subspace falls with training to {:.2e} (x) and {:.2e} (y): the private directions are filtered out.",
                get("CLIP map A (x)"),
                get("CLIP map B (y)")
            ),
            Experiment::E7 => format!(
                "Held-out k-means ARI on the last data set: InfoNCE {:.3}, CCA {:.3}, LDA {:.3}, PCA {:.3}. Pairing by labels is the paper's augmentation model (a positive is another draw from the anchor's class): the within-class share of the pairs' cross-covariance along CCA's directions is {:.3} (0 in that model; compare E8).",
                get("InfoNCE"),
                get("CCA"),
                get("LDA"),
                get("PCA"),
                last_mean(&stats(rows, id, Metric::WithinClassShare), "CCA")
            ),
            Experiment::E8 => {
                let share = stats(rows, id, Metric::WithinClassShare);
                let recipes: Vec<String> = share
                    .get("CCA")
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "{}: InfoNCE {:.3}, CCA {:.3}, {SIMSIAM_EPOCHS} {:.3} (within-class share {:.2})",
                            p.1,
                            mean_at(&st, "InfoNCE", p.0),
                            mean_at(&st, "CCA", p.0),
                            mean_at(&st, SIMSIAM_EPOCHS, p.0),
                            p.2
                        )
                    })
                    .collect();
                format!(
                    "Digits with label-free augmentations (two views of an image are a pair, no label used by any pair method), held-out k-means ARI after whitening each representation by its own covariance, by recipe: {}; PCA {:.3} and supervised LDA {:.3} do not use the pairs. The views of an image keep its style (stroke width, slant, ink), so a large share of the pairs' cross-covariance along CCA's directions is within-class, where the paper's model (and E7's supervised pairing) has none: the pair methods then follow style as much as class (docs/theory.md 6).",
                    recipes.join("; "),
                    get("PCA"),
                    get("LDA")
                )
            }
        };
        sections
            .push_str(&format!("## {title}\n\n{sentence}\n\n![{}]({stem}.svg)\n\nData: `{stem}.csv`.\n\n", id.id()));
    }
    report.push_str("## Headline numbers (largest setting of each sweep)\n\n");
    report.push_str(&headline);
    report.push('\n');
    report.push_str(&sections);
    write_atomic(&out.join("report.md"), |w| -> Result<()> { Ok(std::io::Write::write_all(w, report.as_bytes())?) })?;
    write_atomic(&out.join("summary.json"), |w| -> Result<()> { Ok(serde_json::to_writer_pretty(w, &summary)?) })?;
    Ok(())
}
