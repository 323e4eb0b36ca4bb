//! E6, CLIP-GMM: the weight of each modality's certified CLIP map outside its shared Fisher
//! subspace against the size of the fixed sample (the private directions are filtered out).

use baselines::Cca;
use gmm_core::{ClipGenerator, Fit, LinearMap, Side, seeded};
use ssl_losses::Clip;

use super::fitted::Fitted;
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E6: CLIP's share outside each modality's shared Fisher subspace against the pairs of its
/// fixed sample (`e6_pairs`).
pub struct E6;

impl Experiment for E6 {
    fn about(&self) -> About {
        About {
            id: "E6",
            stem: "e6_clip",
            title: "E6 CLIP-GMM: weight outside the shared Fisher subspace",
            metric: Metric::ShareOutside,
            x_label: "pairs (fixed sample)",
            y_label: "share outside the shared Fisher subspace",
            log_x: true,
            log_y: true,
            categorical: false,
            methods: &[Method::ClipA, Method::ClipB, Method::CcaA, Method::CcaB],
            required: &[Metric::SinThetaMax, Metric::ShareOutside],
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e6_pairs.iter().map(|&n| (n as f64, format!("pairs {n}"))).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        s.e6_pairs.is_empty().then(|| "e6_pairs is empty".into())
    }

    /// CLIP (tau = 1, dot score, r = 2) fitted by L-BFGS on a fixed sample of `n` pairs (each
    /// modality centred and whitened by its own sample statistics) to its certificate, with the
    /// bound on its distance to the local minimiser.
    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        let c = ClipGenerator::new(3, 3, 8, 6).generate(&mut seeded(5))?;
        let seed = 1000 * job.seed + 31;
        let n = job.setting as usize;
        let pairs = c.sample_pairs(n, &mut seeded(seed + 1))?;
        let fit = Clip::new(2).batch(s.batch).seed(seed).bound_distance(true).fit((&pairs.x, &pairs.y))?;
        // The noise floor: two-view CCA on the same pairs, consistent for the shared Fisher
        // subspaces when the private means are orthogonal to the shared ones (C10).
        let cca = Cca::new(2).fit((&pairs.x, &pairs.y))?;
        let fitted = [
            (Side::X, Fitted::lbfgs(Method::ClipA, fit.map_x, &fit.run, n)),
            (Side::Y, Fitted::lbfgs(Method::ClipB, fit.map_y, &fit.run, n)),
            (Side::X, Fitted::closed_form(Method::CcaA, cca.map_x, n)),
            (Side::Y, Fitted::closed_form(Method::CcaB, cca.map_y, n)),
        ];
        let mut rows = Vec::new();
        for (side, fitted) in &fitted {
            let (shared, map) = (c.shared_gmm(*side)?, &fitted.map);
            let mut r = fitted.row(job);
            r.share_outside = shared.share_outside_fisher(map.components()).ok();
            r.sin_theta_max = LinearMap::new(map.components().clone())
                .top_subspace(2)
                .ok()
                .and_then(|l| l.sin_theta_max(&shared.fisher_subspace().ok()?).ok());
            rows.push(r);
        }
        Ok(rows)
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        format!(
            "CLIP's certified map puts a share {:.2e} (x) and {:.2e} (y) of its weight outside each modality's shared Fisher subspace at the largest sample, against {:.2e} and {:.2e} for two-view CCA on the same pairs (the label-free closed form, the noise floor): the private directions are filtered out, and what remains falls with the sample size like the floor.",
            st.last_mean(Method::ClipA),
            st.last_mean(Method::ClipB),
            st.last_mean(Method::CcaA),
            st.last_mean(Method::CcaB)
        )
    }
}
