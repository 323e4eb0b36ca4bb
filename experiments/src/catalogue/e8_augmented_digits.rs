//! E8, digits with label-free augmentations (two views of an image are a pair): held-out k-means
//! ARI after whitening each representation by its own covariance.

use baselines::{CcaPairs, Fit};
use gmm_core::{LinearMap, seeded};
use ssl_losses::InfoNce;

use super::fitted::{Fitted, whitened_epochs};
use super::held_out::{classes, closed_forms, split, whitened_clustering};
use crate::data::Dataset;
use crate::error::{ExperimentError, Result};
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E8: held-out k-means ARI (whitened) for each augmentation recipe of `e8_recipes`.
pub struct E8;

impl Experiment for E8 {
    fn about(&self) -> About {
        About {
            id: "E8",
            stem: "e8_augmented_digits",
            title: "E8 digits, label-free augmentations: held-out k-means ARI (whitened)",
            metric: Metric::Ari,
            x_label: "augmentations",
            y_label: "k-means ARI (held-out)",
            log_x: false,
            log_y: false,
            categorical: true,
            methods: &[
                Method::InfoNce,
                Method::InfoNceInCca,
                Method::SimSiamEpochs,
                Method::Cca,
                Method::Pca,
                Method::Lda,
            ],
            required: &[Metric::Ari, Metric::Nmi, Metric::WithinClassShare],
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        if s.e8_pairs_per_image == 0 {
            return Vec::new();
        }
        s.e8_recipes.iter().enumerate().map(|(i, recipe)| (i as f64, recipe.label())).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        if s.e8_pairs_per_image == 0 {
            Some("e8_pairs_per_image is 0".into())
        } else {
            s.e8_recipes.is_empty().then(|| "e8_recipes is empty".into())
        }
    }

    /// Two label-free augmented views of a training image per pair; InfoNCE to the certificate
    /// and whitened SimSiam (its recipe, epochs over the same pairs) against PCA and supervised
    /// LDA on the training images; held-out k-means after whitening.
    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        let (images, labels) = Dataset::Digits.load_raw()?;
        let k = classes(&labels);
        let r = k - 1;
        let ((xt, zt), (xs, zs)) = split(&images, &labels, job.seed + 199);
        let seed = 1000 * job.seed + 41;
        let recipe = s.e8_recipes.get(job.setting as usize).ok_or_else(|| {
            ExperimentError::Config(format!("E8 setting {} names no recipe of e8_recipes", job.setting))
        })?;
        let (left, right) = recipe.pairs(&xt, s.e8_pairs_per_image, &mut seeded(seed))?;
        let n = left.nrows();
        // Both views of pair i are of training image i / per_image: its label, for the diagnostic.
        let pair_labels: Vec<usize> = zt.iter().flat_map(|&z| std::iter::repeat_n(z, s.e8_pairs_per_image)).collect();
        let cca = CcaPairs::new(r).ridge(1e-6).fit((&left, &right))?;
        let share = cca.within_class_share((&left, &right), &pair_labels)?;
        let infonce = InfoNce::new(r).batch(s.batch).seed(seed).bound_distance(true).fit((&left, &right))?;
        // The best InfoNCE map inside CCA's subspace (A = M W, M free), on the same pairs and the
        // same batch partition: its loss is comparable with the full fit's (both are minima of the
        // same cost, one over a subset of maps). Lower means the full fit is a local minimum.
        let w = cca.map.components();
        let (lw, rw) = (&left * w.transpose(), &right * w.transpose());
        let inside = InfoNce::new(r).batch(s.batch).seed(seed).bound_distance(true).fit((&lw, &rw))?;
        let in_cca = LinearMap::new(inside.map.components() * w);
        // Whitened SimSiam on the same pairs, in InfoNCE's coordinates, epochs over them.
        let siam = whitened_epochs((&left, &right), &infonce.preconditioner, r, (s.steps, s.batch), seed)?;
        let mut methods =
            vec![Fitted::infonce(infonce, n), Fitted::lbfgs(Method::InfoNceInCca, in_cca, &inside.run, n), siam];
        methods.extend(closed_forms(cca.map, n, (&xt, &zt), r)?);
        let mut rows = Vec::new();
        for fitted in &methods {
            let mut out = Row { within_class_share: Some(share), ..fitted.row(job) };
            let (ari, nmi) = whitened_clustering(&fitted.map, &xt, (&xs, &zs), k, seed)?;
            (out.ari, out.nmi) = (Some(ari), Some(nmi));
            rows.push(out);
        }
        Ok(rows)
    }

    fn sentence(&self, rows: &[Row], st: &Stats) -> String {
        let share = Stats::new(rows, self.about().id, Metric::WithinClassShare);
        let loss_at = |m: Method, setting: f64| {
            let losses: Vec<f64> = rows
                .iter()
                .filter(|r| r.experiment == "E8" && r.method == m && r.setting == setting)
                .filter_map(|r| r.loss)
                .collect();
            losses.iter().sum::<f64>() / losses.len() as f64
        };
        let recipes: Vec<String> = share
            .points(Method::Cca)
            .iter()
            .map(|p| {
                let (full, inside) = (loss_at(Method::InfoNce, p.setting), loss_at(Method::InfoNceInCca, p.setting));
                let verdict = if inside < full - LOSS_RTOL * full.abs() {
                    "lower inside CCA's subspace: the full fit stopped at a local minimum"
                } else {
                    "not lower inside CCA's subspace: the deficit is the loss's on these pairs"
                };
                format!(
                    "{}: InfoNCE {:.3}, CCA {:.3}, {} {:.3}, {} {:.3} (within-class share {:.2}; InfoNCE loss {:.6} against {:.6} at the best map inside CCA's subspace, {verdict})",
                    p.label,
                    st.mean_at(Method::InfoNce, p.setting),
                    st.mean_at(Method::Cca, p.setting),
                    Method::SimSiamEpochs,
                    st.mean_at(Method::SimSiamEpochs, p.setting),
                    Method::InfoNceInCca,
                    st.mean_at(Method::InfoNceInCca, p.setting),
                    p.mean,
                    full,
                    inside
                )
            })
            .collect();
        format!(
            "Digits with label-free augmentations (two views of an image are a pair, no label used by any pair method), held-out k-means ARI after whitening each representation by its own covariance, by recipe: {}; PCA {:.3} and supervised LDA {:.3} do not use the pairs. The views of an image keep its style (stroke width, slant, ink), so a large share of the pairs' cross-covariance along CCA's directions is within-class, where the paper's model (and E7's supervised pairing) has none: the pair methods then follow style as much as class (docs/theory.md 6).",
            recipes.join("; "),
            st.last_mean(Method::Pca),
            st.last_mean(Method::Lda)
        )
    }
}

/// How much lower (relative) the best loss inside CCA's subspace must be for E8 to call the full
/// InfoNCE fit a local minimum: far above the certified fits' loss error (a relative gradient of
/// 1e-5 leaves a loss error of order 1e-10 relative), far below the gaps that matter.
const LOSS_RTOL: f64 = 1e-6;
