//! PCA / spectral baselines.

use gmm_core::LinearMap;
use gmm_core::linalg::{gram, svd, sym_eig_desc};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::error::{BaselineError, Result, check_finite};
use crate::stats::{centred, centred_scatter, column_means, fix_row_signs};

/// Which spectral decomposition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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

/// PCA parameters: `n_components` (`1..=min(n, d)`), variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// Number of directions `r`.
    pub n_components: usize,
    /// Decomposition.
    pub variant: PcaVariant,
}

/// A fitted PCA: the map (rows = principal directions, descending variance, largest entry of
/// each positive) and the explained variance of each direction and its share of the total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

    /// Checks the parameters against data of shape `(n, d)`.
    pub fn validate(&self, n: usize, d: usize) -> Result<()> {
        if n < 2 {
            return Err(BaselineError::TooFew { what: "samples for PCA", min: 2, got: n });
        }
        if self.n_components == 0 || self.n_components > d.min(n) {
            return Err(BaselineError::InvalidParam {
                name: "n_components",
                value: self.n_components as f64,
                reason: format!("must be between 1 and min(n, d) = {}", d.min(n)),
            });
        }
        Ok(())
    }

    /// Fits on `x` (`n x d`, rows are samples): one pass over the data for the `d x d` scatter
    /// (one blocked product) and one `d x d` symmetric eigendecomposition.
    pub fn fit(&self, x: &DMatrix<f64>) -> Result<PcaFit> {
        let (n, d) = x.shape();
        self.validate(n, d)?;
        check_finite(x, "data")?;
        let r = self.n_components;
        let (mean, values, mut components) = match self.variant {
            PcaVariant::Covariance | PcaVariant::SecondMoment => {
                let (mean, scatter) = if self.variant == PcaVariant::Covariance {
                    let mean = column_means(x);
                    let scatter = centred_scatter(x, &mean);
                    (mean, scatter / (n as f64 - 1.0))
                } else {
                    (DVector::zeros(d), gram(x) / n as f64)
                };
                let (w, v) = sym_eig_desc(&scatter)?;
                (mean, w, v.columns(0, r).transpose())
            }
            PcaVariant::Svd => {
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
        let explained: Vec<f64> = values.iter().take(r).copied().collect();
        Ok(PcaFit {
            explained_variance_ratio: explained.iter().map(|v| v / total).collect(),
            explained_variance: explained,
            map: LinearMap { components, mean },
        })
    }
}
