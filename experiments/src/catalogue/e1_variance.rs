//! E1, variance structure: the condition number of `Sigma`. PCA follows the largest variance,
//! the pair methods follow the augmentation's signal.

use super::mixture::{Setup, about, conditioned, mixture_rows};
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E1: `sin theta_max` to F against the condition number of `Sigma` (`e1_conditions`).
pub struct E1;

impl Experiment for E1 {
    fn about(&self) -> About {
        about(("E1", "e1_variance", "E1 variance structure: condition number of Σ"), "condition number of Σ", true)
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e1_conditions.iter().map(|&c| (c, format!("condition {c}"))).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        s.e1_conditions.is_empty().then(|| "e1_conditions is empty".into())
    }

    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        mixture_rows(job, &conditioned(job, s, job.setting)?, Setup::new(s), s)
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        let get = |m| st.last_mean(m);
        format!(
            "sin theta_max to F at the largest condition number (lower is better): PCA {:.3}, InfoNCE {:.3}, SimSiam-whitened {:.3}, CCA {:.3}, LDA {:.3}; the plot shows where each method departs from the Fisher subspace as Sigma becomes anisotropic.",
            get(Method::Pca),
            get(Method::InfoNce),
            get(Method::SimSiamEpochs),
            get(Method::Cca),
            get(Method::Lda)
        )
    }
}
