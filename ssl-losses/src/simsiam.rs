//! SimSiam on a linear encoder with a linear predictor (theory.md section 3).
//!
//! Blocks `[A (r x d), W (r x r)]`. One direction: online outputs `P = X A^T W^T`, targets
//! `T = sg(X+ A^T)` (stop-gradient: `T` is a constant for differentiation).
//! * MSE: `L = (1/n) sum_i ||P_i - T_i||^2`, `dL/dP = 2 (P - T) / n`;
//! * negative cosine: `L = -(1/n) sum_i cos(P_i, T_i)`,
//!   `dL/dP_i = -(T_i/||T_i|| - cos_i P_i/||P_i||) / (n ||P_i||)`;
//!
//! then `dL/dW = dP^T (X A^T)`, `dL/dA = (dP W)^T X`. The symmetrised loss averages both
//! directions (`x -> x+` and `x+ -> x`). Without a constraint the minimum is the collapse
//! `A = 0`; [`crate::whiten_rows`] projects `A` back onto `A M A^T = I`, and
//! [`crate::whitened_optimum`] is the closed-form minimiser under that constraint.

use gmm_core::check_shape;
use gmm_core::linalg::{Op, gemm};
use gmm_core::nalgebra::DMatrix;

use crate::error::Result;
use crate::objective::{Batch, Objective, check_blocks, check_cosine_rank, ensure_shape, finite_loss, project_into};
use crate::scalar::{Real, from_f64};

/// The per-pair loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum SimSiamForm {
    /// Squared error `||W A x - sg(A x+)||^2`.
    Mse,
    /// Negative cosine similarity, as used in practice.
    NegCosine,
}

/// Which directions of a pair a loss uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Directions {
    /// `x` predicts `x+` only.
    OneWay,
    /// The mean of both directions (`x -> x+` and `x+ -> x`).
    Symmetric,
}

impl std::str::FromStr for Directions {
    type Err = gmm_core::GmmError;

    /// `one-way` or `symmetric`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        gmm_core::parse_name("SimSiam directions", s, &[("one-way", Self::OneWay), ("symmetric", Self::Symmetric)])
    }
}

impl std::str::FromStr for SimSiamForm {
    type Err = gmm_core::GmmError;

    /// `mse` or `neg-cosine`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        gmm_core::parse_name("SimSiam form", s, &[("mse", Self::Mse), ("neg-cosine", Self::NegCosine)])
    }
}

/// SimSiam objective; see the module docs.
///
/// ```
/// use gmm_core::nalgebra::DMatrix;
/// use ssl_losses::{Batch, Directions, Objective, SimSiamLoss, SimSiamForm};
///
/// let mut loss = SimSiamLoss::new(SimSiamForm::Mse, Directions::Symmetric);
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 1.0]);
/// // W = I and identical views: the prediction equals the target, the loss is 0.
/// let params = [DMatrix::identity(2, 2), DMatrix::identity(2, 2)];
/// let mut grads = vec![DMatrix::zeros(2, 2), DMatrix::zeros(2, 2)];
/// assert_eq!(loss.value_grad(&params, Batch::new(&x, &x)?, &mut grads)?, 0.0);
/// # Ok::<(), ssl_losses::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SimSiamLoss<T: Real = f64> {
    form: SimSiamForm,
    directions: Directions,
    z: DMatrix<T>,
    t: DMatrix<T>,
    p: DMatrix<T>,
    dp: DMatrix<T>,
    dz: DMatrix<T>,
}

impl<T: Real> SimSiamLoss<T> {
    /// A SimSiam loss of the given form, one-directional or symmetrised.
    pub fn new(form: SimSiamForm, directions: Directions) -> Self {
        let e = DMatrix::zeros(0, 0);
        Self { form, directions, z: e.clone(), t: e.clone(), p: e.clone(), dp: e.clone(), dz: e }
    }

    /// Loss and gradient with respect to the **online** parameters `[A, W]`, the targets being
    /// computed with `a_target` (the stop-gradient copy). [`Objective::value_grad`] calls this
    /// with `a_target = A`; finite differences of this function in `[A, W]` with `a_target`
    /// fixed are what the analytic gradient must match.
    pub fn value_grad_with_target(
        &mut self,
        params: &[DMatrix<T>],
        a_target: &DMatrix<T>,
        batch: Batch<'_, T>,
        grads: &mut [DMatrix<T>],
    ) -> Result<T> {
        batch.check_len(1)?;
        let r = params.first().map_or(0, |a| a.nrows());
        let d = batch.left().ncols();
        check_blocks(params, grads, &[(r, d), (r, r)])?;
        if self.form == SimSiamForm::NegCosine {
            check_cosine_rank(r, "output dimension r with the negative-cosine form", "use the MSE form")?;
        }
        check_shape(a_target, r, d, "stop-gradient copy of A")?;
        check_shape(batch.right(), batch.len(), d, "positives against anchors")?;
        grads[0].fill(T::zero());
        grads[1].fill(T::zero());
        let directions: &[(bool, f64)] =
            if self.directions == Directions::Symmetric { &[(false, 0.5), (true, 0.5)] } else { &[(false, 1.0)] };
        let mut loss = T::zero();
        for &(swap, weight) in directions {
            let weight = from_f64::<T>(weight);
            let (online, target) = if swap { (batch.right(), batch.left()) } else { (batch.left(), batch.right()) };
            loss += weight * self.direction(params, a_target, online, target, weight, grads)?;
        }
        finite_loss("SimSiam loss or gradient (overflow: the map or the data is too large)", loss, grads)
    }

    /// One direction: adds `weight * gradient` into `grads`, returns the unweighted loss.
    fn direction(
        &mut self,
        params: &[DMatrix<T>],
        a_target: &DMatrix<T>,
        online: &DMatrix<T>,
        target: &DMatrix<T>,
        weight: T,
        grads: &mut [DMatrix<T>],
    ) -> Result<T> {
        let (a, w) = (&params[0], &params[1]);
        let n = online.nrows();
        let r = a.nrows();
        project_into(online, a, &mut self.z)?;
        project_into(target, a_target, &mut self.t)?;
        project_into(&self.z, w, &mut self.p)?;
        ensure_shape(&mut self.dp, n, r);
        let (zero, one) = (T::zero(), T::one());
        let inv_n = from_f64::<T>(1.0 / n as f64);
        let mut loss = zero;
        match self.form {
            SimSiamForm::Mse => {
                self.dp.copy_from(&self.p);
                self.dp -= &self.t;
                loss = self.dp.norm_squared() * inv_n;
                self.dp *= (one + one) * inv_n;
            }
            SimSiamForm::NegCosine => {
                for i in 0..n {
                    let (p, t) = (self.p.row(i), self.t.row(i));
                    let tiny = from_f64::<T>(1e-12);
                    let (np, nt) = (p.norm().max(tiny), t.norm().max(tiny));
                    let cos = p.dot(&t) / (np * nt);
                    loss -= cos * inv_n;
                    let g = (t / nt - p * (cos / np)) * (-inv_n / np);
                    self.dp.set_row(i, &g);
                }
            }
        }
        // dW = dP^T Z, dZ = dP W, dA = dZ^T X.
        gemm(weight, &self.dp, Op::T, &self.z, Op::N, one, &mut grads[1])?;
        ensure_shape(&mut self.dz, n, r);
        gemm(one, &self.dp, Op::N, w, Op::N, zero, &mut self.dz)?;
        gemm(weight, &self.dz, Op::T, online, Op::N, one, &mut grads[0])?;
        Ok(loss)
    }
}

impl<T: Real> Objective<T> for SimSiamLoss<T> {
    fn name(&self) -> &'static str {
        "simsiam"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left), (r, r)]
    }

    fn value_grad(&mut self, params: &[DMatrix<T>], batch: Batch<'_, T>, grads: &mut [DMatrix<T>]) -> Result<T> {
        let a_target = params.first().cloned().unwrap_or_else(|| DMatrix::zeros(0, 0));
        self.value_grad_with_target(params, &a_target, batch, grads)
    }
}
