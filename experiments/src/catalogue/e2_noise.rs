//! E2, augmentation noise: the coupling `delta` between the two views of a pair, with downstream
//! k-means and LDA accuracy on held-out samples.

use super::mixture::{Setup, about, base, mixture_rows};
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E2: `sin theta_max` to F against the coupling `delta` (`e2_deltas`).
pub struct E2;

impl Experiment for E2 {
    fn about(&self) -> About {
        let required = &[Metric::SinThetaMax, Metric::ShareOutside, Metric::Ari, Metric::Nmi, Metric::Accuracy];
        About {
            required,
            ..about(("E2", "e2_augmentation_noise", "E2 augmentation noise: coupling δ"), "coupling δ", false)
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e2_deltas.iter().map(|&d| (d, format!("delta {d}"))).collect()
    }

    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        mixture_rows(job, &base(job, s, s.d)?, Setup { delta: job.setting, evaluate: true, ..Setup::new(s) }, s)
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        let at = |k: usize| st.points(Method::InfoNce).get(k).map_or((f64::NAN, f64::NAN), |p| (p.setting, p.mean));
        let ((d0, e0), (d1, e1)) = (at(0), at(1));
        format!(
            "InfoNCE's sin theta_max to F is {e1:.3} at delta = {d1} and {e0:.3} at delta = {d0} (no signal); LDA uses labels and does not depend on delta."
        )
    }
}
