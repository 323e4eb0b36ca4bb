//! PCA / spectral baselines.

use std::str::FromStr;

use gmm_core::linalg::{gram, mean_and_centred_gram, svd, sym_eig_desc};
use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{Fit, GmmError, LinearMap, Transform, Validate, check_at_least, check_finite};

use crate::error::{BaselineError, Result};
use crate::stats::{centred, column_means, fix_row_signs};

/// Which spectral decomposition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum PcaVariant {
    /// Top eigenvectors of the sample covariance `(1/(n-1)) Xc^T Xc` (scikit-learn's
    /// `PCA(svd_solver="covariance_eigh")`).
    #[default]
    Covariance,
    /// Top eigenvectors of the uncentred second moment `(1/n) X^T X` (no centring).
    SecondMoment,
    /// Top right singular vectors of the centred data (`svd_solver="full"`).
    Svd,
}

impl FromStr for PcaVariant {
    type Err = GmmError;

    /// `covariance`, `second-moment` or `svd`.
    fn from_str(s: &str) -> std::result::Result<Self, GmmError> {
        let table = [("covariance", Self::Covariance), ("second-moment", Self::SecondMoment), ("svd", Self::Svd)];
        gmm_core::parse_name("PCA variant", s, &table)
    }
}

/// PCA parameters (scikit-learn's `PCA`): `n_components` (`1..=min(n, d)`) and the
/// decomposition. The top `r` eigenvectors of the sample covariance
/// `S = (1/(n-1)) sum_i (x_i - m)(x_i - m)^T`, descending.
///
/// ```
/// use baselines::{Fit, Pca, Transform};
/// use gmm_core::nalgebra::DMatrix;
///
/// // Points on the line y = 2x: one direction explains all the variance.
/// let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
/// let fit = Pca::new(1).fit(&x)?;
/// let dir = fit.map.components().row(0);
/// assert!((dir[0] - 1.0 / 5f64.sqrt()).abs() < 1e-12 && (dir[1] - 2.0 / 5f64.sqrt()).abs() < 1e-12);
/// assert!((fit.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
/// assert_eq!(fit.transform(&x)?.shape(), (4, 1));
/// # Ok::<(), baselines::BaselineError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pca {
    n_components: usize,
    variant: PcaVariant,
}

/// A fitted PCA: the map (rows = principal directions, descending variance, largest entry of
/// each positive) and the explained variance of each direction and its share of the total.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PcaFit {
    /// `r x d` map with the centring used.
    pub map: LinearMap,
    /// Variance along each direction (eigenvalues), descending.
    pub explained_variance: Vec<f64>,
    /// `explained_variance / total variance`.
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// `r` directions from the covariance.
    pub fn new(n_components: usize) -> Self {
        Self { n_components, variant: PcaVariant::Covariance }
    }

    /// Sets the decomposition (default [`PcaVariant::Covariance`]).
    pub fn variant(mut self, variant: PcaVariant) -> Self {
        self.variant = variant;
        self
    }
}

impl Validate for Pca {
    type Error = BaselineError;

    fn validate(&self) -> Result<()> {
        Ok(check_at_least(self.n_components, 1, "PCA n_components")?)
    }
}

impl Fit<&DMatrix<f64>> for Pca {
    type Fitted = PcaFit;

    /// Fits on `x` (`n x d`, rows are samples): one pass over the data for the `d x d` scatter
    /// (one blocked product) and one `d x d` symmetric eigendecomposition.
    ///
    /// # Errors
    /// Fewer than 2 samples, `n_components > min(n, d)`, non-finite data, data without variance.
    fn fit(&self, x: &DMatrix<f64>) -> Result<PcaFit> {
        self.validate()?;
        let (n, d) = x.shape();
        check_at_least(n, 2, "samples for PCA")?;
        if self.n_components > d.min(n) {
            let expected = format!("between 1 and min(n, d) = {}", d.min(n));
            return Err(GmmError::out_of_range("PCA n_components", self.n_components as f64, expected).into());
        }
        let r = self.n_components;
        let (mean, values, mut components) = match self.variant {
            PcaVariant::Covariance | PcaVariant::SecondMoment => {
                let (mean, scatter) = if self.variant == PcaVariant::Covariance {
                    // One pass: the mean, the centred scatter and the finiteness check.
                    let (mean, scatter) = mean_and_centred_gram(x, "data")?;
                    (mean, scatter / (n as f64 - 1.0))
                } else {
                    check_finite(x, "data")?;
                    (DVector::zeros(d), gram(x) / n as f64)
                };
                let (w, v) = sym_eig_desc(&scatter)?;
                (mean, w, v.columns(0, r).transpose())
            }
            PcaVariant::Svd => {
                check_finite(x, "data")?;
                let mean = column_means(x);
                let f = svd(&centred(x, &mean))?;
                let w = f.singular_values.map(|s| s * s / (n as f64 - 1.0));
                let mut full = DVector::zeros(d);
                full.rows_mut(0, w.len()).copy_from(&w);
                (mean, full, f.v.columns(0, r).transpose())
            }
        };
        fix_row_signs(&mut components);
        let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
        // No variance to explain (every feature constant, or values so small that their squares
        // underflow): the directions would be arbitrary and the ratios 0 / 0.
        if !total.is_finite() || total <= f64::MIN_POSITIVE {
            return Err(GmmError::Singular {
                what: "the data's covariance (zero: every feature is constant, or the values are so small that their squares underflow)",
                fix: "check the input; rescale it (e.g. --standardize) if its values are below about 1e-150",
            }
            .into());
        }
        let explained: Vec<f64> = values.iter().take(r).copied().collect();
        Ok(PcaFit {
            explained_variance_ratio: explained.iter().map(|v| v / total).collect(),
            explained_variance: explained,
            map: LinearMap::with_mean(components, mean)?,
        })
    }
}

impl Transform for PcaFit {
    /// `(X - mean) A^T`: the principal coordinates.
    fn transform(&self, x: &DMatrix<f64>) -> gmm_core::Result<DMatrix<f64>> {
        self.map.transform(x)
    }
}
