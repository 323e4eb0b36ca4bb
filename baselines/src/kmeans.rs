//! k-means with k-means++ initialisation and restarts (seeded).

use gmm_core::seeded;
use nalgebra::DMatrix;
use rand::RngExt;
use rand::distr::weighted::WeightedIndex;
use serde::{Deserialize, Serialize};

use crate::error::{BaselineError, Result, check_finite};

/// k-means parameters; defaults as scikit-learn (`n_init = 10`, `max_iter = 300`, `tol = 1e-4`
/// relative to the mean feature variance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Number of clusters.
    pub k: usize,
    /// Restarts; the lowest inertia wins.
    pub n_init: usize,
    /// Lloyd iterations per restart.
    pub max_iter: usize,
    /// Stop when the centres move less than `tol * mean variance` (squared Frobenius).
    pub tol: f64,
    /// Seed.
    pub seed: u64,
}

impl KMeans {
    /// `k` clusters with scikit-learn's defaults.
    pub fn new(k: usize, seed: u64) -> Self {
        Self { k, n_init: 10, max_iter: 300, tol: 1e-4, seed }
    }
}

/// A clustering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KMeansFit {
    /// Cluster of each row.
    pub labels: Vec<usize>,
    /// Centres, `k x d`.
    pub centres: DMatrix<f64>,
    /// Sum of squared distances to the assigned centres.
    pub inertia: f64,
}

impl KMeans {
    /// Clusters the rows of `x` (`n x d`).
    pub fn fit(&self, x: &DMatrix<f64>) -> Result<KMeansFit> {
        let (n, d) = x.shape();
        if self.k == 0 || self.k > n {
            return Err(BaselineError::InvalidParam {
                name: "k",
                value: self.k as f64,
                reason: format!("must be in 1..={n}"),
            });
        }
        if self.n_init == 0 {
            return Err(BaselineError::InvalidParam { name: "n_init", value: 0.0, reason: "must be >= 1".into() });
        }
        check_finite(x, "data")?;
        let variance = (0..d).map(|j| x.column(j).variance()).sum::<f64>() / d as f64;
        let tol = self.tol * variance;
        let mut rng = seeded(self.seed);
        let mut best: Option<KMeansFit> = None;
        for _ in 0..self.n_init {
            let mut centres = self.plus_plus(x, &mut rng)?;
            let mut labels = vec![0; n];
            for _ in 0..self.max_iter {
                assign(x, &centres, &mut labels);
                let moved = update(x, &labels, &mut centres);
                if moved <= tol {
                    break;
                }
            }
            let inertia = assign(x, &centres, &mut labels);
            if best.as_ref().is_none_or(|b| inertia < b.inertia) {
                best = Some(KMeansFit { labels, centres, inertia });
            }
        }
        Ok(best.expect("n_init >= 1"))
    }

    /// k-means++: first centre uniform, then each new one with probability proportional to
    /// the squared distance to the nearest chosen centre.
    fn plus_plus(&self, x: &DMatrix<f64>, rng: &mut gmm_core::SeedRng) -> Result<DMatrix<f64>> {
        let (n, d) = x.shape();
        let mut centres = DMatrix::zeros(self.k, d);
        centres.set_row(0, &x.row(rng.random_range(0..n)));
        let mut dist: Vec<f64> = (0..n).map(|i| (x.row(i) - centres.row(0)).norm_squared()).collect();
        for c in 1..self.k {
            let pick = match WeightedIndex::new(dist.iter().copied()) {
                Ok(w) => rng.sample(&w),
                Err(_) => rng.random_range(0..n), // all points coincide with chosen centres
            };
            centres.set_row(c, &x.row(pick));
            for (i, di) in dist.iter_mut().enumerate() {
                *di = di.min((x.row(i) - centres.row(c)).norm_squared());
            }
        }
        Ok(centres)
    }
}

/// Assigns each row to its nearest centre; returns the inertia.
fn assign(x: &DMatrix<f64>, centres: &DMatrix<f64>, labels: &mut [usize]) -> f64 {
    let mut inertia = 0.0;
    for (i, label) in labels.iter_mut().enumerate() {
        let (c, dist) = (0..centres.nrows())
            .map(|c| (c, (x.row(i) - centres.row(c)).norm_squared()))
            .fold((0, f64::INFINITY), |b, cur| if cur.1 < b.1 { cur } else { b });
        *label = c;
        inertia += dist;
    }
    inertia
}

/// Moves each centre to the mean of its rows (an empty cluster keeps its centre); returns the
/// squared distance the centres moved.
fn update(x: &DMatrix<f64>, labels: &[usize], centres: &mut DMatrix<f64>) -> f64 {
    let (k, d) = centres.shape();
    let mut sums = DMatrix::zeros(k, d);
    let mut counts = vec![0usize; k];
    for (i, &c) in labels.iter().enumerate() {
        let mut row = sums.row_mut(c);
        row += x.row(i);
        counts[c] += 1;
    }
    let mut moved = 0.0;
    for (c, &count) in counts.iter().enumerate() {
        if count > 0 {
            let new = sums.row(c) / count as f64;
            moved += (&new - centres.row(c)).norm_squared();
            centres.set_row(c, &new);
        }
    }
    moved
}
