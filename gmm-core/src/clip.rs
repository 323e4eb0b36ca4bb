//! The two-modality CLIP-GMM (theory.md section 1) and its population quantities.
//!
//! Shared latent `z ~ pi`, private latents `w ~ rho` (modality x) and `v ~ sigma` (modality y):
//! `x = mu_z + eta_w + eps_x`, `eps_x ~ N(0, Sigma_x)`; `y = nu_z + theta_v + eps_y`,
//! `eps_y ~ N(0, Sigma_y)`. A pair `(x_i, y_i)` shares `z_i`; everything else is independent.

use nalgebra::{DMatrix, DVector};
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, RngExt};

use crate::error::check_finite;
use crate::error::{GmmError, Result};
use crate::generate::{gaussian_matrix, random_covariance};
use crate::gmm::{Gmm, checked_weights, matrix_from_rows, matrix_to_rows};
use crate::linalg::{RANK_RTOL, checked_symmetric, cholesky, orthonormal_column_basis, symmetrize};
use crate::sample::{add_rows, categorical, fill_gaussian_rows};
use crate::subspace::Subspace;

/// One modality of a [`ClipGmm`]: shared means (`k x d`, row `i` for `z = i`), private weights
/// and means (`k_p x d`), and the noise covariance.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "ModalitySpec", into = "ModalitySpec"))]
pub struct Modality {
    means: DMatrix<f64>,
    private_weights: DVector<f64>,
    private_means: DMatrix<f64>,
    covariance: DMatrix<f64>,
    chol_t: DMatrix<f64>,
}

/// Plain-data form of a [`Modality`] (nested rows).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ModalitySpec {
    /// Shared means, one row per shared component.
    pub means: Vec<Vec<f64>>,
    /// Weights of the private latent.
    pub private_weights: Vec<f64>,
    /// Private means, one row per private component.
    pub private_means: Vec<Vec<f64>>,
    /// Noise covariance.
    pub covariance: Vec<Vec<f64>>,
}

/// Which modality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Side {
    /// Modality x (map `A`).
    X,
    /// Modality y (map `B`).
    Y,
}

impl Side {
    /// `x` or `y`, as the modality is written.
    pub fn name(self) -> &'static str {
        match self {
            Side::X => "x",
            Side::Y => "y",
        }
    }
}

impl Modality {
    /// Validating constructor; see [`Modality`] for shapes.
    pub fn new(
        means: DMatrix<f64>,
        private_weights: &[f64],
        private_means: DMatrix<f64>,
        covariance: DMatrix<f64>,
    ) -> Result<Self> {
        let private_weights = checked_weights(private_weights, "private weights")?;
        let d = means.ncols();
        if d == 0 {
            return Err(GmmError::TooFew { what: "modality dimension", min: 1, got: 0 });
        }
        check_finite(&means, "shared means")?;
        check_finite(&private_means, "private means")?;
        if private_means.nrows() != private_weights.len() {
            return Err(GmmError::Shape {
                what: "rows of the private means against the private weights",
                expected: private_weights.len(),
                got: private_means.nrows(),
            });
        }
        if private_means.ncols() != d {
            return Err(GmmError::Shape {
                what: "columns of the private means",
                expected: d,
                got: private_means.ncols(),
            });
        }
        if covariance.shape() != (d, d) {
            return Err(GmmError::Shape { what: "modality covariance size", expected: d, got: covariance.nrows() });
        }
        let covariance = checked_symmetric(&covariance, "modality covariance")?;
        let chol_t = cholesky(&covariance, "modality covariance")?.l().transpose();
        Ok(Self { means, private_weights, private_means, covariance, chol_t })
    }

    /// Dimension of the modality.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// Shared means, `k x d`.
    pub fn means(&self) -> &DMatrix<f64> {
        &self.means
    }

    /// Private weights (`k_p`).
    pub fn private_weights(&self) -> &DVector<f64> {
        &self.private_weights
    }

    /// Private means, `k_p x d`.
    pub fn private_means(&self) -> &DMatrix<f64> {
        &self.private_means
    }

    /// Noise covariance, `d x d`.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// The private part as a mixture of its own: weights `rho`, means `eta_w`, covariance `Sigma`.
    fn private_gmm(&self) -> Result<Gmm> {
        Gmm::new(self.private_weights.as_slice(), self.private_means.clone(), self.covariance.clone())
    }
}

/// A two-modality CLIP-GMM; see the module docs. Serialises as `{"weights", "x", "y"}`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "ClipGmmSpec", into = "ClipGmmSpec"))]
pub struct ClipGmm {
    weights: DVector<f64>,
    x: Modality,
    y: Modality,
}

/// Plain-data form of a [`ClipGmm`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ClipGmmSpec {
    /// Shared weights `pi`.
    pub weights: Vec<f64>,
    /// Modality x.
    pub x: ModalitySpec,
    /// Modality y.
    pub y: ModalitySpec,
}

/// Pairs from a [`ClipGmm`]: row `i` of `x` (`n x d_x`) and of `y` (`n x d_y`) share `z[i]`;
/// `w`, `v` are the private latents.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClipPairs {
    /// Modality-x samples, `n x d_x`.
    pub x: DMatrix<f64>,
    /// Modality-y samples, `n x d_y`.
    pub y: DMatrix<f64>,
    /// Shared latents.
    pub z: Vec<usize>,
    /// Private latents of x.
    pub w: Vec<usize>,
    /// Private latents of y.
    pub v: Vec<usize>,
}

impl ClipGmm {
    /// Validating constructor: `weights` has one entry per row of both modalities' shared means.
    pub fn new(weights: &[f64], x: Modality, y: Modality) -> Result<Self> {
        let weights = checked_weights(weights, "shared weights")?;
        for m in [&x, &y] {
            if m.means.nrows() != weights.len() {
                return Err(GmmError::Shape {
                    what: "rows of a modality's shared means against the shared weights",
                    expected: weights.len(),
                    got: m.means.nrows(),
                });
            }
        }
        Ok(Self { weights, x, y })
    }

    /// Shared weights `pi`.
    pub fn weights(&self) -> &DVector<f64> {
        &self.weights
    }

    /// One modality.
    pub fn modality(&self, side: Side) -> &Modality {
        match side {
            Side::X => &self.x,
            Side::Y => &self.y,
        }
    }

    /// The shared part of one modality as a [`Gmm`]: weights `pi`, means `mu_i`, covariance `Sigma_x`.
    /// Its Fisher subspace `span{Sigma_x^{-1}(mu_i - mu_bar)}` is what claim C10 says CLIP learns.
    pub fn shared_gmm(&self, side: Side) -> Result<Gmm> {
        let m = self.modality(side);
        Gmm::new(self.weights.as_slice(), m.means.clone(), m.covariance.clone())
    }

    /// The modality given `z` as a [`Gmm`]: means `mu_i + eta_bar`, covariance
    /// `Cov(x | z) = Sigma_x + sum_w rho_w (eta_w - eta_bar)(eta_w - eta_bar)^T` (the private
    /// part counted as within-class noise).
    pub fn conditional_gmm(&self, side: Side) -> Result<Gmm> {
        let m = self.modality(side);
        let private = m.private_gmm()?;
        let mut means = m.means.clone();
        let eta_bar = private.mean();
        for mut row in means.row_iter_mut() {
            row += eta_bar.transpose();
        }
        Gmm::new(self.weights.as_slice(), means, symmetrize(&(&m.covariance + private.between_scatter())))
    }

    /// The marginal of one modality as a [`Gmm`] with `k * k_p` components `mu_i + eta_w`,
    /// weights `pi_i rho_w`, covariance `Sigma_x`. Its Fisher subspace contains the private
    /// directions too.
    pub fn marginal_gmm(&self, side: Side) -> Result<Gmm> {
        let m = self.modality(side);
        let (k, kp, d) = (self.weights.len(), m.private_weights.len(), m.dim());
        let mut means = DMatrix::zeros(k * kp, d);
        let mut weights = Vec::with_capacity(k * kp);
        for i in 0..k {
            for w in 0..kp {
                means.set_row(i * kp + w, &(m.means.row(i) + m.private_means.row(w)));
                weights.push(self.weights[i] * m.private_weights[w]);
            }
        }
        Gmm::new(&weights, means, m.covariance.clone())
    }

    /// The private Fisher directions `span{Sigma_x^{-1}(eta_w - eta_bar)}` (empty if `k_p = 1`).
    pub fn private_subspace(&self, side: Side) -> Result<Subspace> {
        let private = self.modality(side).private_gmm()?;
        let directions = private.solve_covariance(&private.scaled_centred_means().transpose())?;
        Subspace::from_columns(&directions, RANK_RTOL)
    }

    /// How far the private means are from the orthogonality condition of claim C10:
    /// `max_{w,i} |eta_w^T Sigma^{-1} (mu_i - mu_bar)| / (||Sigma^{-1/2} eta_w|| ||Sigma^{-1/2}(mu_i - mu_bar)||)`
    /// over both modalities, and `|sum_w rho_w eta_w| / max_w |eta_w|`, whichever is larger.
    /// Zero (up to rounding) when the condition holds.
    pub fn private_orthogonality_gap(&self) -> Result<f64> {
        let mut gap: f64 = 0.0;
        for side in [Side::X, Side::Y] {
            let m = self.modality(side);
            let shared = self.shared_gmm(side)?;
            let centred = shared.scaled_centred_means(); // rows sqrt(pi_i)(mu_i - mu_bar)
            let s_c = shared.solve_covariance(&centred.transpose())?; // d x k
            let eta = &m.private_means;
            let s_eta = shared.solve_covariance(&eta.transpose())?; // d x kp
            for w in 0..eta.nrows() {
                let norm_w = eta.row(w).transpose().dot(&s_eta.column(w)).sqrt();
                for i in 0..centred.nrows() {
                    let norm_i = centred.row(i).transpose().dot(&s_c.column(i)).sqrt();
                    if norm_w > 0.0 && norm_i > 0.0 {
                        gap = gap.max((eta.row(w).transpose().dot(&s_c.column(i))).abs() / (norm_w * norm_i));
                    }
                }
            }
            let scale = eta.row_iter().map(|r| r.norm()).fold(0.0, f64::max);
            if scale > 0.0 {
                gap = gap.max(eta.tr_mul(&m.private_weights).norm() / scale);
            }
        }
        Ok(gap)
    }

    /// `n` pairs sharing their `z`.
    pub fn sample_pairs<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<ClipPairs> {
        let shared = categorical(self.weights.as_slice(), "shared weights")?;
        let z: Vec<usize> = (0..n).map(|_| rng.sample(&shared)).collect();
        let (x, w) = self.x.sample_given(&z, rng)?;
        let (y, v) = self.y.sample_given(&z, rng)?;
        Ok(ClipPairs { x, y, z, w, v })
    }
}

impl Modality {
    /// Samples of this modality given the shared latents: draws the private latents too.
    fn sample_given<R: Rng + ?Sized>(&self, z: &[usize], rng: &mut R) -> Result<(DMatrix<f64>, Vec<usize>)> {
        let private: WeightedIndex<f64> = categorical(self.private_weights.as_slice(), "private weights")?;
        let w: Vec<usize> = (0..z.len()).map(|_| rng.sample(&private)).collect();
        let mut out = DMatrix::zeros(z.len(), self.dim());
        fill_gaussian_rows(rng, &self.chol_t, &self.means, z, &mut out)?;
        add_rows(crate::linalg::faer_view_mut(&mut out), &self.private_means, &w);
        Ok((out, w))
    }
}

/// Parameters of a random [`ClipGmm`]: `k` shared and `k_private` private components per
/// modality, dimensions `d_x`, `d_y`, separation of shared and private means, the condition
/// number of both covariances (random eigenbases), and whether the private means satisfy the
/// `Sigma`-orthogonality condition of claim C10 (`eta_w = Sigma u_w` with `u_w` orthogonal to the
/// centred shared means, then centred with the private weights).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ClipGenerator {
    /// Shared components `k >= 2`.
    pub k: usize,
    /// Private components per modality `>= 1`.
    pub k_private: usize,
    /// Dimension of modality x.
    pub d_x: usize,
    /// Dimension of modality y.
    pub d_y: usize,
    /// Standard deviation of the shared means' entries.
    pub separation: f64,
    /// Standard deviation of the private means' entries (in the orthogonal case: of `u_w`,
    /// rescaled so private and shared means have comparable size).
    pub private_separation: f64,
    /// Condition number of `Sigma_x` and `Sigma_y`.
    pub condition: f64,
    /// Enforce the orthogonality condition of claim C10.
    pub orthogonal: bool,
}

impl ClipGenerator {
    /// `k` shared and `k_private` private components in dimensions `d_x`, `d_y`; separations 1,
    /// condition number 10, private means satisfying C10's orthogonality.
    pub fn new(k: usize, k_private: usize, d_x: usize, d_y: usize) -> Self {
        Self { k, k_private, d_x, d_y, separation: 1.0, private_separation: 1.0, condition: 10.0, orthogonal: true }
    }

    /// With (`true`) or without the orthogonality condition of claim C10.
    pub fn orthogonal(mut self, orthogonal: bool) -> Self {
        self.orthogonal = orthogonal;
        self
    }

    /// Checks every parameter.
    pub fn validate(&self) -> Result<()> {
        if self.k < 2 {
            return Err(GmmError::TooFew { what: "shared components k", min: 2, got: self.k });
        }
        if self.k_private < 1 {
            return Err(GmmError::TooFew { what: "private components", min: 1, got: self.k_private });
        }
        let need = self.k - 1 + self.k_private - 1;
        for d in [self.d_x, self.d_y] {
            if d < need.max(1) {
                return Err(GmmError::TooFew {
                    what: "modality dimension (>= k - 1 + k_private - 1)",
                    min: need.max(1),
                    got: d,
                });
            }
        }
        for (name, v) in [("separation", self.separation), ("private separation", self.private_separation)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(GmmError::out_of_range(name, v, "in (0, inf)"));
            }
        }
        if !(self.condition >= 1.0 && self.condition.is_finite()) {
            return Err(GmmError::out_of_range("condition number", self.condition, "in [1, inf)"));
        }
        Ok(())
    }

    /// Draws one CLIP-GMM with equal shared and private weights.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<ClipGmm> {
        self.validate()?;
        let weights = vec![1.0 / self.k as f64; self.k];
        let x = self.modality(self.d_x, rng)?;
        let y = self.modality(self.d_y, rng)?;
        ClipGmm::new(&weights, x, y)
    }

    fn modality<R: Rng + ?Sized>(&self, d: usize, rng: &mut R) -> Result<Modality> {
        let (k, kp) = (self.k, self.k_private);
        let centre = |m: &mut DMatrix<f64>| {
            let mean = m.row_mean();
            for mut row in m.row_iter_mut() {
                row -= &mean;
            }
        };
        let mut means = gaussian_matrix(k, d, rng) * self.separation;
        centre(&mut means);
        let covariance = random_covariance(d, self.condition, rng);
        let mut private = gaussian_matrix(kp, d, rng) * self.private_separation;
        if self.orthogonal {
            // u_w orthogonal to the centred shared means, then eta_w = Sigma u_w.
            let q = orthonormal_column_basis(&means.transpose(), RANK_RTOL)?;
            let u = private.transpose();
            let u = &u - &q * q.tr_mul(&u);
            let eta = &covariance * u;
            let scale = private.norm() / eta.norm().max(f64::MIN_POSITIVE);
            private = eta.transpose() * scale;
        }
        centre(&mut private);
        Modality::new(means, &vec![1.0 / kp as f64; kp], private, covariance)
    }
}

impl TryFrom<ModalitySpec> for Modality {
    type Error = GmmError;
    fn try_from(s: ModalitySpec) -> Result<Self> {
        Modality::new(
            matrix_from_rows(&s.means, "length of a shared mean row")?,
            &s.private_weights,
            matrix_from_rows(&s.private_means, "length of a private mean row")?,
            matrix_from_rows(&s.covariance, "length of a covariance row")?,
        )
    }
}

impl From<Modality> for ModalitySpec {
    fn from(m: Modality) -> Self {
        ModalitySpec {
            means: matrix_to_rows(&m.means),
            private_weights: m.private_weights.iter().copied().collect(),
            private_means: matrix_to_rows(&m.private_means),
            covariance: matrix_to_rows(&m.covariance),
        }
    }
}

impl TryFrom<ClipGmmSpec> for ClipGmm {
    type Error = GmmError;
    fn try_from(s: ClipGmmSpec) -> Result<Self> {
        ClipGmm::new(&s.weights, s.x.try_into()?, s.y.try_into()?)
    }
}

impl From<ClipGmm> for ClipGmmSpec {
    fn from(c: ClipGmm) -> Self {
        ClipGmmSpec { weights: c.weights.iter().copied().collect(), x: c.x.into(), y: c.y.into() }
    }
}
