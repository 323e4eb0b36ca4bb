//! E3, dimension: the mixture's dimension `d` at a fixed sample size.

use super::mixture::{Setup, about, base, mixture_rows};
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E3: `sin theta_max` to F against the dimension `d` (`e3_dims`).
pub struct E3;

impl Experiment for E3 {
    fn about(&self) -> About {
        about(("E3", "e3_dimension", "E3 dimension d"), "dimension d", true)
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e3_dims.iter().map(|&d| (d as f64, format!("d {d}"))).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        s.e3_dims.is_empty().then(|| "e3_dims is empty".into())
    }

    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        mixture_rows(job, &base(job, s, job.setting as usize)?, Setup::new(s), s)
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        let get = |m| st.last_mean(m);
        format!(
            "At the largest dimension: InfoNCE {:.3}, CCA {:.3}, LDA {:.3}, PCA {:.3}.",
            get(Method::InfoNce),
            get(Method::Cca),
            get(Method::Lda),
            get(Method::Pca)
        )
    }
}
