//! Population InfoNCE on an augmentation's views (`../shared/spec/zoo/zoo.md`, item 4;
//! docs/theory.md section 3): infinitely many negatives, temperature `tau`, views that are
//! Gaussian mixtures (coupled draws and additive noise; not masks).
//!
//! With `B = A^T A / tau`, anchors `v1` (the left view, per component `N(mu_c, Sigma_L)`) and
//! negatives the other pairs' right views (the mixture `GMM(mu, Sigma_R)`),
//!
//! `L(A) = -tr(B C) + E_{v1} log sum_j pi_j exp(mu_j^T B v1 + v1^T B Sigma_R B v1 / 2)`,
//! `C = sym E[v1 v2^T]`. Writing `mu_j = m + U c_j` (`m` the mixture's mean, `U` an orthonormal
//! basis of the centred means' span, `q` columns, `q <= k - 1`),
//!
//! `L = -tr(B C) + tr(B Sigma_R B S_L) / 2 + m^T B m + E_{v1} lse_j(c_j^T U^T B v1 + log pi_j)`,
//!
//! `S_L = E[v1 v1^T]`. The first three terms are exact. The last depends on `v1` only through
//! `u = U^T B v1`, which is `N(a_c, K)` in component `c` with `a_c = U^T B mu_c` and
//! `K = U^T B Sigma_L B U`; it is integrated per component (exact stratification over the
//! components) with `n` scrambled-Sobol standard normal nodes `z_s` in `q` dimensions,
//! `u_cs = a_c + L z_s` (`K = L L^T`, Cholesky). The quadrature is a fixed rule, so the value
//! and the gradient are exact for the discretised objective, and two scrambling seeds measure
//! its error (the quadrature floor).
//!
//! Gradient: with `P_cs = softmax(C u_cs + log pi)`, `g_cs = (pi_c / n) C^T P_cs` (`C` the rows
//! `c_j^T`), `abar_c = sum_s g_cs`, `Lbar = tril(sum_{c,s} g_cs z_s^T)`, the Cholesky adjoint
//! `Kbar = sym(L^{-T} Phi(L^T Lbar) L^{-1})` (`Phi`: the lower triangle with the diagonal halved;
//! Murray 2016), and
//! `Bbar = -C + (Sigma_R B S_L + S_L B Sigma_R) / 2 + m m^T + sum_c U abar_c mu_c^T
//!  + U Kbar U^T B Sigma_L + Sigma_L B U Kbar U^T`,
//! `dL/dA = A (Bbar + Bbar^T) / tau`.

use gmm_core::linalg::{cholesky, log_sum_exp, orthonormal_column_basis, symmetrize};
use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{Augmentation, Gmm, GmmError, check_at_least, check_positive, check_shape};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{LossError, Result};

/// Quadrature nodes: `n` points of the Owen-scrambled Sobol sequence in `dim` dimensions (seed
/// `seed`), mapped to standard normals by the inverse normal distribution function (`n x dim`,
/// rows are nodes). The sequence's values are `f32` multiples of `2^-24` in `[0, 1)`; each is
/// moved to the middle of its cell (`+ 2^-25`) so that no node is infinite.
///
/// # Errors
/// `n` outside `1..=65536` (the sequence's length) or `dim > 256`.
pub fn sobol_normal_nodes(n: usize, dim: usize, seed: u32) -> Result<DMatrix<f64>> {
    check_at_least(n, 1, "quadrature nodes")?;
    if n > 1 << 16 {
        return Err(GmmError::out_of_range(
            "quadrature nodes",
            n as f64,
            "at most 65536 (the Sobol sequence's length)",
        )
        .into());
    }
    if dim > 256 {
        return Err(GmmError::out_of_range("quadrature dimension", dim as f64, "at most 256").into());
    }
    let normal = Normal::standard();
    let half_cell = 2f64.powi(-25);
    Ok(DMatrix::from_fn(n, dim, |i, j| {
        // The index and dimension are below 2^16 and 256 (checked above).
        let u = f64::from(sobol_burley::sample(i as u32, j as u32, seed));
        normal.inverse_cdf((u + half_cell).min(1.0 - half_cell))
    }))
}

/// The default number of quadrature nodes, `2^11`: the minimisers of two scrambling seeds differ
/// by as much at `2^11` as at zoo.md's `2^13` (measured 1e-9 to 3e-3 in `sin` on the zoo
/// table's mixtures, either way), at a quarter of the cost.
pub const INFONCE_VIEW_NODES: usize = 1 << 11;

/// Population InfoNCE on an augmentation's Gaussian views; see the module docs.
///
/// ```
/// use gmm_core::{Augmentation, MixtureGenerator, NoiseShape, gaussian_matrix, seeded};
/// use ssl_losses::{InfoNceViewPopulation, sobol_normal_nodes};
///
/// let g = MixtureGenerator::isotropic(3, 5).generate(&mut seeded(1))?;
/// let aug = Augmentation::additive_noise(NoiseShape::Isotropic(1.0))?;
/// let q = InfoNceViewPopulation::quadrature_dim(&g)?; // k - 1 = 2 for centred means
/// let loss = InfoNceViewPopulation::new(&g, &aug, 1.0, sobol_normal_nodes(1024, q, 0)?)?;
/// let (value, grad) = loss.value_grad(&(gaussian_matrix(2, 5, &mut seeded(2)) * 0.3))?;
/// assert!(value.is_finite() && grad.shape() == (2, 5));
/// // A map that does not see the means' span has no quadrature: a typed error, not a NaN.
/// assert!(loss.value_grad(&gmm_core::nalgebra::DMatrix::from_element(2, 5, 0.1)).is_err());
/// # Ok::<(), ssl_losses::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct InfoNceViewPopulation {
    tau: f64,
    weights: Vec<f64>,
    /// The component means as columns (`d x k`).
    means: DMatrix<f64>,
    /// The mixture's mean `m`.
    mean: DVector<f64>,
    /// `sym E[v1 v2^T]`.
    cross: DMatrix<f64>,
    /// `E[v1 v1^T]`.
    second_left: DMatrix<f64>,
    sigma_left: DMatrix<f64>,
    sigma_right: DMatrix<f64>,
    /// `U` (`d x q`).
    basis: DMatrix<f64>,
    /// The rows `c_j^T = (mu_j - m)^T U` (`k x q`).
    coords: DMatrix<f64>,
    /// The nodes (`n x q`).
    nodes: DMatrix<f64>,
}

impl InfoNceViewPopulation {
    /// The objective of `gmm` under `augmentation` at temperature `tau`, integrated with `nodes`
    /// (`n x q` standard normal nodes, `q` the dimension of the centred means' span, at most
    /// `k - 1`; [`InfoNceViewPopulation::quadrature_dim`] tells it).
    ///
    /// # Errors
    /// `tau <= 0`; a masked view ([`LossError::WrongModel`]: its views are not Gaussian
    /// mixtures); nodes of the wrong width or non-finite; a noise covariance that does not fit.
    pub fn new(gmm: &Gmm, augmentation: &Augmentation, tau: f64, nodes: DMatrix<f64>) -> Result<Self> {
        check_positive(tau, "temperature tau")?;
        let Some((sigma_left, sigma_right)) = augmentation.gaussian_view_covariances(gmm)? else {
            return Err(LossError::WrongModel(
                "population InfoNCE on views needs Gaussian-mixture views (coupled draws, additive noise); a mask makes a view non-Gaussian",
            ));
        };
        let centred = centred_means(gmm);
        let basis = means_basis(&centred)?;
        check_shape(&nodes, nodes.nrows(), basis.ncols(), "quadrature nodes' width against the means' span")?;
        check_at_least(nodes.nrows(), 1, "quadrature nodes")?;
        gmm_core::check_finite(&nodes, "quadrature nodes")?;
        let moments = augmentation.moments(gmm)?;
        Ok(Self {
            tau,
            weights: gmm.weights().iter().copied().collect(),
            coords: centred.tr_mul(&basis),
            means: gmm.means().transpose(),
            mean: gmm.mean(),
            cross: symmetrize(&moments.cross),
            second_left: moments.second_left,
            sigma_left,
            sigma_right,
            basis,
            nodes,
        })
    }

    /// The dimension `q` of the quadrature (the centred means' span) for `gmm`.
    ///
    /// # Errors
    /// None for a valid mixture (a failed decomposition).
    pub fn quadrature_dim(gmm: &Gmm) -> Result<usize> {
        Ok(means_basis(&centred_means(gmm))?.ncols())
    }

    /// Loss and gradient at `a` (`r x d`).
    ///
    /// # Errors
    /// `a` of the wrong width or non-finite; `U^T B Sigma_L B U` not positive definite (the map
    /// does not see the whole span of the means: rank below `q`).
    pub fn value_grad(&self, a: &DMatrix<f64>) -> Result<(f64, DMatrix<f64>)> {
        let d = self.mean.len();
        check_shape(a, a.nrows(), d, "map against the mixture dimension")?;
        gmm_core::check_finite(a, "map")?;
        let b = a.tr_mul(a) / self.tau;
        let bsr = &b * &self.sigma_right;
        let bsl = &b * &self.second_left;
        let bm = &b * &self.mean;
        let mut value = -(b.dot(&self.cross)) + 0.5 * bsr.dot(&bsl.transpose()) + self.mean.dot(&bm);
        let mut bbar =
            -&self.cross + symmetrize(&(bsr.transpose() * &self.second_left)) + &self.mean * self.mean.transpose();
        let q = self.basis.ncols();
        if q > 0 {
            let (lse_value, lse_bbar) = self.lse_term(&b)?;
            value += lse_value;
            bbar += lse_bbar;
        }
        if !value.is_finite() {
            return Err(GmmError::NonFinite { what: "population InfoNCE on views", row: 0, col: 0, value }.into());
        }
        let grad = a * (&bbar + bbar.transpose()) / self.tau;
        gmm_core::check_finite(&grad, "gradient of population InfoNCE on views")?;
        Ok((value, grad))
    }

    /// `E lse_j(c_j^T u + log pi_j)` and its gradient in `B`.
    fn lse_term(&self, b: &DMatrix<f64>) -> Result<(f64, DMatrix<f64>)> {
        let (n, q) = self.nodes.shape();
        let k = self.weights.len();
        let ub = self.basis.tr_mul(b); // q x d
        let k_mat = symmetrize(&(&ub * &self.sigma_left * ub.transpose()));
        let chol = cholesky(&k_mat, "projected anchor covariance U^T B Sigma_L B U")?;
        let l = chol.l();
        let centres = &ub * &self.means; // q x k: a_c as columns
        let log_pi: Vec<f64> = self.weights.iter().map(|w| w.ln()).collect();
        // c_j^T L z_s for every node and j (n x k), the same for every component.
        let spread = &self.nodes * l.transpose() * self.coords.transpose();
        let mut value = 0.0;
        let mut abar = DMatrix::zeros(q, k);
        let mut lbar = DMatrix::zeros(q, q);
        let mut logits = DMatrix::zeros(n, k);
        for c in 0..k {
            let weight = self.weights[c] / n as f64;
            let shift = &self.coords * centres.column(c); // k: C a_c
            // logits_sj = c_j^T (a_c + L z_s) + log pi_j, then overwritten by the softmax P_cs.
            let mut sum = 0.0;
            for s in 0..n {
                let mut row: Vec<f64> = (0..k).map(|j| spread[(s, j)] + shift[j] + log_pi[j]).collect();
                let lse = log_sum_exp(&row);
                sum += lse;
                for (j, v) in row.iter_mut().enumerate() {
                    logits[(s, j)] = (*v - lse).exp();
                }
            }
            value += weight * sum;
            // g_s = weight C^T P_s, as rows of an n x q matrix.
            let g = &logits * &self.coords * weight;
            abar.set_column(c, &g.row_sum().transpose());
            lbar += g.tr_mul(&self.nodes);
        }
        // Cholesky adjoint: Kbar = sym(L^{-T} Phi(L^T tril(Lbar)) L^{-1}).
        let mut phi = l.tr_mul(&lbar.lower_triangle());
        phi.fill_upper_triangle(0.0, 1);
        for i in 0..q {
            phi[(i, i)] *= 0.5;
        }
        // L^T Y = Phi, then L^T Z^T = Y^T: Z = L^{-T} Phi L^{-1}.
        let inner = l.tr_solve_lower_triangular(&phi).and_then(|y| l.tr_solve_lower_triangular(&y.transpose())).ok_or(
            GmmError::Singular { what: "Cholesky factor of U^T B Sigma_L B U", fix: "a map that sees the means' span" },
        )?;
        let kbar = symmetrize(&inner);
        let ukut = &self.basis * kbar * self.basis.transpose();
        let bsl = b * &self.sigma_left;
        let bbar = &self.basis * abar * self.means.transpose() + &ukut * &bsl + bsl.transpose() * &ukut;
        Ok((value, bbar))
    }
}

/// The centred component means as columns (`d x k`): `mu_j - m`.
fn centred_means(gmm: &Gmm) -> DMatrix<f64> {
    let mean = gmm.mean();
    let means = gmm.means().transpose();
    DMatrix::from_fn(means.nrows(), means.ncols(), |i, j| means[(i, j)] - mean[i])
}

/// An orthonormal basis of the span of the centred means `centred` (singular values above
/// `1e-10` of the largest: the left singular vectors), each column's sign fixed so that its entry
/// of largest magnitude is positive. The quadrature's nodes live in this basis, so the discretised
/// objective depends on it; the fixed signs make it reproducible elsewhere (the JAX fixture).
fn means_basis(centred: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let mut basis = orthonormal_column_basis(centred, 1e-10)?;
    for mut column in basis.column_iter_mut() {
        let largest = column.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        if largest < 0.0 {
            column.neg_mut();
        }
    }
    Ok(basis)
}
