//! The decorrelation losses on a linear encoder `f(v) = A v` (one block `A`, `r x d`, shared by
//! both views), as the official code computes them (`../shared/spec/zoo/zoo.md`, items 2 and 3;
//! docs/theory.md states them):
//!
//! * **Barlow Twins** (Zbontar et al. 2021, facebookresearch/barlowtwins `main.py`): each view's
//!   outputs are standardised over the batch (`BatchNorm1d(affine=False)`: centred, divided by
//!   `sqrt(biased variance + eps)`), `C = Z1^T Z2 / n` (`r x r`) and
//!   `L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2`; the official default is
//!   `lambda = 0.0051`, `eps = 1e-5` (BatchNorm's).
//! * **VICReg** (Bardes, Ponce and LeCun 2022, facebookresearch/vicreg `main_vicreg.py`):
//!   `L = lambda_s mse(Z1, Z2) + mu [mean_j relu(1 - std1_j) + mean_j relu(1 - std2_j)] / 2
//!   + nu [sum_{i != j} cov1_ij^2 + sum_{i != j} cov2_ij^2] / r`, with `mse` the mean over all
//!   `n r` entries, `std_j = sqrt(unbiased variance + 1e-4)` and `cov` the unbiased covariance of
//!   the outputs; the official defaults are `(lambda_s, mu, nu) = (25, 25, 1)`.
//!
//! Both have a **population form** in the views' moments ([`gmm_core::ViewMoments`]): Barlow
//! Twins' `C_ij = (A Cov(v1, v2) A^T)_ij / sqrt((S1_ii + eps)(S2_jj + eps))` with
//! `Sk = A Cov(vk) A^T` ([`barlow_population`]); VICReg's
//! `(lambda_s / r) tr(A E[(v1 - v2)(v1 - v2)^T] A^T) + (mu / 2r) sum_j [relu(1 - sqrt(S1_jj + eps))
//! + relu(1 - sqrt(S2_jj + eps))] + (nu / r) sum_{i != j} (S1_ij^2 + S2_ij^2)`
//! ([`vicreg_population`]). Every gradient is exact (checked against finite differences and JAX).

use gmm_core::linalg::{Op, gemm};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{GmmError, ViewMoments, check_non_negative, check_shape};

use crate::cost::Cost;
use crate::error::Result;
use crate::objective::{Batch, Objective, check_blocks, finite_loss, project_into};

/// The official Barlow Twins off-diagonal weight (`--lambd 0.0051`).
pub const BARLOW_LAMBDA: f64 = 0.0051;
/// BatchNorm's `eps`, inside the standardisation of Barlow Twins' outputs.
pub const BARLOW_EPS: f64 = 1e-5;
/// The official VICReg weights `(sim, std, cov)` = `(25, 25, 1)`.
pub const VICREG_WEIGHTS: VicRegWeights = VicRegWeights { invariance: 25.0, variance: 25.0, covariance: 1.0 };
/// The `eps` inside VICReg's standard deviation (`sqrt(var + 1e-4)`).
pub const VICREG_EPS: f64 = 1e-4;

/// The Barlow Twins loss on batches of pairs; see the module docs.
///
/// ```
/// use gmm_core::nalgebra::DMatrix;
/// use ssl_losses::{Batch, BarlowTwinsLoss, Objective};
///
/// // Identical views whose two outputs are uncorrelated: C = I (up to eps), so L ~ 0.
/// let x = DMatrix::from_row_slice(4, 2, &[1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0]);
/// let mut grads = vec![DMatrix::zeros(2, 2)];
/// let mut loss = BarlowTwinsLoss::new(0.0051, 0.0)?;
/// let value = loss.value_grad(&[DMatrix::identity(2, 2)], Batch::new(&x, &x)?, &mut grads)?;
/// assert!(value.abs() < 1e-12);
/// # Ok::<(), ssl_losses::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BarlowTwinsLoss {
    lambda: f64,
    eps: f64,
    sides: [Standardised; 2],
}

/// A view's outputs standardised over the batch, with what the backward pass needs.
#[derive(Clone, Debug, Default)]
struct Standardised {
    z: DMatrix<f64>,
    scale: Vec<f64>,
}

impl Standardised {
    /// Centres the columns of `self.z` and divides them by `sqrt(ss / divisor + eps)`.
    ///
    /// # Errors
    /// A column with no spread while `eps = 0` (its standardisation divides by zero).
    fn standardise(&mut self, divisor: f64, eps: f64) -> Result<()> {
        let n = self.z.nrows() as f64;
        self.scale.clear();
        for mut col in self.z.column_iter_mut() {
            let mean = col.sum() / n;
            col.add_scalar_mut(-mean);
            let s = (col.norm_squared() / divisor + eps).sqrt();
            if s <= 0.0 {
                return Err(GmmError::Singular {
                    what: "the batch standardisation of an output (it is constant over the batch)",
                    fix: "use eps > 0, or a map whose outputs vary",
                }
                .into());
            }
            self.scale.push(s);
        }
        Ok(())
    }

    /// Backward through the standardisation: `g` holds `dL/dZhat` on entry and `dL/dZ` on exit,
    /// `dz = (g - mean(g) - zc (g . zc) / (divisor s^2)) / s` per column (`zc` the centred
    /// outputs held in `self.z`, `zhat = zc / s`).
    fn backward(&self, g: &mut DMatrix<f64>, divisor: f64) {
        let n = g.nrows() as f64;
        for ((mut gc, zc), &s) in g.column_iter_mut().zip(self.z.column_iter()).zip(&self.scale) {
            let mean_g = gc.sum() / n;
            let proj = gc.dot(&zc) / (s * s * divisor);
            for (gi, zi) in gc.iter_mut().zip(zc.iter()) {
                *gi = (*gi - mean_g - zi * proj) / s;
            }
        }
    }
}

/// Checks a batch (at least 2 pairs, both sides `n x d`) against one block `A` (`r x d`) and its
/// gradient, and projects both sides: `Z1 = X A^T`, `Z2 = X+ A^T` into the sides' buffers.
/// Returns `(n, r)`.
fn project_sides(
    params: &[DMatrix<f64>],
    batch: Batch<'_>,
    grads: &[DMatrix<f64>],
    sides: &mut [Standardised; 2],
) -> Result<(usize, usize)> {
    batch.check_len(2)?;
    let (n, d) = (batch.len(), batch.left().ncols());
    let r = params.first().map_or(0, |a| a.nrows());
    check_blocks(params, grads, &[(r, d)])?;
    check_shape(batch.right(), n, d, "positives against anchors")?;
    project_into(batch.left(), &params[0], &mut sides[0].z)?;
    project_into(batch.right(), &params[0], &mut sides[1].z)?;
    Ok((n, r))
}

impl BarlowTwinsLoss {
    /// The loss with off-diagonal weight `lambda` (official: [`BARLOW_LAMBDA`]) and the
    /// standardisation's `eps` (BatchNorm's: [`BARLOW_EPS`]; 0 gives the exactly
    /// scale-invariant form).
    ///
    /// # Errors
    /// A negative or non-finite `lambda` or `eps`.
    pub fn new(lambda: f64, eps: f64) -> Result<Self> {
        check_non_negative(lambda, "Barlow Twins lambda")?;
        check_non_negative(eps, "Barlow Twins eps")?;
        Ok(Self { lambda, eps, sides: Default::default() })
    }

    /// The official defaults (`lambda = 0.0051`, `eps = 1e-5`).
    pub fn official() -> Self {
        Self { lambda: BARLOW_LAMBDA, eps: BARLOW_EPS, sides: Default::default() }
    }
}

/// Barlow Twins' loss and `dL/dC` from the cross-correlation `c` (written into `g`).
fn barlow_terms(c: &DMatrix<f64>, lambda: f64, g: &mut DMatrix<f64>) -> f64 {
    let mut loss = 0.0;
    *g = DMatrix::zeros(c.nrows(), c.ncols());
    for j in 0..c.ncols() {
        for i in 0..c.nrows() {
            let v = c[(i, j)];
            if i == j {
                loss += (1.0 - v) * (1.0 - v);
                g[(i, j)] = -2.0 * (1.0 - v);
            } else {
                loss += lambda * v * v;
                g[(i, j)] = 2.0 * lambda * v;
            }
        }
    }
    loss
}

impl Objective<f64> for BarlowTwinsLoss {
    fn name(&self) -> &'static str {
        "barlow-twins"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(&mut self, params: &[DMatrix<f64>], batch: Batch<'_>, grads: &mut [DMatrix<f64>]) -> Result<f64> {
        let (n, _) = project_sides(params, batch, grads, &mut self.sides)?;
        let nf = n as f64;
        let [left, right] = &mut self.sides;
        left.standardise(nf, self.eps)?;
        right.standardise(nf, self.eps)?;
        let hat = |side: &Standardised| {
            let mut z = side.z.clone();
            for (mut col, s) in z.column_iter_mut().zip(&side.scale) {
                col /= *s;
            }
            z
        };
        let (h1, h2) = (hat(left), hat(right));
        let c = h1.tr_mul(&h2) / nf;
        let mut g = DMatrix::zeros(0, 0);
        let loss = barlow_terms(&c, self.lambda, &mut g);
        // dL/dZhat1 = Zhat2 G^T / n, dL/dZhat2 = Zhat1 G / n, then back through the standardisation.
        let mut g1 = &h2 * g.transpose() / nf;
        let mut g2 = &h1 * &g / nf;
        left.backward(&mut g1, nf);
        right.backward(&mut g2, nf);
        gemm(1.0, &g1, Op::T, batch.left(), Op::N, 0.0, &mut grads[0])?;
        gemm(1.0, &g2, Op::T, batch.right(), Op::N, 1.0, &mut grads[0])?;
        finite_loss("Barlow Twins loss or gradient", loss, grads)
    }
}

/// The population Barlow Twins loss and its gradient at `a` (`r x d`) for the views' moments:
/// `C_ij = (A Cov(v1, v2) A^T)_ij / sqrt((S1_ii + eps)(S2_jj + eps))`, `Sk = A Cov(vk) A^T`.
///
/// # Errors
/// Shapes; a negative `lambda` or `eps`; an output with zero variance while `eps = 0`; a
/// non-finite result.
pub fn barlow_population(a: &DMatrix<f64>, m: &ViewMoments, lambda: f64, eps: f64) -> Result<(f64, DMatrix<f64>)> {
    check_non_negative(lambda, "Barlow Twins lambda")?;
    check_non_negative(eps, "Barlow Twins eps")?;
    let d = a.ncols();
    check_shape(&m.cross, d, d, "view moments against the map")?;
    let (cross, cov1, cov2) = (m.cross_covariance(), m.cov_left(), m.cov_right());
    let (ac1, ac2) = (a * &cov1, a * &cov2);
    let scale = |ac: &DMatrix<f64>| -> Result<Vec<f64>> {
        (0..a.nrows())
            .map(|i| {
                let s = (ac.row(i).dot(&a.row(i)) + eps).sqrt();
                if s > 0.0 {
                    Ok(s)
                } else {
                    let what = "the standardisation of an output (it has zero variance)";
                    Err(GmmError::Singular { what, fix: "use eps > 0, or a map without zero rows" }.into())
                }
            })
            .collect()
    };
    let (s1, s2) = (scale(&ac1)?, scale(&ac2)?);
    let nmat = a * &cross * a.transpose();
    let c = DMatrix::from_fn(nmat.nrows(), nmat.ncols(), |i, j| nmat[(i, j)] / (s1[i] * s2[j]));
    let mut g = DMatrix::zeros(0, 0);
    let value = barlow_terms(&c, lambda, &mut g);
    let h = DMatrix::from_fn(g.nrows(), g.ncols(), |i, j| g[(i, j)] / (s1[i] * s2[j]));
    let gc = g.component_mul(&c);
    let mut grad = &h * a * cross.transpose() + h.transpose() * a * &cross;
    for i in 0..a.nrows() {
        // dL/ds1_i = -sum_j G_ij C_ij / s1_i, and ds1_i/da_i = Sigma1 a_i / s1_i.
        let u = -gc.row(i).sum() / (s1[i] * s1[i]);
        let w = -gc.column(i).sum() / (s2[i] * s2[i]);
        let mut row = grad.row_mut(i);
        row += ac1.row(i) * u + ac2.row(i) * w;
    }
    finite_loss("population Barlow Twins loss or gradient", value, std::slice::from_ref(&grad))?;
    Ok((value, grad))
}

/// VICReg's three weights: invariance (`sim-coeff`), variance (`std-coeff`), covariance
/// (`cov-coeff`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VicRegWeights {
    /// `lambda_s`, the weight of the mean squared difference of the views' outputs.
    pub invariance: f64,
    /// `mu`, the weight of the standard-deviation hinge.
    pub variance: f64,
    /// `nu`, the weight of the squared off-diagonal covariances.
    pub covariance: f64,
}

impl VicRegWeights {
    fn check(&self) -> Result<()> {
        check_non_negative(self.invariance, "VICReg invariance weight")?;
        check_non_negative(self.variance, "VICReg variance weight")?;
        Ok(check_non_negative(self.covariance, "VICReg covariance weight")?)
    }
}

/// The VICReg loss on batches of pairs (official normalisation); see the module docs.
#[derive(Clone, Debug)]
pub struct VicRegLoss {
    weights: VicRegWeights,
    eps: f64,
    sides: [Standardised; 2],
}

impl VicRegLoss {
    /// The loss with `weights` (official: [`VICREG_WEIGHTS`]) and the `eps` inside the standard
    /// deviation (official: [`VICREG_EPS`]).
    ///
    /// # Errors
    /// A negative or non-finite weight or `eps`.
    pub fn new(weights: VicRegWeights, eps: f64) -> Result<Self> {
        weights.check()?;
        check_non_negative(eps, "VICReg eps")?;
        Ok(Self { weights, eps, sides: Default::default() })
    }

    /// The official defaults (`(25, 25, 1)`, `eps = 1e-4`).
    pub fn official() -> Self {
        Self { weights: VICREG_WEIGHTS, eps: VICREG_EPS, sides: Default::default() }
    }
}

/// The derivative of one side's standard-deviation hinge `(mu / 2r) relu(1 - sqrt(cov_jj + eps))`
/// in `cov_jj` where it is active: `-(mu / 2r) / (2 std)`.
fn hinge_slope(w: &VicRegWeights, r: f64, std: f64) -> f64 {
    -w.variance / (2.0 * r) / (2.0 * std)
}

/// One standard-deviation hinge of the population VICReg loss ([`vicreg_population`]).
#[derive(Clone, Debug, PartialEq)]
pub struct VicRegHinge {
    /// 0 for the anchors' view, 1 for the positives'.
    pub side: usize,
    /// The output (row of `A`).
    pub row: usize,
    /// Its standard deviation `sqrt(S_jj + eps)`; the hinge is active below 1.
    pub std: f64,
    /// The hinge's gradient in `A` when active: `-(mu / 2r) Cov(v) a_j / std` in row `j`.
    pub active_gradient: DMatrix<f64>,
}

/// Every standard-deviation hinge of the population VICReg loss at `a` (both sides, every
/// output), with its gradient when active: what a solver needs to treat the hinges' kinks
/// (`std = 1`), where the loss is not differentiable.
///
/// # Errors
/// Shapes; a negative weight or `eps`.
pub fn vicreg_hinges(a: &DMatrix<f64>, m: &ViewMoments, weights: &VicRegWeights, eps: f64) -> Result<Vec<VicRegHinge>> {
    weights.check()?;
    check_non_negative(eps, "VICReg eps")?;
    check_shape(&m.cross, a.ncols(), a.ncols(), "view moments against the map")?;
    let r = a.nrows() as f64;
    let mut out = Vec::with_capacity(2 * a.nrows());
    for (side, cov) in [m.cov_left(), m.cov_right()].into_iter().enumerate() {
        let ac = a * cov;
        for row in 0..a.nrows() {
            let std = (ac.row(row).dot(&a.row(row)) + eps).sqrt();
            let mut active_gradient = DMatrix::zeros(a.nrows(), a.ncols());
            // d cov_jj / d a_j = 2 Cov(v) a_j.
            active_gradient.row_mut(row).copy_from(&(ac.row(row) * (2.0 * hinge_slope(weights, r, std))));
            out.push(VicRegHinge { side, row, std, active_gradient });
        }
    }
    Ok(out)
}

/// VICReg's variance and covariance terms of one side from its outputs' covariance `cov`
/// (`r x r`): their value, and `dL/dcov` written into `g` (the hinge's derivative on the
/// diagonal through `d std_j / d cov_jj = 1 / (2 std_j)`).
fn vicreg_side(cov: &DMatrix<f64>, w: &VicRegWeights, eps: f64, g: &mut DMatrix<f64>) -> f64 {
    let r = cov.nrows() as f64;
    *g = DMatrix::zeros(cov.nrows(), cov.ncols());
    let mut loss = 0.0;
    for j in 0..cov.ncols() {
        for i in 0..cov.nrows() {
            let v = cov[(i, j)];
            if i == j {
                let std = (v + eps).sqrt();
                if std < 1.0 {
                    loss += w.variance * (1.0 - std) / (2.0 * r);
                    g[(i, j)] = hinge_slope(w, r, std);
                }
            } else {
                loss += w.covariance * v * v / r;
                g[(i, j)] = 2.0 * w.covariance * v / r;
            }
        }
    }
    loss
}

impl Objective<f64> for VicRegLoss {
    fn name(&self) -> &'static str {
        "vicreg"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(&mut self, params: &[DMatrix<f64>], batch: Batch<'_>, grads: &mut [DMatrix<f64>]) -> Result<f64> {
        let (n, r) = project_sides(params, batch, grads, &mut self.sides)?;
        let (nf, rf) = (n as f64, r as f64);
        let [left, right] = &mut self.sides;
        // Invariance on the raw outputs: lambda_s mean((Z1 - Z2)^2), its gradient +- 2 lambda_s (Z1 - Z2) / (n r).
        let diff = &left.z - &right.z;
        let mut loss = self.weights.invariance * diff.norm_squared() / (nf * rf);
        let g_inv = diff * (2.0 * self.weights.invariance / (nf * rf));
        let mut g = DMatrix::zeros(0, 0);
        for (side, x, sign) in [(&mut *left, batch.left(), 1.0), (&mut *right, batch.right(), -1.0)] {
            // Centre the outputs; cov = Zc^T Zc / (n - 1); dL/dZc = Zc (G + G^T) / (n - 1), and the
            // centring passes it through (the columns of Zc G sum to zero).
            let mean = side.z.row_mean();
            for mut row in side.z.row_iter_mut() {
                row -= &mean;
            }
            let cov = side.z.tr_mul(&side.z) / (nf - 1.0);
            loss += vicreg_side(&cov, &self.weights, self.eps, &mut g);
            let gz = &side.z * (&g + g.transpose()) / (nf - 1.0) + &g_inv * sign;
            gemm(1.0, &gz, Op::T, x, Op::N, if sign > 0.0 { 0.0 } else { 1.0 }, &mut grads[0])?;
        }
        finite_loss("VICReg loss or gradient", loss, grads)
    }
}

/// The population VICReg loss and its gradient at `a` (`r x d`) for the views' moments (module
/// docs).
///
/// # Errors
/// Shapes; a negative weight or `eps`; a non-finite result.
pub fn vicreg_population(
    a: &DMatrix<f64>,
    m: &ViewMoments,
    weights: &VicRegWeights,
    eps: f64,
) -> Result<(f64, DMatrix<f64>)> {
    weights.check()?;
    check_non_negative(eps, "VICReg eps")?;
    let d = a.ncols();
    check_shape(&m.cross, d, d, "view moments against the map")?;
    let r = a.nrows() as f64;
    let diff = m.difference_second_moment();
    let mut value = weights.invariance / r * (a * &diff * a.transpose()).trace();
    let mut grad = a * (&diff + diff.transpose()) * (weights.invariance / r);
    let mut g = DMatrix::zeros(0, 0);
    for cov in [m.cov_left(), m.cov_right()] {
        let ac = a * &cov;
        value += vicreg_side(&(&ac * a.transpose()), weights, eps, &mut g);
        grad += (&g + g.transpose()) * ac;
    }
    finite_loss("population VICReg loss or gradient", value, std::slice::from_ref(&grad))?;
    Ok((value, grad))
}

/// A population decorrelation loss at fixed view moments as a [`Cost`] over one block `A`, for
/// the deterministic solvers.
#[derive(Clone, Copy, Debug)]
pub enum DecorrelationCost<'a> {
    /// [`barlow_population`] with `(lambda, eps)`.
    Barlow {
        /// The views' moments.
        moments: &'a ViewMoments,
        /// Off-diagonal weight.
        lambda: f64,
        /// Standardisation eps.
        eps: f64,
    },
    /// [`vicreg_population`] with its weights and `eps`.
    VicReg {
        /// The views' moments.
        moments: &'a ViewMoments,
        /// The three weights.
        weights: VicRegWeights,
        /// Standard-deviation eps.
        eps: f64,
    },
}

impl Cost for DecorrelationCost<'_> {
    fn cost_grad(&mut self, params: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]) -> Result<f64> {
        let (Self::Barlow { moments, .. } | Self::VicReg { moments, .. }) = *self;
        check_blocks(params, grads, &[(params.first().map_or(0, |a| a.nrows()), moments.cross.nrows())])?;
        let (value, grad) = match *self {
            Self::Barlow { moments, lambda, eps } => barlow_population(&params[0], moments, lambda, eps)?,
            Self::VicReg { moments, weights, eps } => vicreg_population(&params[0], moments, &weights, eps)?,
        };
        grads[0].copy_from(&grad);
        Ok(value)
    }
}
