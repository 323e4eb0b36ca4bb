//! E5, output dimension: the encoder's rows `r`, where containment of F in row(A) is the
//! statistic (not ranking), and the weight outside F a separate one.

use super::mixture::{Setup, about, base, mixture_rows};
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E5: containment of F in row(A) against the output dimension `r` (`e5_ranks`).
pub struct E5;

impl Experiment for E5 {
    fn about(&self) -> About {
        About {
            y_label: "sin θ_max: F against row(A) (containment)",
            ..about(("E5", "e5_output_dimension", "E5 output dimension r"), "output dimension r", false)
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e5_ranks.iter().map(|&r| (r as f64, format!("r {r}"))).collect()
    }

    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        mixture_rows(job, &base(job, s, s.d)?, Setup { r: (job.setting as usize).min(s.d), ..Setup::new(s) }, s)
    }

    fn sentence(&self, rows: &[Row], st: &Stats) -> String {
        let weight = Stats::new(rows, self.about().id, Metric::ShareOutside);
        let (get, w) = (|m| st.last_mean(m), |m| weight.last_mean(m));
        format!(
            "Containment, not ranking (docs/theory.md 5.6): at the largest r, F lies in row(A) up to sin theta_max {:.3} for InfoNCE and {:.3} for CCA (PCA: {:.3}). The weight on the extra directions, the share of ||A Sigma^1/2||^2 outside F (in the CSV), is a separate statistic: InfoNCE {:.3}, CCA {:.3}; a whitening constraint (CCA, whitened SimSiam) forces it up at the exact optimum, so it is not a failure.",
            get(Method::InfoNce),
            get(Method::Cca),
            get(Method::Pca),
            w(Method::InfoNce),
            w(Method::Cca)
        )
    }
}
