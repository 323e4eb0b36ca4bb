//! The Gaussian mixture with shared covariance, and its validating constructor.

use nalgebra::{DMatrix, DVector};

use crate::error::check_finite;
use crate::error::{GmmError, Result};
use crate::linalg::{checked_symmetric, cholesky};

/// The largest condition number of a covariance this crate accepts: `1 / (16 eps)`.
pub const MAX_CONDITION: f64 = 1.0 / (16.0 * f64::EPSILON);

/// Weights must sum to one within this absolute tolerance (they are then renormalised exactly).
pub const WEIGHT_SUM_TOL: f64 = 1e-9;

/// A Gaussian mixture with shared covariance:
/// `z ~ Cat(pi)`, `x | z ~ N(mu_z, Sigma)` in `R^d`, `k` components.
///
/// Invariants (checked by [`Gmm::new`]): `k >= 1`, `d >= 1`, all entries finite, weights
/// positive and summing to one, `Sigma` symmetric positive definite. The Cholesky factor `L`
/// (`Sigma = L L^T`) is kept for sampling (`x = mu_z + L e`, `e ~ N(0, I)`).
///
/// Serialises to JSON as `{"weights": [..k..], "means": [[..d..] x k], "covariance": [[..d..] x d]}`
/// and deserialises through the same validation (feature `serde`).
///
/// ```
/// use gmm_core::nalgebra::DMatrix;
/// use gmm_core::{Gmm, GmmError};
///
/// let means = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, -1.0, 0.0]);
/// let g = Gmm::new(&[0.5, 0.5], means.clone(), DMatrix::identity(2, 2))?;
/// assert_eq!((g.k(), g.dim()), (2, 2));
/// // Bad input is a typed error, never a panic.
/// let err = Gmm::new(&[0.5, 0.6], means, DMatrix::identity(2, 2)).unwrap_err();
/// assert!(matches!(err, GmmError::WeightsNotNormalised { .. }));
/// # Ok::<(), GmmError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "GmmSpec", into = "GmmSpec"))]
pub struct Gmm {
    weights: DVector<f64>,
    means: DMatrix<f64>,
    covariance: DMatrix<f64>,
    chol: DMatrix<f64>,
}

/// The plain-data form of a [`Gmm`] used for (de)serialisation: nested rows, as people write them.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct GmmSpec {
    /// Mixture weights `pi` (k).
    pub weights: Vec<f64>,
    /// Component means, one row of `d` numbers per component.
    pub means: Vec<Vec<f64>>,
    /// Shared covariance `Sigma`, `d` rows of `d` numbers.
    pub covariance: Vec<Vec<f64>>,
}

/// Builds a matrix from nested rows, rejecting ragged input.
pub fn matrix_from_rows(rows: &[Vec<f64>], what: &'static str) -> Result<DMatrix<f64>> {
    let ncols = rows.first().map_or(0, Vec::len);
    for row in rows {
        if row.len() != ncols {
            return Err(GmmError::Shape { what, expected: ncols, got: row.len() });
        }
    }
    Ok(DMatrix::from_fn(rows.len(), ncols, |i, j| rows[i][j]))
}

/// Nested rows of a matrix.
pub fn matrix_to_rows(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    m.row_iter().map(|r| r.iter().copied().collect()).collect()
}

/// Checks a weight vector (positive, finite, sums to 1 within [`WEIGHT_SUM_TOL`]) and returns it
/// renormalised to sum to one exactly (up to rounding).
pub fn checked_weights(weights: &[f64], what: &'static str) -> Result<DVector<f64>> {
    if weights.is_empty() {
        return Err(GmmError::TooFew { what, min: 1, got: 0 });
    }
    for (index, &value) in weights.iter().enumerate() {
        if !value.is_finite() {
            return Err(GmmError::NonFinite { what, row: index, col: 0, value });
        }
        if value <= 0.0 {
            return Err(GmmError::NonPositiveWeight { what, index, value });
        }
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > WEIGHT_SUM_TOL {
        return Err(GmmError::WeightsNotNormalised { what, sum, tol: WEIGHT_SUM_TOL });
    }
    Ok(DVector::from_iterator(weights.len(), weights.iter().map(|w| w / sum)))
}

impl Gmm {
    /// Validating constructor.
    ///
    /// * `weights`: `k` positive numbers summing to 1 (within [`WEIGHT_SUM_TOL`]).
    /// * `means`: `k x d`, row `i` is `mu_i`.
    /// * `covariance`: `d x d`, symmetric within [`crate::linalg::SYMMETRY_RTOL`] (then
    ///   symmetrised exactly) and positive definite.
    ///
    /// # Errors
    /// One [`GmmError`] variant per violated condition; never panics.
    pub fn new(weights: &[f64], means: DMatrix<f64>, covariance: DMatrix<f64>) -> Result<Self> {
        let weights = checked_weights(weights, "mixture weights")?;
        let k = weights.len();
        if means.nrows() != k {
            return Err(GmmError::Shape {
                what: "rows of the means against the number of weights",
                expected: k,
                got: means.nrows(),
            });
        }
        let d = means.ncols();
        if d == 0 {
            return Err(GmmError::TooFew { what: "dimension d", min: 1, got: 0 });
        }
        check_finite(&means, "means")?;
        if covariance.nrows() != d || covariance.ncols() != d {
            return Err(GmmError::Shape {
                what: "covariance size against the dimension of the means",
                expected: d,
                got: if covariance.nrows() != d { covariance.nrows() } else { covariance.ncols() },
            });
        }
        let covariance = checked_symmetric(&covariance, "covariance")?;
        let chol = cholesky(&covariance, "covariance")?.l();
        // (max L_ii / min L_ii)^2 bounds the condition number from below: above 1 / (16 eps)
        // the covariance is singular in double precision (diag(1, 1e-17) passes Cholesky, but
        // every quantity solved against it is rounding).
        let diag = chol.diagonal();
        let ratio = diag.max() / diag.min();
        if ratio * ratio > MAX_CONDITION {
            return Err(GmmError::Singular {
                what: "covariance",
                fix: "its condition number is above 1 / (16 eps) = 2.8e14 (from its Cholesky factor), so it is singular in \
                      double precision: rescale the coordinates or drop the degenerate direction",
            });
        }
        Ok(Self { weights, means, covariance, chol })
    }

    /// Number of components `k`.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// Weights `pi` (length `k`).
    pub fn weights(&self) -> &DVector<f64> {
        &self.weights
    }

    /// Means, `k x d`, row `i` is `mu_i`.
    pub fn means(&self) -> &DMatrix<f64> {
        &self.means
    }

    /// Shared covariance `Sigma`, `d x d`.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// Lower Cholesky factor `L` with `Sigma = L L^T`.
    pub fn cholesky_factor(&self) -> &DMatrix<f64> {
        &self.chol
    }

    /// The same mixture with another (validated) covariance.
    pub fn with_covariance(&self, covariance: DMatrix<f64>) -> Result<Self> {
        Self::new(self.weights.as_slice(), self.means.clone(), covariance)
    }
}

impl TryFrom<GmmSpec> for Gmm {
    type Error = GmmError;
    fn try_from(spec: GmmSpec) -> Result<Self> {
        let means = matrix_from_rows(&spec.means, "length of a mean row")?;
        let covariance = matrix_from_rows(&spec.covariance, "length of a covariance row")?;
        Gmm::new(&spec.weights, means, covariance)
    }
}

impl From<Gmm> for GmmSpec {
    fn from(g: Gmm) -> Self {
        GmmSpec {
            weights: g.weights.iter().copied().collect(),
            means: matrix_to_rows(&g.means),
            covariance: matrix_to_rows(&g.covariance),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_parts() -> (Vec<f64>, DMatrix<f64>, DMatrix<f64>) {
        (vec![0.5, 0.5], DMatrix::from_row_slice(2, 2, &[1.0, 0.0, -1.0, 0.0]), DMatrix::identity(2, 2))
    }

    #[test]
    fn accepts_a_valid_mixture() {
        let (w, m, c) = ok_parts();
        let g = Gmm::new(&w, m, c).unwrap();
        assert_eq!((g.k(), g.dim()), (2, 2));
    }

    #[test]
    fn rejects_each_bad_input_with_its_error() {
        let (w, m, c) = ok_parts();
        let e = |r: Result<Gmm>| r.unwrap_err();
        assert!(matches!(e(Gmm::new(&[], m.clone(), c.clone())), GmmError::TooFew { .. }));
        assert!(matches!(e(Gmm::new(&[0.5, 0.6], m.clone(), c.clone())), GmmError::WeightsNotNormalised { .. }));
        assert!(matches!(
            e(Gmm::new(&[1.5, -0.5], m.clone(), c.clone())),
            GmmError::NonPositiveWeight { index: 1, .. }
        ));
        assert!(matches!(e(Gmm::new(&[f64::NAN, 0.5], m.clone(), c.clone())), GmmError::NonFinite { .. }));
        assert!(matches!(e(Gmm::new(&[1.0], m.clone(), c.clone())), GmmError::Shape { .. }));
        let mut bad_m = m.clone();
        bad_m[(1, 1)] = f64::INFINITY;
        assert!(matches!(e(Gmm::new(&w, bad_m, c.clone())), GmmError::NonFinite { what: "means", row: 1, col: 1, .. }));
        assert!(matches!(e(Gmm::new(&w, DMatrix::zeros(2, 0), c.clone())), GmmError::TooFew { .. }));
        assert!(matches!(e(Gmm::new(&w, m.clone(), DMatrix::identity(3, 3))), GmmError::Shape { .. }));
        let asym = DMatrix::from_row_slice(2, 2, &[1.0, 0.1, 0.0, 1.0]);
        assert!(matches!(e(Gmm::new(&w, m.clone(), asym)), GmmError::NotSymmetric { .. }));
        let indef = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(matches!(e(Gmm::new(&w, m.clone(), indef)), GmmError::Singular { .. }));
        let mut nan_c = c.clone();
        nan_c[(0, 0)] = f64::NAN;
        assert!(matches!(e(Gmm::new(&w, m, nan_c)), GmmError::NonFinite { .. }));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_round_trip_and_validation() {
        let (w, m, c) = ok_parts();
        let g = Gmm::new(&w, m, c).unwrap();
        let json = serde_json::to_string(&g).unwrap();
        assert!(json.contains("\"weights\":[0.5,0.5]"));
        let back: Gmm = serde_json::from_str(&json).unwrap();
        assert_eq!(back, g);
        let ragged = r#"{"weights":[1.0],"means":[[0.0,0.0]],"covariance":[[1.0,0.0],[0.0]]}"#;
        let err = serde_json::from_str::<Gmm>(ragged).unwrap_err().to_string();
        assert!(err.contains("shape mismatch"), "{err}");
    }
}
