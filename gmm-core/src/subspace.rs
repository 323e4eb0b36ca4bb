//! Subspaces, linear maps, and principal angles between subspaces.
//!
//! Every method of the project, supervised or not, ends in a [`LinearMap`] (an `r x d` matrix
//! whose **rows** are the learned directions, plus the centring it used), and every comparison
//! is between [`Subspace`]s (orthonormal bases).

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result};
use crate::error::{check_finite, check_shape};
use crate::linalg::{orthonormal_column_basis, singular_values, svd};

/// A linear subspace of `R^d`, stored as an orthonormal basis: a `d x m` matrix `Q` with
/// `Q^T Q = I_m` whose **columns** span the subspace.
#[derive(Clone, Debug, PartialEq)]
pub struct Subspace {
    basis: DMatrix<f64>,
}

impl Subspace {
    /// The column space of `m` (`d x c`), with singular values `<= rtol * s_max` treated as zero.
    ///
    /// # Errors
    /// `rtol` negative or not finite; non-finite entries of `m`.
    pub fn from_columns(m: &DMatrix<f64>, rtol: f64) -> Result<Self> {
        crate::check_non_negative(rtol, "relative rank tolerance rtol")?;
        Ok(Self { basis: orthonormal_column_basis(m, rtol)? })
    }

    /// The row space of `a` (`r x d`, rows are directions): a subspace of `R^d`.
    pub fn from_rows(a: &DMatrix<f64>, rtol: f64) -> Result<Self> {
        Self::from_columns(&a.transpose(), rtol)
    }

    /// Wraps a basis that is already orthonormal (`Q^T Q = I` within `1e-10`), e.g. the
    /// eigenvectors of a symmetric matrix.
    ///
    /// # Errors
    /// [`GmmError::OutOfRange`] if the columns are not orthonormal.
    pub fn from_orthonormal(basis: DMatrix<f64>) -> Result<Self> {
        check_finite(&basis, "orthonormal basis")?;
        let gram = basis.transpose() * &basis;
        let gap = (gram - DMatrix::identity(basis.ncols(), basis.ncols())).amax();
        if gap > 1e-10 {
            return Err(GmmError::out_of_range("max |Q^T Q - I| of a claimed orthonormal basis", gap, "in [0, 1e-10]"));
        }
        Ok(Self { basis })
    }

    /// Dimension `m` of the subspace.
    pub fn dim(&self) -> usize {
        self.basis.ncols()
    }

    /// Dimension `d` of the ambient space.
    pub fn ambient_dim(&self) -> usize {
        self.basis.nrows()
    }

    /// The orthonormal basis, `d x m`, columns spanning the subspace.
    pub fn basis(&self) -> &DMatrix<f64> {
        &self.basis
    }

    /// The orthogonal projector `Q Q^T` (`d x d`).
    pub fn projector(&self) -> DMatrix<f64> {
        &self.basis * self.basis.transpose()
    }

    fn check_comparable(&self, other: &Subspace) -> Result<()> {
        if self.ambient_dim() != other.ambient_dim() {
            return Err(GmmError::Shape {
                what: "ambient dimension of compared subspaces",
                expected: self.ambient_dim(),
                got: other.ambient_dim(),
            });
        }
        if self.dim() == 0 {
            return Err(GmmError::EmptySubspace { what: "first compared subspace" });
        }
        if other.dim() == 0 {
            return Err(GmmError::EmptySubspace { what: "second compared subspace" });
        }
        Ok(())
    }

    /// Principal angles `0 <= theta_1 <= ... <= theta_q <= pi/2`, `q = min(dims)`, **ascending**.
    ///
    /// Sine/cosine method of Knyazev & Argentati (2002), as `scipy.linalg.subspace_angles`: with
    /// `Q1` the larger and `Q2` the smaller basis, the cosines are the singular values of
    /// `Q1^T Q2` and the sines those of the residual `Q2 - Q1 Q1^T Q2`. An angle is taken from its
    /// sine where `cos^2 >= 1/2` (small angles, resolved down to ~1e-16) and from its cosine
    /// otherwise.
    ///
    /// ```
    /// use gmm_core::Subspace;
    /// use gmm_core::nalgebra::DMatrix;
    /// let t = 0.3f64;
    /// let a = Subspace::from_columns(&DMatrix::from_row_slice(3, 1, &[1.0, 0.0, 0.0]), 1e-12)?;
    /// let b = Subspace::from_columns(&DMatrix::from_row_slice(3, 1, &[t.cos(), t.sin(), 0.0]), 1e-12)?;
    /// assert!((a.principal_angles(&b)?[0] - t).abs() < 1e-15);
    /// assert!((a.sin_theta_max(&b)? - t.sin()).abs() < 1e-15);
    /// # Ok::<(), gmm_core::GmmError>(())
    /// ```
    ///
    /// # Errors
    /// Different ambient dimensions, an empty subspace, or an SVD that does not converge.
    pub fn principal_angles(&self, other: &Subspace) -> Result<Vec<f64>> {
        self.check_comparable(other)?;
        let (big, small) = if self.dim() >= other.dim() { (self, other) } else { (other, self) };
        let cross = big.basis.transpose() * &small.basis;
        let cosines = singular_values(&cross)?; // descending
        let residual = &small.basis - &big.basis * &cross;
        let mut sines = singular_values(&residual)?;
        sines.sort_by(f64::total_cmp); // ascending, matching descending cosines
        Ok(cosines
            .iter()
            .zip(&sines)
            .map(|(&c, &s)| if c * c >= 0.5 { s.min(1.0).asin() } else { c.min(1.0).acos() })
            .collect())
    }

    /// `sin theta_max`: the sine of the largest principal angle (0 when one subspace contains
    /// the other; 1 when some direction of the smaller is orthogonal to the larger). Computed
    /// directly as the largest singular value of the residual, so it is accurate when tiny.
    pub fn sin_theta_max(&self, other: &Subspace) -> Result<f64> {
        self.check_comparable(other)?;
        let (big, small) = if self.dim() >= other.dim() { (self, other) } else { (other, self) };
        let residual = &small.basis - &big.basis * (big.basis.transpose() * &small.basis);
        Ok(singular_values(&residual)?.first().copied().unwrap_or(0.0).min(1.0))
    }

    /// Projection distance `||Q1 Q1^T - Q2 Q2^T||_F / sqrt(2)`; equals
    /// `sqrt(sum_i sin^2 theta_i)` when the dimensions are equal.
    pub fn projection_distance(&self, other: &Subspace) -> Result<f64> {
        self.check_comparable(other)?;
        Ok((self.projector() - other.projector()).norm() / 2f64.sqrt())
    }
}

/// A linear encoder `f(x) = A (x - mean)`: `components` is `r x d` (rows are the learned
/// directions), `mean` the centring used (`d`; zero when the method does not centre). The fields
/// are private so that every map has a mean of its input dimension: build one with
/// [`LinearMap::new`] or [`LinearMap::with_mean`] (which also refuses non-finite entries).
///
/// ```
/// use gmm_core::LinearMap;
/// use gmm_core::nalgebra::{DMatrix, DVector};
/// let map = LinearMap::with_mean(DMatrix::from_row_slice(1, 2, &[1.0, 2.0]), DVector::from_element(2, 1.0))?;
/// let x = DMatrix::from_row_slice(1, 2, &[2.0, 3.0]);
/// assert_eq!(map.transform(&x)?[(0, 0)], 1.0 * 1.0 + 2.0 * 2.0);
/// assert_eq!(map.row_space()?.dim(), 1);
/// # Ok::<(), gmm_core::GmmError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "RawLinearMap"))]
pub struct LinearMap {
    /// `r x d`; rows are directions.
    components: DMatrix<f64>,
    /// `d`; subtracted from each sample before projection.
    mean: DVector<f64>,
}

/// The fields of a [`LinearMap`] as read from a file, checked by [`LinearMap::with_mean`].
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct RawLinearMap {
    components: DMatrix<f64>,
    mean: DVector<f64>,
}

#[cfg(feature = "serde")]
impl TryFrom<RawLinearMap> for LinearMap {
    type Error = GmmError;

    fn try_from(raw: RawLinearMap) -> Result<Self> {
        Self::with_mean(raw.components, raw.mean)
    }
}

impl LinearMap {
    /// A map without centring.
    pub fn new(components: DMatrix<f64>) -> Self {
        let d = components.ncols();
        Self { components, mean: DVector::zeros(d) }
    }

    /// A map that centres by `mean` before projecting.
    ///
    /// # Errors
    /// [`GmmError::Shape`] when `mean` does not have one entry per column of `components`;
    /// [`GmmError::NonFinite`] for a non-finite entry in either.
    pub fn with_mean(components: DMatrix<f64>, mean: DVector<f64>) -> Result<Self> {
        if mean.len() != components.ncols() {
            return Err(GmmError::Shape {
                what: "length of the map's mean against its input dimension",
                expected: components.ncols(),
                got: mean.len(),
            });
        }
        check_finite(&components, "components of a linear map")?;
        check_finite(&mean, "mean of a linear map")?;
        Ok(Self { components, mean })
    }

    /// The directions, `r x d` (rows).
    pub fn components(&self) -> &DMatrix<f64> {
        &self.components
    }

    /// The centring, `d` entries.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// The directions, by value.
    pub fn into_components(self) -> DMatrix<f64> {
        self.components
    }

    /// Output dimension `r`.
    pub fn out_dim(&self) -> usize {
        self.components.nrows()
    }

    /// Input dimension `d`.
    pub fn in_dim(&self) -> usize {
        self.components.ncols()
    }

    /// Projects samples (`n x d`, rows are samples) to `n x r`: `(X - 1 mean^T) A^T`.
    pub fn transform(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_shape(x, x.nrows(), self.in_dim(), "columns of the data against the map's input dimension")?;
        check_finite(x, "samples to transform")?;
        let mut centred = x.clone();
        for (j, mut col) in centred.column_iter_mut().enumerate() {
            col.add_scalar_mut(-self.mean[j]);
        }
        let z = centred * self.components.transpose();
        // Finite data and map can still overflow at the ends of the f64 range.
        check_finite(&z, "projected samples (overflow: rescale the data or the map)")?;
        Ok(z)
    }

    /// The row space of the map (subspace of `R^d`), rank by [`crate::linalg::RANK_RTOL`].
    pub fn row_space(&self) -> Result<Subspace> {
        Subspace::from_rows(&self.components, crate::linalg::RANK_RTOL)
    }

    /// The span of the top `m` right singular vectors of `A`: the part of the row space that
    /// carries the `m` largest singular values (theory.md: compare this when `r > k - 1`).
    pub fn top_subspace(&self, m: usize) -> Result<Subspace> {
        let svd = svd(&self.components)?;
        let m = m.min(svd.singular_values.len());
        Subspace::from_orthonormal(svd.v.columns(0, m).into_owned())
    }

    /// Singular values of `A`, descending.
    pub fn singular_values(&self) -> Result<Vec<f64>> {
        singular_values(&self.components)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane_at_angle(theta: f64) -> (Subspace, Subspace) {
        let a = DMatrix::from_row_slice(3, 1, &[1.0, 0.0, 0.0]);
        let b = DMatrix::from_row_slice(3, 1, &[theta.cos(), theta.sin(), 0.0]);
        (Subspace::from_columns(&a, 1e-12).unwrap(), Subspace::from_columns(&b, 1e-12).unwrap())
    }

    #[test]
    fn resolves_tiny_and_right_angles() {
        for &theta in &[1e-10, 1e-6, 0.3, 1.2, std::f64::consts::FRAC_PI_2] {
            let (a, b) = plane_at_angle(theta);
            let angles = a.principal_angles(&b).unwrap();
            assert!((angles[0] - theta).abs() <= 1e-15 + 1e-12 * theta, "{theta} vs {angles:?}");
            assert!((a.sin_theta_max(&b).unwrap() - theta.sin()).abs() < 1e-15 + 1e-12 * theta);
        }
    }

    #[test]
    fn nested_and_unequal_dimensions() {
        let big = Subspace::from_columns(&DMatrix::identity(4, 2), 1e-12).unwrap();
        let small = Subspace::from_columns(&DMatrix::from_row_slice(4, 1, &[1.0, 1.0, 0.0, 0.0]), 1e-12).unwrap();
        assert_eq!(small.principal_angles(&big).unwrap().len(), 1);
        assert!(small.sin_theta_max(&big).unwrap() < 1e-15);
    }

    #[test]
    fn empty_and_mismatched_are_errors() {
        let zero = Subspace::from_rows(&DMatrix::zeros(2, 3), 1e-12).unwrap();
        let line = Subspace::from_rows(&DMatrix::from_row_slice(1, 3, &[1.0, 0.0, 0.0]), 1e-12).unwrap();
        assert!(matches!(zero.sin_theta_max(&line), Err(GmmError::EmptySubspace { .. })));
        let other = Subspace::from_rows(&DMatrix::from_row_slice(1, 2, &[1.0, 0.0]), 1e-12).unwrap();
        assert!(matches!(line.principal_angles(&other), Err(GmmError::Shape { .. })));
    }

    #[test]
    fn transform_centres_then_projects() {
        let map =
            LinearMap::with_mean(DMatrix::from_row_slice(1, 2, &[1.0, 2.0]), DVector::from_row_slice(&[1.0, 1.0]))
                .unwrap();
        assert!(LinearMap::with_mean(DMatrix::zeros(1, 2), DVector::zeros(3)).is_err(), "mean of the wrong length");
        let x = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 2.0, 3.0]);
        assert_eq!(map.transform(&x).unwrap(), DMatrix::from_row_slice(2, 1, &[0.0, 5.0]));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn maps_read_from_json_are_checked() {
        let map = LinearMap::with_mean(DMatrix::from_row_slice(1, 2, &[1.0, 2.0]), DVector::zeros(2)).unwrap();
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(serde_json::from_str::<LinearMap>(&json).unwrap(), map);
        // A mean of the wrong length cannot be smuggled in through a file.
        let mut bad = serde_json::to_value(&map).unwrap();
        bad["mean"] = serde_json::to_value(DVector::<f64>::zeros(3)).unwrap();
        let err = serde_json::from_value::<LinearMap>(bad).unwrap_err().to_string();
        assert!(err.contains("length of the map's mean"), "{err}");
    }
}
