//! k-means with k-means++ initialisation and restarts (seeded).

use gmm_core::nalgebra::DMatrix;
use gmm_core::rand::RngExt;
use gmm_core::rand::distr::weighted::WeightedIndex;
use gmm_core::{Fit, GmmError, Predict, Transform, Validate, check_at_least, check_finite, check_non_negative, seeded};

use crate::error::{BaselineError, Result};

/// k-means parameters; defaults as scikit-learn (`n_init = 10`, `max_iter = 300`, `tol = 1e-4`
/// relative to the mean feature variance), k-means++ initialisation, Lloyd iterations, and the
/// restart with the lowest inertia `sum_i ||x_i - c_{label_i}||^2`.
///
/// ```
/// use baselines::{Fit, KMeans, Predict};
/// use gmm_core::nalgebra::DMatrix;
///
/// let x = DMatrix::from_row_slice(4, 1, &[0.0, 0.1, 10.0, 10.1]);
/// let fit = KMeans::new(2).seed(7).fit(&x)?;
/// assert_eq!(fit.labels[0], fit.labels[1]);
/// assert_ne!(fit.labels[0], fit.labels[2]);
/// // New points go to the nearest centre.
/// let new = DMatrix::from_row_slice(2, 1, &[9.0, 1.0]);
/// assert_eq!(fit.predict(&new)?, vec![fit.labels[2], fit.labels[0]]);
/// # Ok::<(), baselines::BaselineError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KMeans {
    n_clusters: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
}

impl KMeans {
    /// `n_clusters` clusters with scikit-learn's defaults and seed 0.
    pub fn new(n_clusters: usize) -> Self {
        Self { n_clusters, n_init: 10, max_iter: 300, tol: 1e-4, seed: 0 }
    }

    /// Restarts (default 10); the lowest inertia wins.
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Lloyd iterations per restart (default 300).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Stop when the centres move less than `tol * mean feature variance` (squared Frobenius;
    /// default `1e-4`).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Seed of the k-means++ draws (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A clustering (scikit-learn's attribute names).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KMeansFit {
    /// Cluster of each row of the fitted data.
    pub labels: Vec<usize>,
    /// Centres, `n_clusters x d`.
    pub cluster_centers: DMatrix<f64>,
    /// Sum of squared distances to the assigned centres.
    pub inertia: f64,
    /// Lloyd iterations of the kept restart (scikit-learn's `n_iter_`).
    pub n_iter: usize,
}

impl Validate for KMeans {
    type Error = BaselineError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_clusters, 1, "k-means n_clusters")?;
        check_at_least(self.n_init, 1, "k-means n_init")?;
        check_at_least(self.max_iter, 1, "k-means max_iter")?;
        let iterations = (self.n_init as u64).saturating_mul(self.max_iter as u64);
        gmm_core::budget::check_work("k-means n_init x max_iter", iterations, gmm_core::budget::MAX_STEPS)?;
        Ok(check_non_negative(self.tol, "k-means tol")?)
    }
}

impl Predict for KMeansFit {
    /// The nearest centre of each row of `x` (`n x d`).
    fn predict(&self, x: &DMatrix<f64>) -> gmm_core::Result<Vec<usize>> {
        self.check_input(x)?;
        let mut labels = vec![0; x.nrows()];
        assign(x, &self.cluster_centers, &mut labels);
        Ok(labels)
    }
}

impl Transform for KMeansFit {
    /// Distances to each centre, `n x n_clusters` (scikit-learn's `KMeans.transform`).
    fn transform(&self, x: &DMatrix<f64>) -> gmm_core::Result<DMatrix<f64>> {
        self.check_input(x)?;
        let centres = &self.cluster_centers;
        Ok(DMatrix::from_fn(x.nrows(), centres.nrows(), |i, c| (x.row(i) - centres.row(c)).norm()))
    }
}

impl KMeansFit {
    fn check_input(&self, x: &DMatrix<f64>) -> gmm_core::Result<()> {
        gmm_core::check_shape(x, x.nrows(), self.cluster_centers.ncols(), "columns of the data against the centres")?;
        check_finite(x, "data")
    }
}

impl Fit<&DMatrix<f64>> for KMeans {
    type Fitted = KMeansFit;

    /// Clusters the rows of `x` (`n x d`).
    ///
    /// # Errors
    /// `n_clusters > n`, non-finite data, invalid parameters.
    fn fit(&self, x: &DMatrix<f64>) -> Result<KMeansFit> {
        self.validate()?;
        let (n, d) = x.shape();
        if self.n_clusters > n {
            let expected = format!("between 1 and the number of samples {n}");
            return Err(GmmError::out_of_range("k-means n_clusters", self.n_clusters as f64, expected).into());
        }
        check_finite(x, "data")?;
        let variance = (0..d).map(|j| x.column(j).variance()).sum::<f64>() / d as f64;
        let tol = self.tol * variance;
        let mut rng = seeded(self.seed);
        let mut best: Option<KMeansFit> = None;
        for _ in 0..self.n_init {
            let mut centres = self.plus_plus(x, &mut rng)?;
            let mut labels = vec![0; n];
            let mut n_iter = 0;
            while n_iter < self.max_iter {
                n_iter += 1;
                assign(x, &centres, &mut labels);
                let moved = update(x, &labels, &mut centres);
                if moved <= tol {
                    break;
                }
            }
            let inertia = assign(x, &centres, &mut labels);
            if best.as_ref().is_none_or(|b| inertia < b.inertia) {
                best = Some(KMeansFit { labels, cluster_centers: centres, inertia, n_iter });
            }
        }
        best.ok_or_else(|| GmmError::TooFew { what: "k-means n_init", min: 1, got: 0 }.into())
    }
}

impl KMeans {
    /// k-means++: first centre uniform, then each new one with probability proportional to
    /// the squared distance to the nearest chosen centre.
    fn plus_plus(&self, x: &DMatrix<f64>, rng: &mut gmm_core::SeedRng) -> Result<DMatrix<f64>> {
        let (n, d) = x.shape();
        let mut centres = DMatrix::zeros(self.n_clusters, d);
        centres.set_row(0, &x.row(rng.random_range(0..n)));
        let mut dist: Vec<f64> = (0..n).map(|i| (x.row(i) - centres.row(0)).norm_squared()).collect();
        for c in 1..self.n_clusters {
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
