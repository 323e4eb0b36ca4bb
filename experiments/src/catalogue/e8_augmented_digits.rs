//! E8, digits with label-free augmentations (two views of an image are a pair): held-out k-means
//! ARI after whitening each representation by its own covariance.

use baselines::{CcaPairs, Fit};
use gmm_core::seeded;
use ssl_losses::{FixedPairs, InfoNce, PairSource};

use super::fitted::{Fitted, certified_whitened};
use super::held_out::{classes, closed_forms, split, whitened_clustering};
use crate::data::Dataset;
use crate::error::{ExperimentError, Result};
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row, Solver};
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
            methods: &[Method::InfoNce, Method::SimSiamEpochs, Method::Cca, Method::Pca, Method::Lda],
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
        let infonce = InfoNce::new(r).batch(s.batch).seed(seed).fit((&left, &right))?;
        // Whitened SimSiam on the same pairs, in InfoNCE's coordinates (centred and whitened by
        // the pairs' own statistics), epochs over them.
        let pre = infonce.preconditioner.clone();
        let (lt, rt) = (pre.apply(&left)?, pre.apply(&right)?);
        // The moments of the problem the epochs solve, the pairs' own: its certificate's reference.
        let m = (lt.transpose() * &lt + rt.transpose() * &rt) / (2 * n) as f64;
        let c = rt.transpose() * &lt / n as f64;
        let batch = s.batch.min(n);
        let mut epochs = || -> ssl_losses::Result<Box<dyn PairSource + '_>> {
            Ok(Box::new(FixedPairs::new(lt.clone(), rt.clone(), batch)?))
        };
        let (siam, cert) = certified_whitened(&mut epochs, r, (&m, &c), (s.steps, batch), seed)?;
        let siam = Fitted { method: Method::SimSiamEpochs, map: pre.map_back(&siam)?, solver: Solver::Epochs, n, cert };
        let mut methods = vec![Fitted::infonce(infonce, n), siam];
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
        let recipes: Vec<String> = share
            .points(Method::Cca)
            .iter()
            .map(|p| {
                format!(
                    "{}: InfoNCE {:.3}, CCA {:.3}, {} {:.3} (within-class share {:.2})",
                    p.label,
                    st.mean_at(Method::InfoNce, p.setting),
                    st.mean_at(Method::Cca, p.setting),
                    Method::SimSiamEpochs,
                    st.mean_at(Method::SimSiamEpochs, p.setting),
                    p.mean
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
