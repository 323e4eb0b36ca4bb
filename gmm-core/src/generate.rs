//! Seeded generators of random mixtures for experiments and tests (theory.md section 4,
//! "Random parameters"): isotropic, anisotropic with a chosen condition number, with a dominant
//! noise direction orthogonal to the means (the PCA counterexample family), and the d = 2
//! textbook case.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::error::{GmmError, Result};
use crate::gmm::Gmm;
use crate::linalg::{RANK_RTOL, orthonormal_column_basis, sym_eig_desc, symmetrize};

/// Parameters of a random [`Gmm`].
///
/// * means: `mu_i ~ N(0, separation^2 I_d)`, then centred so that `mu_bar = 0` (assumption A0
///   of docs/theory.md), unless a mean offset is asked for: then every mean is shifted by
///   `mu_bar = offset * L u` (`Sigma = L L^T`, `u` a random unit vector), so that
///   `||Sigma^{-1/2} mu_bar|| = offset` (the non-centred inputs of claim C15);
/// * weights: equal, or (if `!balanced`) `u_i ~ U[0.5, 1.5]` normalised;
/// * covariance: `Sigma_0 = Q diag(lambda) Q^T`, `Q` Haar-random orthogonal, `lambda`
///   log-spaced from 1 to `condition` (`condition = 1`: `Sigma_0 = I`);
/// * optional dominant noise direction: `Sigma = Sigma_0 + c v v^T` with `v` a random unit vector
///   orthogonal to the span of the means and `c = noise_factor * lambda_max(Sigma_0 + S_B)`, so
///   that for `noise_factor >= 1` the top principal direction of `Sigma_T` is (close to) `v`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct MixtureGenerator {
    /// Number of components `k >= 2`.
    pub k: usize,
    /// Dimension `d >= k - 1` (`d >= k` with a noise direction).
    pub d: usize,
    /// Standard deviation of the means' entries before centring (`> 0`).
    pub separation: f64,
    /// Condition number of `Sigma_0` (`>= 1`).
    pub condition: f64,
    /// Variance of the dominant noise direction, as a multiple of `lambda_max(Sigma_0 + S_B)`.
    pub noise_factor: Option<f64>,
    /// Equal weights when true.
    pub balanced: bool,
    /// `||Sigma^{-1/2} mu_bar||` of the generated mixture (`0`: centred, the default).
    #[cfg_attr(feature = "serde", serde(default))]
    pub mean_offset: f64,
}

impl MixtureGenerator {
    /// Isotropic `Sigma = I`, balanced weights, separation 1.
    pub fn isotropic(k: usize, d: usize) -> Self {
        Self { k, d, separation: 1.0, condition: 1.0, noise_factor: None, balanced: true, mean_offset: 0.0 }
    }

    /// Sets the condition number of `Sigma_0`.
    pub fn condition(mut self, condition: f64) -> Self {
        self.condition = condition;
        self
    }

    /// Adds a dominant noise direction with variance `factor * lambda_max(Sigma_0 + S_B)`.
    pub fn noise_direction(mut self, factor: f64) -> Self {
        self.noise_factor = Some(factor);
        self
    }

    /// Sets the separation of the means.
    pub fn separation(mut self, separation: f64) -> Self {
        self.separation = separation;
        self
    }

    /// Non-centred means: shifts every mean by `mu_bar` with `||Sigma^{-1/2} mu_bar|| = offset`
    /// in a random direction (`0` keeps them centred).
    pub fn mean_offset(mut self, offset: f64) -> Self {
        self.mean_offset = offset;
        self
    }

    /// Random (unbalanced) weights.
    pub fn unbalanced(mut self) -> Self {
        self.balanced = false;
        self
    }

    /// Checks every parameter before any work.
    pub fn validate(&self) -> Result<()> {
        if self.k < 2 {
            return Err(GmmError::TooFew { what: "number of components k", min: 2, got: self.k });
        }
        let min_d = if self.noise_factor.is_some() { self.k } else { self.k - 1 };
        if self.d < min_d.max(1) {
            return Err(GmmError::TooFew { what: "dimension d", min: min_d.max(1), got: self.d });
        }
        if !(self.separation > 0.0 && self.separation.is_finite()) {
            return Err(GmmError::out_of_range("separation", self.separation, "in (0, inf)"));
        }
        if !(self.condition >= 1.0 && self.condition.is_finite()) {
            return Err(GmmError::out_of_range("condition number", self.condition, "in [1, inf)"));
        }
        if let Some(f) = self.noise_factor
            && !(f > 0.0 && f.is_finite())
        {
            return Err(GmmError::out_of_range("noise factor", f, "in (0, inf)"));
        }
        crate::error::check_non_negative(self.mean_offset, "mean offset")?;
        Ok(())
    }

    /// Draws one mixture.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Gmm> {
        self.validate()?;
        let (k, d) = (self.k, self.d);
        let weights: Vec<f64> = if self.balanced {
            vec![1.0 / k as f64; k]
        } else {
            let raw: Vec<f64> = (0..k).map(|_| rng.random_range(0.5..1.5)).collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|w| w / sum).collect()
        };
        let mut means = gaussian_matrix(k, d, rng) * self.separation;
        let w = DVector::from_row_slice(&weights);
        let centre = means.tr_mul(&w);
        for mut row in means.row_iter_mut() {
            row -= centre.transpose();
        }
        let sigma0 = random_covariance(d, self.condition, rng);
        let base = Gmm::new(&weights, means, sigma0)?;
        let centred = match self.noise_factor {
            None => base,
            Some(factor) => {
                let v = unit_vector_orthogonal_to(&base.means().transpose(), rng)?;
                let (top, _) = sym_eig_desc(&base.total_covariance())?;
                let c = factor * top[0];
                base.with_covariance(symmetrize(&(base.covariance() + (&v * v.transpose()) * c)))?
            }
        };
        if self.mean_offset == 0.0 {
            return Ok(centred);
        }
        let u = loop {
            let g = gaussian_matrix(d, 1, rng);
            let norm = g.norm();
            if norm > 0.0 {
                break g / norm;
            }
        };
        let shift = centred.cholesky_factor() * u * self.mean_offset;
        let mut means = centred.means().clone();
        for mut row in means.row_iter_mut() {
            row += shift.transpose();
        }
        Gmm::new(centred.weights().as_slice(), means, centred.covariance().clone())
    }
}

/// An `n x m` matrix of independent standard normals.
pub fn gaussian_matrix<R: Rng + ?Sized>(n: usize, m: usize, rng: &mut R) -> DMatrix<f64> {
    DMatrix::from_fn(n, m, |_, _| rng.sample(StandardNormal))
}

/// A Haar-random `d x d` orthogonal matrix (QR of a Gaussian matrix with the signs of `R`'s
/// diagonal moved into `Q`).
pub fn random_orthogonal<R: Rng + ?Sized>(d: usize, rng: &mut R) -> DMatrix<f64> {
    let qr = gaussian_matrix(d, d, rng).qr();
    let (mut q, r) = (qr.q(), qr.r());
    for j in 0..d {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

/// `Q diag(lambda) Q^T` with `Q` Haar-random and `lambda` log-spaced from 1 to `condition`.
pub fn random_covariance<R: Rng + ?Sized>(d: usize, condition: f64, rng: &mut R) -> DMatrix<f64> {
    let q = random_orthogonal(d, rng);
    let mut scaled = q.clone();
    for j in 0..d {
        let t = if d > 1 { j as f64 / (d - 1) as f64 } else { 0.0 };
        scaled.column_mut(j).scale_mut(condition.powf(t));
    }
    symmetrize(&(scaled * q.transpose()))
}

/// A random unit vector orthogonal to the column space of `span` (`d x c`).
pub fn unit_vector_orthogonal_to<R: Rng + ?Sized>(span: &DMatrix<f64>, rng: &mut R) -> Result<DVector<f64>> {
    let q = orthonormal_column_basis(span, RANK_RTOL)?;
    if q.ncols() >= span.nrows() {
        return Err(GmmError::TooFew { what: "dimension left outside the spanned subspace", min: 1, got: 0 });
    }
    loop {
        let g: DVector<f64> = DVector::from_fn(span.nrows(), |_, _| rng.sample(StandardNormal));
        let v = &g - &q * q.tr_mul(&g);
        let norm = v.norm();
        if norm > 1e-6 * g.norm() {
            return Ok(v / norm);
        }
    }
}

/// The textbook counterexample (theory.md section 2): `d = 2`, `mu_{1,2} = +-a e_1`, equal
/// weights, `Sigma = diag(1, s2)`. For `s2 > 1 + a^2` the top principal direction is `e_2` while
/// `F = span{e_1}`.
pub fn textbook_2d(a: f64, s2: f64) -> Result<Gmm> {
    Gmm::new(
        &[0.5, 0.5],
        DMatrix::from_row_slice(2, 2, &[a, 0.0, -a, 0.0]),
        DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, s2]),
    )
}
