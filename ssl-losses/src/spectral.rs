//! The spectral contrastive loss (HaoChen, Wei, Gaidon and Ma, NeurIPS 2021) on a linear
//! encoder `f(x) = A x`: `L(A) = -2 E[f(x)^T f(x+)] + E[(f(x)^T f(x'))^2]`, `x'` independent of
//! `x` (the derivation is `../shared/spec/zoo/zoo.md`, item 1; docs/theory.md states it).
//!
//! * **Batch form** ([`SpectralContrastiveLoss`]), on `n` pairs with `Z = X A^T`, `Z+ = X+ A^T`
//!   and `S = Z Z+^T`: `L = -(2/n) sum_i S_ii + (1/(n(n-1))) sum_{i != j} S_ij^2`, the positives
//!   on the diagonal and the other pairs' positives as the independent draws `x'`. Its gradient:
//!   `G = dL/dS = -(2/n) I + (2/(n(n-1))) offdiag(S)`, `dL/dA = Z+^T G^T X + Z^T G X+`. Both
//!   terms are unbiased, so its expectation over batches is the population form on the pairs'
//!   raw moments.
//! * **Population form** ([`spectral_population`]): with `K = E[x+ x^T]` and `M = E[x x^T]`
//!   (`delta S_B` and `Sigma_T` for centred pairs), `L(A) = -2 tr(A K A^T) + ||A M A^T||_F^2`,
//!   `dL/dA = -2 A (K + K^T) + 4 A M A^T A M`. Only second moments enter.
//! * **Minimiser** ([`spectral_optimum`], PROVED in zoo.md): with `G = A M^{1/2}` and
//!   `T = M^{-1/2} sym(K) M^{-1/2}`, `L = ||G^T G - T||_F^2 - ||T||_F^2`, so the minimiser is the
//!   best rank-`r` PSD approximation of `T` (Eckart-Young): `A^T A = M^{-1/2} T_r M^{-1/2}`. For
//!   centred pairs and `r >= k - 1` its row space is exactly the Fisher subspace `F`, and the
//!   rows beyond `k - 1` are zero.

use gmm_core::nalgebra::DMatrix;
use gmm_core::{GmmError, check_shape};

use crate::cost::Cost;
use crate::error::Result;
use crate::objective::{Batch, Objective, check_blocks, ensure_shape, finite_loss, project_into};
use crate::scalar::{Real, from_f64};
use crate::whitened::WhitenedSpectrum;
use gmm_core::linalg::{Op, gemm};

/// The spectral contrastive loss on batches of pairs (one block `A`, `r x d`); see the module
/// docs for the formula and its gradient.
///
/// ```
/// use gmm_core::nalgebra::DMatrix;
/// use ssl_losses::{Batch, Objective, SpectralContrastiveLoss};
///
/// // Two pairs whose outputs are orthonormal: S = I, so L = -2 + 0.
/// let x: DMatrix<f64> = DMatrix::identity(2, 2);
/// let mut grads = vec![DMatrix::zeros(2, 2)];
/// let mut loss = SpectralContrastiveLoss::new();
/// let value = loss.value_grad(&[DMatrix::identity(2, 2)], Batch::new(&x, &x)?, &mut grads)?;
/// assert_eq!(value, -2.0);
/// # Ok::<(), ssl_losses::LossError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpectralContrastiveLoss<T: Real = f64> {
    z: DMatrix<T>,
    zp: DMatrix<T>,
    g: DMatrix<T>,
    gz: DMatrix<T>,
}

impl<T: Real> SpectralContrastiveLoss<T> {
    /// The loss (it has no hyper-parameters).
    pub fn new() -> Self {
        let e = DMatrix::zeros(0, 0);
        Self { z: e.clone(), zp: e.clone(), g: e.clone(), gz: e }
    }
}

impl<T: Real> Objective<T> for SpectralContrastiveLoss<T> {
    fn name(&self) -> &'static str {
        "spectral-contrastive"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(&mut self, params: &[DMatrix<T>], batch: Batch<'_, T>, grads: &mut [DMatrix<T>]) -> Result<T> {
        // The off-diagonal term needs two pairs.
        batch.check_len(2)?;
        let (n, d) = (batch.len(), batch.left().ncols());
        let r = params.first().map_or(0, |a| a.nrows());
        check_blocks(params, grads, &[(r, d)])?;
        check_shape(batch.right(), n, d, "positives against anchors")?;
        let a = &params[0];
        project_into(batch.left(), a, &mut self.z)?;
        project_into(batch.right(), a, &mut self.zp)?;
        // S = Z Z+^T, then G = dL/dS in place.
        ensure_shape(&mut self.g, n, n);
        gemm(T::one(), &self.z, Op::N, &self.zp, Op::T, T::zero(), &mut self.g)?;
        let (diag_w, off_w) = (from_f64::<T>(2.0 / n as f64), from_f64::<T>(1.0 / (n as f64 * (n as f64 - 1.0))));
        let mut loss = T::zero();
        for j in 0..n {
            for i in 0..n {
                let s = self.g[(i, j)];
                if i == j {
                    loss -= diag_w * s;
                    self.g[(i, j)] = -diag_w;
                } else {
                    loss += off_w * s * s;
                    self.g[(i, j)] = (off_w + off_w) * s;
                }
            }
        }
        // dL/dA = Z+^T G^T X + Z^T G X+ = (G^T Z)^T X+ ... written as two products through n x r.
        let grad = &mut grads[0];
        ensure_shape(&mut self.gz, n, r);
        // dL/dZ = G Z+ (n x r); its transpose times X.
        gemm(T::one(), &self.g, Op::N, &self.zp, Op::N, T::zero(), &mut self.gz)?;
        gemm(T::one(), &self.gz, Op::T, batch.left(), Op::N, T::zero(), grad)?;
        // dL/dZ+ = G^T Z (n x r); its transpose times X+.
        gemm(T::one(), &self.g, Op::T, &self.z, Op::N, T::zero(), &mut self.gz)?;
        gemm(T::one(), &self.gz, Op::T, batch.right(), Op::N, T::one(), grad)?;
        finite_loss("spectral contrastive loss or gradient (overflow: the map or the data is too large)", loss, grads)
    }
}

/// The population spectral contrastive loss and its gradient at `a` (`r x d`) for the cross
/// moment `k = E[x+ x^T]` and the second moment `m = E[x x^T]` (both `d x d`):
/// `L = -2 tr(A K A^T) + ||A M A^T||_F^2`, `dL/dA = -2 A (K + K^T) + 4 A M A^T A M`.
///
/// # Errors
/// Shapes that do not match; a non-finite value or gradient.
pub fn spectral_population(a: &DMatrix<f64>, k: &DMatrix<f64>, m: &DMatrix<f64>) -> Result<(f64, DMatrix<f64>)> {
    let d = a.ncols();
    check_shape(k, d, d, "cross moment K against the map")?;
    check_shape(m, d, d, "second moment M against the map")?;
    let am = a * m;
    let ama = &am * a.transpose();
    let value = -2.0 * (a * k * a.transpose()).trace() + ama.norm_squared();
    let grad = a * (k + k.transpose()) * -2.0 + &ama * &am * 4.0;
    finite_loss("population spectral contrastive loss or gradient", value, std::slice::from_ref(&grad))?;
    Ok((value, grad))
}

/// The population spectral contrastive loss at fixed moments as a [`Cost`] over one block `A`
/// ([`spectral_population`]), for the deterministic solvers (e.g. [`crate::Lbfgs::minimize`]).
#[derive(Clone, Copy, Debug)]
pub struct SpectralPopulationCost<'a> {
    /// The cross moment `K = E[x+ x^T]`.
    pub k: &'a DMatrix<f64>,
    /// The second moment `M = E[x x^T]`.
    pub m: &'a DMatrix<f64>,
}

impl Cost for SpectralPopulationCost<'_> {
    fn cost_grad(&mut self, params: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]) -> Result<f64> {
        check_blocks(params, grads, &[(params.first().map_or(0, |a| a.nrows()), self.k.nrows())])?;
        let (value, grad) = spectral_population(&params[0], self.k, self.m)?;
        grads[0].copy_from(&grad);
        Ok(value)
    }
}

/// The minimiser of the population spectral contrastive loss with `r` outputs for the moments
/// `k` (cross) and `m` (second, positive definite): `A = Lambda_r^{1/2} Q_r^T M^{-1/2}` with
/// `(Lambda, Q)` the top eigenpairs of `T = M^{-1/2} sym(K) M^{-1/2}` (negative eigenvalues
/// clipped to 0), unique up to an orthogonal `O` on the left (`A^T A` is unique). Rows beyond the
/// rank of `T` are zero.
///
/// # Errors
/// Shapes; `r` outside `1..=d`; `M` not positive definite; no eigengap after the `r`-th
/// eigenvalue among the nonzero ones (then `A^T A` is not unique).
pub fn spectral_optimum(k: &DMatrix<f64>, m: &DMatrix<f64>, r: usize) -> Result<DMatrix<f64>> {
    let spectrum = WhitenedSpectrum::new(m, k, r)?;
    let s = spectrum.signal_rows(r).map_err(|_| GmmError::NotUnique {
        what: "the spectral contrastive minimiser (eigenvalues r and r + 1 of M^{-1/2} sym(K) M^{-1/2} are equal)",
        fix: "choose r at an eigengap, or at least the rank of the signal",
    })?;
    Ok(spectrum.scaled_rows(r, s))
}
