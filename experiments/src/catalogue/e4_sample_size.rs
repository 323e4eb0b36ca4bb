//! E4, sample size: the size `n` of the fixed sample, every map trained to its certificate, so
//! that log-log slopes of the error against `n` are rates.

use super::mixture::{Setup, about, base, mixture_rows};
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::plot::Series;
use crate::row::{Method, Row};
use crate::stats::{Point, Stats};
use crate::sweeps::Sweeps;

/// E4: `sin theta_max` to F against the sample size `n` (`e4_samples`).
pub struct E4;

/// The log-log slope of a method's mean error against the setting, two decimals (`n/a` with
/// fewer than two settings).
fn slope(points: &[Point]) -> String {
    let xs: Vec<f64> = points.iter().map(|p| p.setting).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.mean.max(1e-300)).collect();
    // A slope that rounds to zero prints as 0.00, not -0.00.
    baselines::stats::log_log_slope(&xs, &ys)
        .map_or_else(|| "n/a".into(), |a| format!("{:.2}", a + 0.0).replace("-0.00", "0.00"))
}

impl Experiment for E4 {
    fn about(&self) -> About {
        About { log_y: true, ..about(("E4", "e4_sample_size", "E4 sample size n"), "pairs / samples n", true) }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e4_samples.iter().map(|&n| (n as f64, format!("n {n}"))).collect()
    }

    /// Sample size is E4's axis: fixed samples only (whitened SimSiam trains on a stream).
    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        let setup = Setup { n: job.setting as usize, simsiam: false, ..Setup::new(s) };
        mixture_rows(job, &base(job, s, s.d)?, setup, s)
    }

    /// Each method's fitted log-log slope, in its legend label.
    fn legend_note(&self, _: Method, points: &[Point]) -> String {
        format!(", slope {}", slope(points))
    }

    /// The rate `n^{-1/2}` through CCA's mean at the smallest n (the label-free closed form, the
    /// noise floor every trained map is compared with).
    fn references(&self, st: &Stats) -> Vec<Series> {
        let Some((_, cca)) = st.iter().find(|(m, _)| *m == Method::Cca) else { return Vec::new() };
        let Some(first) = cca.first().filter(|p| p.mean.is_finite() && p.mean > 0.0) else { return Vec::new() };
        let scale = first.mean * first.setting.sqrt();
        let points = cca.iter().map(|p| (p.setting, scale / p.setting.sqrt())).map(|(x, y)| (x, y, y, y)).collect();
        vec![Series { label: "n^(-1/2) through CCA at the smallest n".into(), points, reference: true }]
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        format!(
            "Log-log slopes of the error against n (theory: -1/2 for the consistent methods): {}.",
            st.iter().map(|(m, p)| format!("{m} {}", slope(p))).collect::<Vec<_>>().join(", ")
        )
    }
}
