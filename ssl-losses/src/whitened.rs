//! The whitened SimSiam problem (docs/theory.md 3 and 6, claim C11): the whitening constraint
//! `A M A^T = I`, the closed-form optimum of the MSE loss under it, the spectrum that sets the
//! recipe's budget and predictor rate, and the certificate that measures a map's distance to the
//! optimum. The recipe that trains to it is [`crate::WhitenedSimSiam`].

use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{GmmError, check_shape};

use crate::error::{LossError, Result};
use crate::executor::{Constraint, TrainConfig};
use crate::objective::Batch;

/// The whitening constraint of SimSiam on block 0: `A M A^T = I` after every step, `M` a running
/// (exponential, with this momentum) estimate of the second moment `E[x x^T]` from the batches
/// (both sides pooled): `A <- (A M A^T)^{-1/2} A`.
#[derive(Clone, Debug)]
pub struct RunningWhitening {
    momentum: f64,
    m: Option<DMatrix<f64>>,
}

impl RunningWhitening {
    /// # Errors
    /// `momentum` outside `[0, 1)`.
    pub fn new(momentum: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&momentum) {
            return Err(GmmError::out_of_range("whitening momentum", momentum, "in [0, 1)").into());
        }
        Ok(Self { momentum, m: None })
    }
}

impl Constraint for RunningWhitening {
    fn observe_batch(&mut self, batch: &Batch<'_>) -> Result<()> {
        let n = batch.len() as f64;
        let m = (batch.left().tr_mul(batch.left()) + batch.right().tr_mul(batch.right())) / (2.0 * n);
        self.m = Some(match self.m.take() {
            None => m,
            Some(prev) => prev * self.momentum + m * (1.0 - self.momentum),
        });
        Ok(())
    }

    fn project(&mut self, params: &mut [DMatrix<f64>]) -> Result<()> {
        if let (Some(m), Some(a)) = (&self.m, params.first_mut()) {
            *a = whiten_rows(a, m)?;
        }
        Ok(())
    }
}

/// Projects `A` (`r x d`) onto the whitening constraint `A M A^T = I_r`:
/// `A <- (A M A^T)^{-1/2} A`, `M` (`d x d`) symmetric positive definite.
///
/// # Errors
/// `M` not `d x d` for `A` of `d` columns; `A M A^T` singular (e.g. `A` has collapsed to rank
/// `< r`).
pub fn whiten_rows(a: &DMatrix<f64>, m: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_shape(m, a.ncols(), a.ncols(), "M against the columns of A")?;
    let gram = a * m * a.transpose();
    let inv_half = gmm_core::linalg::spd_inv_sqrt(&gram).map_err(LossError::from)?;
    Ok(inv_half * a)
}

/// Closed-form minimiser of the SimSiam MSE loss under `A M A^T = I_r` (with the optimal
/// predictor `W = A C A^T`): `A = Q^T M^{-1/2}`, `Q` the top-`r` eigenvectors of
/// `M^{-1/2} C M^{-1/2}`, `C = sym(E[x+ x^T])`. Its row space is the Fisher subspace when the
/// means are centred and `r = k - 1` (claim C11).
///
/// # Errors
/// `r` outside `1..=d`, `M` not positive definite, shapes.
pub fn whitened_optimum(m: &DMatrix<f64>, c: &DMatrix<f64>, r: usize) -> Result<DMatrix<f64>> {
    let k = WhitenedSpectrum::new(m, c, r)?;
    Ok(k.q.columns(0, r).transpose() * k.inv_half)
}

/// The eigenvalues, in descending order, of `K = M^{-1/2} sym(C) M^{-1/2}` for second moment `m`
/// and cross moment `c`: the correlations of the whitened SimSiam problem, whose top `r`
/// eigenvectors give its optimum ([`whitened_optimum`]) and whose sizes set the recipe's speed
/// ([`whitened_budget`]).
///
/// # Errors
/// Shapes, `M` not positive definite, a non-finite value.
pub fn whitened_eigenvalues(m: &DMatrix<f64>, c: &DMatrix<f64>) -> Result<DVector<f64>> {
    Ok(WhitenedSpectrum::new(m, c, 1)?.lambda)
}

/// The step budget of the whitened-SimSiam recipe ([`crate::train_whitened_simsiam`], batch 256, the
/// default learning rate) for the problem with moments `m`, `c` and `r` directions:
/// `10000 * 0.04 / (lambda_s (lambda_s - lambda_{s+1}))` steps, at least `at_least` and at most
/// 320000, over the eigenvalues `lambda` of `M^{-1/2} sym(C) M^{-1/2}` (`s = r` unless `r`
/// exceeds the signal's rank, [`WhitenedCertificate::eigengap`]).
///
/// Why this rate: near the optimum the predictor's eigenvalue for the weakest row tends to
/// `lambda_s`, and that row's error toward the next direction shrinks by a factor
/// `1 - lr_eff lambda_s (lambda_s - lambda_{s+1})` per step: the predictor enters the update
/// twice (measurements: docs/theory.md 7).
///
/// # Errors
/// As [`WhitenedCertificate::new`] for the problem (shapes, `r`, `M`, no eigengap).
pub fn whitened_budget(m: &DMatrix<f64>, c: &DMatrix<f64>, r: usize, at_least: usize) -> Result<usize> {
    WhitenedSpectrum::new(m, c, r)?.budget(r, at_least)
}

/// The learning-rate multiplier of the recipe's predictor ([`crate::train_whitened_simsiam`]) for the
/// problem with moments `m`, `c`, `r` directions, batches of `batch` pairs and base learning rate
/// `config.lr`: `min(1, batch lambda_s^2 / (64 lr_eff))`, `lr_eff = lr / (1 - 0.9)` the step of
/// SGD with momentum 0.9, `lambda_s` the weakest signal eigenvalue of `M^{-1/2} sym(C) M^{-1/2}`
/// (as in [`whitened_budget`]).
///
/// Why: the predictor `W` tracks `A C^ A^T` of the batches like a moving average over about
/// `1 / (2 rho lr_eff)` steps, so it fluctuates by `sigma_w ~ sqrt(rho lr_eff / batch)` (an entry
/// of a whitened batch cross moment has variance about `1 / batch`). The weakest row drifts toward
/// the optimum in proportion to its predictor eigenvalue `w_s ~ lambda_s` but is kicked in
/// proportion to `E[w_s^2]`; once `sigma_w` reaches `lambda_s` the kicks win and the row never
/// settles. The rule keeps `sigma_w <= lambda_s / 8`, and then the predictor's horizon is
/// `32 lr_eff / batch` of the map's relaxation time `1 / (lr_eff lambda_s^2)`: still the fast
/// variable. Strong signals give 1 (the plain recipe). Measurements: docs/theory.md 7.
///
/// # Errors
/// As [`whitened_budget`]; `batch = 0`; a learning rate that is not positive.
pub fn whitened_predictor_rate(
    m: &DMatrix<f64>,
    c: &DMatrix<f64>,
    r: usize,
    batch: usize,
    config: &TrainConfig,
) -> Result<f64> {
    WhitenedSpectrum::new(m, c, r)?.predictor_rate(r, batch, config)
}

/// The heavy-ball momentum of the whitened-SimSiam recipe.
pub(crate) const RECIPE_MOMENTUM: f64 = 0.9;

/// `M^{-1/2}` and the eigen-decomposition (descending) of `K = M^{-1/2} sym(C) M^{-1/2}`.
pub(crate) struct WhitenedSpectrum {
    inv_half: DMatrix<f64>,
    sym_c: DMatrix<f64>,
    lambda: DVector<f64>,
    q: DMatrix<f64>,
}

impl WhitenedSpectrum {
    /// Checks `M` (`d x d`), `C` against it and `r` in `1..=d`.
    pub(crate) fn new(m: &DMatrix<f64>, c: &DMatrix<f64>, r: usize) -> Result<Self> {
        let d = m.nrows();
        check_shape(m, d, d, "second moment M")?;
        check_shape(c, d, d, "cross moment C against M")?;
        if r == 0 || r > d {
            return Err(GmmError::out_of_range("output dimension r", r as f64, format!("between 1 and d = {d}")).into());
        }
        let inv_half = gmm_core::linalg::spd_inv_sqrt(m)?;
        let sym_c = gmm_core::linalg::symmetrize(c);
        let (lambda, q) = gmm_core::linalg::sym_eig_desc(&(&inv_half * &sym_c * &inv_half))?;
        Ok(Self { inv_half, sym_c, lambda, q })
    }

    /// [`whitened_budget`] of this problem.
    pub(crate) fn budget(&self, r: usize, at_least: usize) -> Result<usize> {
        let s = self.signal_rows(r)?;
        let rate = self.lambda[s - 1] * self.gap_after(s);
        let steps = 10_000.0 * 0.04 / rate;
        let cap = 320_000;
        Ok(if steps.is_finite() && steps > 0.0 { (steps as usize).clamp(at_least.min(cap), cap) } else { cap })
    }

    /// [`whitened_predictor_rate`] of this problem.
    pub(crate) fn predictor_rate(&self, r: usize, batch: usize, config: &TrainConfig) -> Result<f64> {
        gmm_core::check_at_least(batch, 1, "pairs per batch")?;
        gmm_core::check_positive(config.lr, "learning rate")?;
        let lambda = self.lambda[self.signal_rows(r)? - 1];
        let lr_eff = config.lr / (1.0 - RECIPE_MOMENTUM);
        Ok((batch as f64 * lambda * lambda / (64.0 * lr_eff)).min(1.0))
    }

    /// The `r x d` map whose first `s` rows are `sqrt(max(lambda_i, 0)) q_i^T M^{-1/2}` and whose
    /// other rows are zero: the best rank-`s` PSD approximation of `K` carried back by
    /// `M^{-1/2}` (the spectral contrastive minimiser, [`crate::spectral_optimum`]).
    pub(crate) fn scaled_rows(&self, r: usize, s: usize) -> DMatrix<f64> {
        let mut rows = DMatrix::zeros(r, self.q.nrows());
        for i in 0..s.min(r) {
            rows.set_row(i, &(self.q.column(i).transpose() * self.lambda[i].max(0.0).sqrt()));
        }
        rows * &self.inv_half
    }

    /// `lambda_i - lambda_{i+1}` (`lambda_{d+1} = 0`).
    fn gap_after(&self, i: usize) -> f64 {
        self.lambda[i - 1] - self.lambda.get(i).copied().unwrap_or(0.0)
    }

    /// The certificate of `a` (`r x d`, `r` as this spectrum was built for; `m` its `M`).
    pub(crate) fn certify(&self, a: &DMatrix<f64>, m: &DMatrix<f64>, tol: f64) -> Result<WhitenedCertificate> {
        let r = a.nrows();
        let b = whiten_rows(a, m)?;
        let value = (&b * &self.sym_c * b.transpose()).norm_squared();
        if !value.is_finite() {
            return Err(
                GmmError::NonFinite { what: "whitened SimSiam objective at the map", row: 0, col: 0, value }.into()
            );
        }
        let optimum: f64 = self.lambda.iter().take(r).map(|l| l * l).sum();
        // Containment of the optimum's top s rows when r exceeds the signal's rank (5.6).
        let s = self.signal_rows(r)?;
        let eigengap = self.gap_after(s);
        let best = gmm_core::LinearMap::new(self.q.columns(0, s).transpose() * &self.inv_half).row_space()?;
        let sin_to_optimum = gmm_core::LinearMap::new(a.clone()).row_space()?.sin_theta_max(&best)?;
        Ok(WhitenedCertificate {
            sin_to_optimum,
            value_gap: (optimum - value) / optimum,
            eigengap,
            tol,
            converged: sin_to_optimum <= tol,
        })
    }

    /// The rows of an `r`-row map that the optimum fixes: `r`, or with `r` above the rank of the
    /// signal (`lambda_{s+1} = ... = 0` for some `s < r`, the constraint leaving the extra rows
    /// free) that rank `s`.
    ///
    /// # Errors
    /// No eigengap after `lambda_s` (the optimum is not unique).
    pub(crate) fn signal_rows(&self, r: usize) -> Result<usize> {
        // K is dimensionless (its eigenvalues are correlations in [-1, 1]): an absolute floor.
        let rounding = 1e-12;
        let s = if self.gap_after(r) > rounding {
            Some(r)
        } else {
            (1..r).rev().find(|&i| self.gap_after(i) > rounding && self.lambda[i].abs() <= rounding)
        };
        s.ok_or_else(|| {
            GmmError::Singular {
                what: "the whitened SimSiam objective (no eigengap after lambda_r: its optimum is not unique)",
                fix: "use pairs with coupling delta > 0 and r at most the number of signal directions",
            }
            .into()
        })
    }
}

/// The convergence certificate of a whitened SimSiam map (docs/theory.md 5.3). The problem the
/// recipe solves, minimising the MSE loss under `A M A^T = I` with the optimal predictor, is
/// maximising `f(A) = ||S^{-1/2} A C A^T S^{-1/2}||_F^2` (`S = A M A^T`), whose maximisers are
/// known in closed form ([`whitened_optimum`]): row spaces `row(Q^T M^{-1/2})`, `Q` the top-`r`
/// eigenvectors of `K = M^{-1/2} C M^{-1/2}`. So the certificate measures the distance to the
/// optimum directly: `sin theta_max` between `row(A)` and the optimum's row space, with the
/// relative value gap `(f* - f(A)) / f*` beside it. A gradient norm would be small at a saddle
/// point too (stop-gradient dynamics stall near one when `lambda_r` is small), and there is no
/// scalar loss whose gradient the recipe follows.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WhitenedCertificate {
    /// `sin theta_max` between `row(A)` and the optimum's row space (when `r` exceeds the rank
    /// `s` of the signal, how far the optimum's top `s` rows are from lying in `row(A)`).
    pub sin_to_optimum: f64,
    /// `(f* - f(A)) / f*`, `f* = sum_{i <= r} lambda_i^2` over the eigenvalues of `K`.
    pub value_gap: f64,
    /// `lambda_s - lambda_{s+1}` (`lambda_{d+1} = 0`, `s = r` unless `r` exceeds the signal's
    /// rank): the eigengap that makes the optimum's row space unique and sets how slowly the
    /// recipe approaches it.
    pub eigengap: f64,
    /// The tolerance on `sin_to_optimum`.
    pub tol: f64,
    /// `sin_to_optimum <= tol`.
    pub converged: bool,
}

impl WhitenedCertificate {
    /// The certificate of `a` (`r x d`) for the problem with second moment `m` and cross moment
    /// `c` (symmetrised here), against `tol`.
    ///
    /// # Errors
    /// Shapes, `r` outside `1..=d`, `M` or `A M A^T` not positive definite (a map of rank `< r`),
    /// an eigengap at rounding level (the optimum's row space is not unique), a non-finite value.
    pub fn new(a: &DMatrix<f64>, m: &DMatrix<f64>, c: &DMatrix<f64>, tol: f64) -> Result<Self> {
        check_shape(a, a.nrows(), m.nrows(), "map A against M")?;
        gmm_core::check_non_negative(tol, "certificate tolerance")?;
        WhitenedSpectrum::new(m, c, a.nrows())?.certify(a, m, tol)
    }
}

/// The tolerance of [`WhitenedCertificate`] for the recipe's runs: `sin theta_max` 0.05 to the
/// optimum. The recipe's iterate fluctuates around the optimum by the noise of its mini-batches
/// at the final learning rate, well inside this tolerance (measured: docs/theory.md 7).
pub const WHITENED_TOL: f64 = 0.05;
