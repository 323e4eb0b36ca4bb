//! E7, real data with supervised pairing (a positive is another sample of the anchor's class,
//! the paper's augmentation model): held-out k-means ARI after whitening each representation by
//! its own covariance.

use baselines::{CcaPairs, Fit};
use ssl_losses::InfoNce;

use super::fitted::Fitted;
use super::held_out::{accuracy, classes, closed_forms, split, whitened_clustering};
use crate::data::{Dataset, same_class_pairs};
use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E7: held-out k-means ARI (whitened) on each data set of `e7_datasets`.
pub struct E7;

/// Ridge `(lambda / 2) ||A~||^2` of InfoNCE in E7 (see [`E7::rows`]).
const E7_WEIGHT_DECAY: f64 = 1e-3;

impl Experiment for E7 {
    fn about(&self) -> About {
        About {
            id: "E7",
            stem: "e7_real_data",
            title: "E7 real data, supervised pairing: held-out k-means ARI (whitened)",
            metric: Metric::Ari,
            x_label: "data set",
            y_label: "k-means ARI (held-out)",
            log_x: false,
            log_y: false,
            categorical: true,
            methods: &[Method::InfoNce, Method::Cca, Method::Pca, Method::Lda],
            required: &[Metric::Ari, Metric::Nmi, Metric::Accuracy, Metric::WithinClassShare],
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e7_datasets.iter().enumerate().map(|(i, set)| (i as f64, set.name().into())).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        s.e7_datasets.is_empty().then(|| "e7_datasets is empty".into())
    }

    /// Supervised pairing (a positive is another sample of the same class) on the training
    /// part: the fixed sample of every pair method. InfoNCE with a ridge: on these small image
    /// sets some pixels are constant within a class, the pairs are separable along them and the
    /// fixed-sample loss has no minimiser (docs/theory.md 7); E7_WEIGHT_DECAY makes one exist.
    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        let dataset: Dataset = job.label.parse()?;
        let (x, labels) = dataset.load()?;
        let k = classes(&labels);
        let r = k - 1;
        let ((xt, zt), (xs, zs)) = split(&x, &labels, job.seed + 99);
        let seed = 1000 * job.seed + 23;
        let pairs = same_class_pairs(&xt, &zt, seed + 1)?;
        let (anchors, partners) = (&pairs.anchors, &pairs.partners);
        let n = anchors.nrows();
        let infonce = InfoNce::new(r)
            .batch(s.batch)
            .weight_decay(E7_WEIGHT_DECAY)
            .seed(seed)
            .bound_distance(true)
            .fit((anchors, partners))?;
        let cca = CcaPairs::new(r).ridge(1e-6).fit((anchors, partners))?;
        let share = cca.within_class_share((anchors, partners), &pairs.labels)?;
        let mut methods = vec![Fitted::infonce(infonce, n)];
        methods.extend(closed_forms(cca.map, n, (&xt, &zt), r)?);
        let mut rows = Vec::new();
        for fitted in &methods {
            let mut out = Row { within_class_share: Some(share), ..fitted.row(job) };
            let (ari, nmi) = whitened_clustering(&fitted.map, &xt, (&xs, &zs), k, seed)?;
            (out.ari, out.nmi) = (Some(ari), Some(nmi));
            out.accuracy = accuracy(&fitted.map, (&xt, &zt), (&xs, &zs));
            rows.push(out);
        }
        Ok(rows)
    }

    fn sentence(&self, rows: &[Row], st: &Stats) -> String {
        let get = |m| st.last_mean(m);
        format!(
            "Held-out k-means ARI after whitening each representation by its own covariance, on the last data set: InfoNCE {:.3}, CCA {:.3}, LDA {:.3}, PCA {:.3}. Pairing by labels is the paper's augmentation model (a positive is another draw from the anchor's class): the within-class share of the pairs' cross-covariance along CCA's directions is {:.3} (0 in that model; compare E8).",
            get(Method::InfoNce),
            get(Method::Cca),
            get(Method::Lda),
            get(Method::Pca),
            Stats::new(rows, self.about().id, Metric::WithinClassShare).last_mean(Method::Cca)
        )
    }
}
