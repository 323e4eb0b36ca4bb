//! Population quantities of a [`Gmm`]: moments, the Fisher subspace, the Bayes posterior and
//! the oblique projector onto the Fisher coordinates (theory.md sections 1 and 2).

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result, check_finite, check_shape};
use crate::gmm::Gmm;
use crate::linalg::{
    RANK_RTOL, log_softmax_in_place, solve_lower_in_place, solve_lower_transpose_in_place, spd_inv_sqrt, spd_sqrt,
    sym_eig_desc, symmetrize,
};
use crate::sample::check_delta;
use crate::subspace::Subspace;

impl Gmm {
    /// `mu_bar = sum_i pi_i mu_i` (length `d`).
    pub fn mean(&self) -> DVector<f64> {
        self.means().tr_mul(self.weights())
    }

    /// Centred means scaled by `sqrt(pi_i)`: the `k x d` matrix `D` whose row `i` is
    /// `sqrt(pi_i) (mu_i - mu_bar)`, so that `S_B = D^T D`.
    pub fn scaled_centred_means(&self) -> DMatrix<f64> {
        let mean = self.mean();
        let mut d = self.means().clone();
        for (i, mut row) in d.row_iter_mut().enumerate() {
            row -= mean.transpose();
            row *= self.weights()[i].sqrt();
        }
        d
    }

    /// Between-class scatter `S_B = sum_i pi_i (mu_i - mu_bar)(mu_i - mu_bar)^T` (`d x d`, rank `<= k-1`).
    pub fn between_scatter(&self) -> DMatrix<f64> {
        let d = self.scaled_centred_means();
        symmetrize(&d.tr_mul(&d))
    }

    /// Total covariance `Sigma_T = Sigma + S_B`.
    pub fn total_covariance(&self) -> DMatrix<f64> {
        self.covariance() + self.between_scatter()
    }

    /// `sum_i pi_i mu_i mu_i^T` (`d x d`).
    fn mean_second_moment(&self) -> DMatrix<f64> {
        let mut scaled = self.means().clone();
        for (i, mut row) in scaled.row_iter_mut().enumerate() {
            row *= self.weights()[i].sqrt();
        }
        symmetrize(&scaled.tr_mul(&scaled))
    }

    /// Second moment `M = E[x x^T] = Sigma + sum_i pi_i mu_i mu_i^T`.
    pub fn second_moment(&self) -> DMatrix<f64> {
        self.covariance() + self.mean_second_moment()
    }

    /// Cross moment of augmentation pairs with coupling `delta`:
    /// `C = E[x+ x^T] = delta sum_i pi_i mu_i mu_i^T + (1 - delta) mu_bar mu_bar^T` (symmetric).
    pub fn cross_moment(&self, delta: f64) -> Result<DMatrix<f64>> {
        check_delta(delta)?;
        let m = self.mean();
        Ok(self.mean_second_moment() * delta + (&m * m.transpose()) * (1.0 - delta))
    }

    /// `Cov(x+, x) = delta S_B` for pairs with coupling `delta`.
    pub fn pair_covariance(&self, delta: f64) -> Result<DMatrix<f64>> {
        check_delta(delta)?;
        Ok(self.between_scatter() * delta)
    }

    /// `Sigma^{-1} B` for a `d x c` matrix `B`, by two triangular solves with the Cholesky factor.
    pub fn solve_covariance(&self, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_shape(b, self.dim(), b.ncols(), "rows of the right-hand side against d")?;
        let mut out = b.clone();
        solve_lower_in_place(self.cholesky_factor(), &mut out);
        solve_lower_transpose_in_place(self.cholesky_factor(), &mut out);
        Ok(out)
    }

    /// The Fisher subspace `F = span{Sigma^{-1}(mu_i - mu_bar)} = range(Sigma^{-1} S_B)`, as an
    /// orthonormal basis of dimension `rank(S_B) <= k - 1` (rank by [`RANK_RTOL`]).
    ///
    /// ```
    /// // The textbook trap: mu = +-1.5 e_1, Sigma = diag(1, 9). F = span{e_1}, while PCA's top
    /// // direction is e_2 (variance 9 > 1 + 1.5^2).
    /// let g = gmm_core::textbook_2d(1.5, 9.0)?;
    /// let f = g.fisher_subspace()?;
    /// assert_eq!(f.dim(), 1);
    /// assert!(f.basis()[(0, 0)].abs() > 1.0 - 1e-12);
    /// assert!(g.pca_subspace(1)?.sin_theta_max(&f)? > 1.0 - 1e-12);
    /// # Ok::<(), gmm_core::GmmError>(())
    /// ```
    pub fn fisher_subspace(&self) -> Result<Subspace> {
        let directions = self.solve_covariance(&self.scaled_centred_means().transpose())?;
        Subspace::from_columns(&directions, RANK_RTOL)
    }

    /// The span of the centred means `span{mu_i - mu_bar} = range(S_B)` (orthonormal basis). It
    /// equals the Fisher subspace when `Sigma` maps it to itself (e.g. isotropic `Sigma`).
    pub fn mean_span(&self) -> Result<Subspace> {
        Subspace::from_columns(&self.scaled_centred_means().transpose(), RANK_RTOL)
    }

    /// The top-`r` principal subspace of the population: top-`r` eigenvectors of `Sigma_T`
    /// (what PCA converges to).
    ///
    /// # Errors
    /// `r` outside `1..=d`; [`GmmError::NotUnique`] when `r < d` and the eigengap
    /// `lambda_r - lambda_{r+1}` of `Sigma_T` is at most `1e-12 lambda_1` (the subspace is not
    /// unique).
    pub fn pca_subspace(&self, r: usize) -> Result<Subspace> {
        if r == 0 || r > self.dim() {
            return Err(GmmError::out_of_range(
                "PCA dimension r",
                r as f64,
                format!("between 1 and d = {}", self.dim()),
            ));
        }
        let (w, v) = sym_eig_desc(&self.total_covariance())?;
        // Below r = d the subspace is unique only if lambda_r > lambda_{r+1}; a gap at rounding
        // level (e.g. means 1e-9 apart with Sigma = I) leaves any direction of the degenerate
        // eigenspace equally a PCA direction, and a verdict on it would be noise.
        if r < self.dim() && w[r - 1] - w[r] <= 1e-12 * w[0].abs() {
            return Err(GmmError::NotUnique {
                what: "the population PCA subspace (the eigengap of Sigma_T after r is at rounding level)",
                fix: "every direction of the degenerate eigenspace is equally principal: separate the means more, or compare at another r",
            });
        }
        Subspace::from_orthonormal(v.columns(0, r).into_owned())
    }

    /// Log of the Bayes posterior for each row of `x` (`n x d`, rows are samples): the `n x k`
    /// matrix of `log p(z = i | x) = log pi_i + mu_i^T Sigma^{-1} x - mu_i^T Sigma^{-1} mu_i / 2 - log Z(x)`,
    /// normalised row by row with log-sum-exp.
    pub fn log_posterior(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_shape(x, x.nrows(), self.dim(), "columns of the samples against d")?;
        let s_mu = self.solve_covariance(&self.means().transpose())?; // d x k, columns Sigma^{-1} mu_i
        let mut logits = x * &s_mu;
        for i in 0..self.k() {
            let offset = self.weights()[i].ln() - 0.5 * self.means().row(i).transpose().dot(&s_mu.column(i));
            logits.column_mut(i).add_scalar_mut(offset);
        }
        // Samples, means or a covariance at the ends of the f64 range overflow the logits: an
        // error, never a posterior of NaN or of rows that do not sum to one.
        check_finite(&logits, "posterior logits (the samples, means or covariance overflow)")?;
        let mut values = vec![0.0; self.k()];
        for mut row in logits.row_iter_mut() {
            values.iter_mut().zip(row.iter()).for_each(|(v, &l)| *v = l);
            log_softmax_in_place(&mut values);
            row.iter_mut().zip(&values).for_each(|(l, &v)| *l = v);
        }
        Ok(logits)
    }

    /// The Bayes posterior `p(z = i | x)` for each row of `x`: `n x k`, rows sum to 1,
    /// `p(z = i | x) = softmax_i(log pi_i + mu_i^T Sigma^{-1} x - mu_i^T Sigma^{-1} mu_i / 2)`.
    ///
    /// ```
    /// use gmm_core::nalgebra::DMatrix;
    /// let g = gmm_core::textbook_2d(1.5, 9.0)?;
    /// // Midway between the means the posterior is even, whatever the second coordinate.
    /// let p = g.posterior(&DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 0.0, 100.0]))?;
    /// assert!((p[(0, 0)] - 0.5).abs() < 1e-12 && (p[(1, 1)] - 0.5).abs() < 1e-12);
    /// # Ok::<(), gmm_core::GmmError>(())
    /// ```
    pub fn posterior(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        Ok(self.log_posterior(x)?.map(f64::exp))
    }

    /// The oblique projector `P = Sigma^{1/2} P_0 Sigma^{-1/2}` onto the Fisher coordinates,
    /// `P_0` the orthogonal projector onto `span{Sigma^{-1/2}(mu_i - mu_bar)}` (`d x d`).
    ///
    /// `P` projects onto the span of the centred means along `{x : (mu_i - mu_bar)^T Sigma^{-1} x = 0 for all i}`,
    /// so `(mu_i - mu_bar)^T Sigma^{-1} P x = (mu_i - mu_bar)^T Sigma^{-1} x`: the posterior is a
    /// function of `P x` alone (claim C1).
    pub fn fisher_projector(&self) -> Result<DMatrix<f64>> {
        let half = spd_sqrt(self.covariance())?;
        let inv_half = spd_inv_sqrt(self.covariance())?;
        let p0 = self.whitened_fisher_subspace(&inv_half)?.projector();
        Ok(half * p0 * inv_half)
    }

    /// `span{Sigma^{-1/2}(mu_i - mu_bar)}` given `Sigma^{-1/2}`.
    fn whitened_fisher_subspace(&self, inv_half: &DMatrix<f64>) -> Result<Subspace> {
        Subspace::from_columns(&(inv_half * self.scaled_centred_means().transpose()), RANK_RTOL)
    }

    /// Share of `||A Sigma^{1/2}||_F^2` outside the Fisher coordinates:
    /// `||A Sigma^{1/2} (I - P_0)||_F^2 / ||A Sigma^{1/2}||_F^2` for `A` (`r x d`, rows are
    /// directions). Zero exactly when `A = A P` (the map reads only the Fisher coordinates).
    ///
    /// # Errors
    /// Wrong number of columns, non-finite entries, or `A = 0` (the share is undefined).
    pub fn share_outside_fisher(&self, a: &DMatrix<f64>) -> Result<f64> {
        check_shape(a, a.nrows(), self.dim(), "columns of the map against d")?;
        crate::check_finite(a, "map whose Fisher share is asked")?;
        let half = spd_sqrt(self.covariance())?;
        let inv_half = spd_inv_sqrt(self.covariance())?;
        let p0 = self.whitened_fisher_subspace(&inv_half)?.projector();
        let ah = a * half;
        let total = ah.norm_squared();
        if total == 0.0 {
            return Err(GmmError::EmptySubspace { what: "row space of the map whose Fisher share is asked" });
        }
        let outside = &ah - &ah * p0;
        Ok(outside.norm_squared() / total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_case_moments() {
        // mu = +-a e1, Sigma = diag(1, s2): F = span{e1}, S_B = a^2 e1 e1^T.
        let a = 1.5;
        let g = Gmm::new(
            &[0.5, 0.5],
            DMatrix::from_row_slice(2, 2, &[a, 0.0, -a, 0.0]),
            DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 9.0]),
        )
        .unwrap();
        assert!(g.mean().norm() < 1e-15);
        assert!((g.between_scatter() - DMatrix::from_row_slice(2, 2, &[a * a, 0.0, 0.0, 0.0])).amax() < 1e-15);
        let f = g.fisher_subspace().unwrap();
        assert_eq!(f.dim(), 1);
        assert!(f.basis()[(1, 0)].abs() < 1e-15);
        // s2 = 9 > 1 + a^2: PCA picks e2, orthogonal to F.
        assert!((g.pca_subspace(1).unwrap().sin_theta_max(&f).unwrap() - 1.0).abs() < 1e-12);
        assert!((g.pair_covariance(0.5).unwrap() - g.between_scatter() * 0.5).amax() < 1e-15);
        assert!(g.cross_moment(1.5).is_err());
    }
}
