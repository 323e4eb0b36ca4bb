//! Spectral method with augmentations (CCA on pairs; theory.md section 2): label-free.

use gmm_core::LinearMap;
use gmm_core::linalg::{Op, gemm, gen_sym_eig, gram, symmetrize};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{BaselineError, Result, check_finite};
use crate::stats::{centred, column_means, fix_row_signs};

/// CCA-on-pairs parameters: the top `n_components` generalized eigenvectors of
/// `sym(Cov(x+, x)) w = lambda Cov(x) w`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CcaPairs {
    /// Number of directions `r`.
    pub n_components: usize,
    /// Ridge added to `Cov(x)`: `Cov(x) + ridge I` (0: none).
    pub ridge: f64,
}

impl CcaPairs {
    /// `r` directions, no ridge.
    pub fn new(n_components: usize) -> Self {
        Self { n_components, ridge: 0.0 }
    }
}

/// A fitted CCA on pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CcaFit {
    /// `r x d`, rows are directions (normalised so `A Cov(x) A^T = I`), centring by the pooled mean.
    pub map: LinearMap,
    /// Generalized eigenvalues (canonical correlations of the pair), descending, first `r`.
    pub eigenvalues: Vec<f64>,
}

impl CcaPairs {
    /// Fits on anchors `x` and positives `x_plus` (both `n x d`, row `i` a pair). Both sides
    /// have the same marginal, so `Cov(x)` and the centring pool both sides; `Cov(x+, x)` is the
    /// centred cross product `(1/n) sum_i (x+_i - m)(x_i - m)^T`, symmetrised. In the population
    /// the top `k - 1` directions span the Fisher subspace for every `delta > 0`.
    pub fn fit(&self, x: &DMatrix<f64>, x_plus: &DMatrix<f64>) -> Result<CcaFit> {
        let (n, d) = x.shape();
        if x_plus.shape() != (n, d) {
            return Err(BaselineError::Shape {
                what: "rows of the positives against the anchors",
                expected: n,
                got: x_plus.nrows(),
            });
        }
        if n < 2 {
            return Err(BaselineError::TooFew { what: "pairs", min: 2, got: n });
        }
        if self.n_components == 0 || self.n_components > d {
            return Err(BaselineError::InvalidParam {
                name: "n_components",
                value: self.n_components as f64,
                reason: format!("must be between 1 and d = {d}"),
            });
        }
        check_finite(x, "anchors")?;
        check_finite(x_plus, "positives")?;
        let mean = (column_means(x) + column_means(x_plus)) * 0.5;
        let (cx, cp) = (centred(x, &mean), centred(x_plus, &mean));
        if !(self.ridge >= 0.0 && self.ridge.is_finite()) {
            return Err(BaselineError::InvalidParam {
                name: "ridge",
                value: self.ridge,
                reason: "must be >= 0".into(),
            });
        }
        let mut cov = (gram(&cx) + gram(&cp)) / (2.0 * n as f64);
        for i in 0..d {
            cov[(i, i)] += self.ridge;
        }
        let mut cross = DMatrix::zeros(d, d);
        gemm(1.0 / n as f64, &cp, Op::T, &cx, Op::N, 0.0, &mut cross);
        let ge = gen_sym_eig(&symmetrize(&cross), &cov).map_err(|e| match e {
            gmm_core::GmmError::NotPositiveDefinite { .. } => {
                BaselineError::Singular { what: "Cov(x) of the pairs", fix: "pass a ridge (e.g. --ridge 1e-6)" }
            }
            other => BaselineError::Core(other),
        })?;
        let r = self.n_components;
        let mut components = ge.vectors.columns(0, r).transpose();
        fix_row_signs(&mut components);
        Ok(CcaFit { map: LinearMap { components, mean }, eigenvalues: ge.values.iter().take(r).copied().collect() })
    }
}
