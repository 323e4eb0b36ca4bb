//! Deterministic minimisation: costs over parameter blocks, L-BFGS with a strong-Wolfe line
//! search, and the convergence certificate of docs/theory.md section 5.3.
//!
//! A [`Cost`] is a deterministic function of the parameter blocks with its exact gradient: the
//! mean batch loss of an [`Objective`] over a fixed partition of a fixed sample
//! ([`FixedSample`]), the population InfoNCE at a fixed outer sample ([`PopulationCost`]), or
//! any closure ([`FnCost`]). [`Lbfgs::minimize`] drives it to a point whose gradient norm,
//! relative to the gradient norm at the start, is below a stated tolerance, and returns the
//! [`Certificate`] that says so (or that it did not get there).
//!
//! ```
//! use gmm_core::nalgebra::DMatrix;
//! use ssl_losses::{FnCost, Lbfgs};
//!
//! // f(x) = (x0 - 3)^2 + 10 (x1 + 1)^2, minimiser (3, -1).
//! let mut cost = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
//!     let (x0, x1) = (p[0][0], p[0][1]);
//!     g[0][0] = 2.0 * (x0 - 3.0);
//!     g[0][1] = 20.0 * (x1 + 1.0);
//!     Ok((x0 - 3.0).powi(2) + 10.0 * (x1 + 1.0).powi(2))
//! });
//! let out = Lbfgs::default().minimize(&mut cost, vec![DMatrix::zeros(1, 2)], &mut |_| {})?;
//! assert!(out.certificate.converged);
//! // The Hessian is diag(2, 20): the distance to the minimiser is at most ||grad|| / 2.
//! let err = ((out.params[0][0] - 3.0).powi(2) + (out.params[0][1] + 1.0).powi(2)).sqrt();
//! assert!(err <= out.certificate.grad_norm / 2.0 + 1e-15);
//! # Ok::<(), ssl_losses::LossError>(())
//! ```

use std::ops::ControlFlow;

use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{Gmm, GmmError, check_at_least, check_finite, check_positive};

use crate::error::{LossError, Result};
use crate::objective::{Batch, Objective, Real, check_finite_in, from_f64, to_f64};
use crate::population::PopulationInfoNce;

/// A deterministic cost over parameter blocks with its exact gradient, in the scalar `T` (`f64`
/// unless stated).
pub trait Cost<T: Real = f64> {
    /// The value at `params`; the gradient of each block into `grads` (same shapes).
    ///
    /// # Errors
    /// Shapes that do not fit the cost.
    fn cost_grad(&mut self, params: &[DMatrix<T>], grads: &mut [DMatrix<T>]) -> Result<T>;
}

/// A [`Cost`] from a closure `f(params, grads) -> value`.
pub struct FnCost<F>(F);

impl<F> FnCost<F> {
    /// Wraps `f(params, grads) -> value`.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<T: Real, F: FnMut(&[DMatrix<T>], &mut [DMatrix<T>]) -> Result<T>> Cost<T> for FnCost<F> {
    fn cost_grad(&mut self, params: &[DMatrix<T>], grads: &mut [DMatrix<T>]) -> Result<T> {
        (self.0)(params, grads)
    }
}

/// The deterministic objective on a fixed sample of `n` pairs (docs/theory.md 5.3): the mean of
/// the batch loss over a fixed partition of the rows into consecutive batches of `m` pairs (the
/// last batch keeps the remainder; it is merged into the one before when it would have fewer
/// than 2 pairs), each batch weighted by its share of the pairs, so that
/// `L(A) = sum_b (n_b / n) L_batch(A; b)` and its gradient is exact.
pub struct FixedSample<'a, T: Real = f64> {
    objective: &'a mut dyn Objective<T>,
    batches: Vec<(DMatrix<T>, DMatrix<T>)>,
    n: usize,
    scratch: Vec<DMatrix<T>>,
}

impl<'a, T: Real> FixedSample<'a, T> {
    /// Splits `left` and `right` (`n x d_l`, `n x d_r`, row `i` a pair) into batches of `m`.
    ///
    /// # Errors
    /// Different row counts, fewer than 2 pairs, `m < 2`, non-finite data.
    pub fn new(objective: &'a mut dyn Objective<T>, left: &DMatrix<T>, right: &DMatrix<T>, m: usize) -> Result<Self> {
        let n = left.nrows();
        if right.nrows() != n {
            let what = "rows of the positives against the anchors";
            return Err(GmmError::Shape { what, expected: n, got: right.nrows() }.into());
        }
        check_at_least(n, 2, "pairs of a fixed sample")?;
        check_at_least(m, 2, "pairs per batch of a fixed sample")?;
        check_finite_in(left, "fixed sample (anchors)")?;
        check_finite_in(right, "fixed sample (positives)")?;
        let mut starts: Vec<usize> = (0..n).step_by(m).collect();
        if starts.len() > 1 && n - starts[starts.len() - 1] < 2 {
            starts.pop();
        }
        let batches = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let end = starts.get(i + 1).copied().unwrap_or(n);
                (left.rows(s, end - s).into_owned(), right.rows(s, end - s).into_owned())
            })
            .collect();
        Ok(Self { objective, batches, n, scratch: Vec::new() })
    }

    /// Number of batches in the partition.
    pub fn batches(&self) -> usize {
        self.batches.len()
    }
}

impl<T: Real> Cost<T> for FixedSample<'_, T> {
    fn cost_grad(&mut self, params: &[DMatrix<T>], grads: &mut [DMatrix<T>]) -> Result<T> {
        if self.scratch.len() != grads.len() {
            self.scratch = grads.iter().map(|g| DMatrix::zeros(g.nrows(), g.ncols())).collect();
        }
        grads.iter_mut().for_each(|g| g.fill(T::zero()));
        let mut total = T::zero();
        for (left, right) in &self.batches {
            let w = from_f64::<T>(left.nrows() as f64 / self.n as f64);
            let value = self.objective.value_grad(params, Batch::from_checked(left, right), &mut self.scratch);
            total += w * crate::objective::overflow_as_infinite(value)?;
            for (g, s) in grads.iter_mut().zip(&self.scratch) {
                *g += s * w;
            }
        }
        Ok(total)
    }
}

/// The population InfoNCE `L_inf` at a fixed outer Monte Carlo sample (rows of `x`): a
/// deterministic cost whose minimiser is the reference for trained maps.
pub struct PopulationCost {
    objective: PopulationInfoNce,
    x: DMatrix<f64>,
}

impl PopulationCost {
    /// `L_inf` of `gmm` with coupling `delta` and temperature `tau`, outer expectation over the
    /// rows of `x` (`N x d`).
    ///
    /// # Errors
    /// `tau <= 0`, `delta` outside `[0, 1]`, `x` of the wrong width or non-finite.
    pub fn new(gmm: &Gmm, delta: f64, tau: f64, x: DMatrix<f64>) -> Result<Self> {
        gmm_core::check_shape(&x, x.nrows(), gmm.dim(), "outer sample against the mixture dimension")?;
        check_finite(&x, "outer sample")?;
        Ok(Self { objective: PopulationInfoNce::new(gmm, delta, tau)?, x })
    }
}

impl Cost for PopulationCost {
    fn cost_grad(&mut self, params: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]) -> Result<f64> {
        let (value, grad) = self.objective.value_grad_at(&params[0], &self.x)?;
        gmm_core::check_shape(&grads[0], grad.nrows(), grad.ncols(), "gradient block")?;
        grads[0].copy_from(&grad);
        Ok(value)
    }
}

/// The numerical minimiser of the population InfoNCE `L_inf` of `gmm` (coupling `delta`,
/// temperature `tau`, `r` directions): L-BFGS on [`PopulationCost`] with an outer Monte Carlo
/// sample of `n_outer` draws of the mixture (seed `seed`), from a random map of the scale of the
/// fixed-sample fits ([`crate::fit::INIT_SCALE`], seed `seed + 1`). This is the reference that trained maps are compared with; its distance to the
/// Fisher subspace is a Monte Carlo error that shrinks like `n_outer^{-1/2}`.
///
/// The problem is solved in coordinates whitened by the mixture's total covariance
/// `Sigma_T` (`x -> G x`, `G = Sigma_T^{-1/2}`, the same outer sample mapped) and the map brought
/// back (`A = B G`), which is exact because the loss depends on `A` and `x` only through `A x`
/// (claim C5). In raw coordinates at condition number 1e3 the relative-gradient certificate
/// held at points 0.05-0.15 (`sin theta_max`) from the minimiser, whatever `n_outer`; whitened,
/// the same certificate pins it down.
///
/// # Errors
/// `tau <= 0`, `delta` outside `[0, 1]`, `r` outside `1..=d`, `n_outer = 0`, invalid solver
/// settings, a singular total covariance.
pub fn population_minimiser(
    gmm: &Gmm,
    delta: f64,
    tau: f64,
    r: usize,
    n_outer: usize,
    seed: u64,
    solver: &Lbfgs,
) -> Result<Minimized> {
    check_at_least(n_outer, 1, "outer Monte Carlo samples")?;
    check_at_least(r, 1, "output dimension r")?;
    if r > gmm.dim() {
        return Err(
            GmmError::out_of_range("output dimension r", r as f64, format!("between 1 and d = {}", gmm.dim())).into()
        );
    }
    let g = gmm_core::linalg::spd_inv_sqrt(&gmm.total_covariance())?;
    let whitened = Gmm::new(
        gmm.weights().as_slice(),
        gmm.means() * &g,
        gmm_core::linalg::symmetrize(&(&g * gmm.covariance() * &g)),
    )?;
    let x = gmm.sample(n_outer, &mut gmm_core::seeded(seed)).x * &g;
    let mut cost = PopulationCost::new(&whitened, delta, tau, x)?;
    let init = crate::train::small_random_init(r, gmm.dim(), crate::fit::INIT_SCALE, seed.wrapping_add(1));
    let mut out = solver.minimize(&mut cost, vec![init], &mut |_| {})?;
    out.params[0] = &out.params[0] * &g;
    Ok(out)
}

/// The convergence certificate of a minimisation (docs/theory.md 5.3): the gradient norm of the
/// deterministic cost at the returned point, at the start, their ratio, and whether the ratio
/// is below the stated tolerance.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Certificate {
    /// `||grad L||_F` at the returned point (all blocks).
    pub grad_norm: f64,
    /// `||grad L||_F` at the start.
    pub grad_norm_start: f64,
    /// `grad_norm / grad_norm_start` (1 when the start is stationary: nothing moved).
    pub relative: f64,
    /// The tolerance on `relative`.
    pub tol: f64,
    /// `relative <= tol` from a start with a non-zero, finite gradient, and no sign that the cost
    /// has no minimiser (`no_minimiser`). A stationary start certifies nothing.
    pub converged: bool,
    /// The cost fell to its infimum, which it approaches only as the parameters grow without
    /// bound: the gradient vanishes there too, so a small `relative` certifies an escape, not a
    /// minimiser ([`Certificate::escaped_to_infimum`]). `converged` is then false.
    #[cfg_attr(feature = "serde", serde(default))]
    pub no_minimiser: bool,
}

/// A contrastive cost below this fraction of its start has reached its infimum 0 (see
/// [`Certificate::escaped_to_infimum`]).
pub const INFIMUM_FRACTION: f64 = 1e-3;

impl Certificate {
    /// The certificate of a point with gradient norm `grad_norm`, from a start with
    /// `grad_norm_start`, against `tol`.
    pub fn new(grad_norm: f64, grad_norm_start: f64, tol: f64) -> Self {
        let resolved = grad_norm_start > 0.0 && grad_norm_start.is_finite() && grad_norm.is_finite();
        let relative = if resolved { grad_norm / grad_norm_start } else { 1.0 };
        Self { grad_norm, grad_norm_start, relative, tol, converged: resolved && relative <= tol, no_minimiser: false }
    }

    /// For a cost that is non-negative with infimum 0 reached only at infinity (InfoNCE, CLIP
    /// without a ridge: the pairs of a small sample can be separated by scaling the map up):
    /// marks the certificate `no_minimiser` (and not converged) when the cost `loss` is below
    /// [`INFIMUM_FRACTION`] of its value `start` at the initial point (about `log m` for a small
    /// start and batches of `m`). At a minimiser of a sample with `n >> d` the loss stays a
    /// sizable fraction of `log m` (5.54 of 5.55 on the `pca-trap` preset); a sample of 2 pairs
    /// in 10 dimensions reached 8e-8 with a "certified" gradient of 7e-6 of its start.
    pub fn escaped_to_infimum(mut self, loss: f64, start: f64) -> Self {
        if start > 0.0 && loss < INFIMUM_FRACTION * start {
            self.no_minimiser = true;
            self.converged = false;
        }
        self
    }
}

/// What an L-BFGS observer sees after each iteration.
#[derive(Clone, Copy, Debug)]
pub struct LbfgsStep {
    /// Iteration (0-based).
    pub iteration: usize,
    /// Cost at the new point.
    pub loss: f64,
    /// Gradient norm at the new point, relative to the start.
    pub relative_grad: f64,
    /// Step length accepted by the line search.
    pub step: f64,
}

/// The result of [`Lbfgs::minimize`] (parameters in the cost's scalar).
#[derive(Clone, Debug)]
pub struct Minimized<T: Real = f64> {
    /// The parameter blocks at the end.
    pub params: Vec<DMatrix<T>>,
    /// The cost there.
    pub loss: f64,
    /// The cost after each iteration (the first entry is the start).
    pub losses: Vec<f64>,
    /// Iterations taken.
    pub iterations: usize,
    /// Cost evaluations (value and gradient) made.
    pub evaluations: usize,
    /// Whether the gradient tolerance was reached.
    pub certificate: Certificate,
    /// Why the solver stopped.
    pub stop: LbfgsStop,
}

/// Why an L-BFGS run stopped: each early stop says its real reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum LbfgsStop {
    /// The relative gradient norm reached the tolerance.
    GradTol,
    /// `max_iters` iterations ran.
    MaxIters,
    /// The line search found no decrease, even along steepest descent: the cost is flat to
    /// rounding along the gradient (a point at rounding level, or a cost whose scale makes its
    /// gradient unresolvable).
    NoDecrease,
    /// The gradient at the start is zero: the start is a stationary point (a saddle or a
    /// maximum as likely as a minimum), so nothing is certified.
    StationaryStart,
    /// The observer stopped the run.
    Observer,
}

impl LbfgsStop {
    /// Its name, as serialised (`grad-tol`, `max-iters`, `no-decrease`, `stationary-start`,
    /// `observer`).
    pub fn name(self) -> &'static str {
        match self {
            LbfgsStop::GradTol => "grad-tol",
            LbfgsStop::MaxIters => "max-iters",
            LbfgsStop::NoDecrease => "no-decrease",
            LbfgsStop::StationaryStart => "stationary-start",
            LbfgsStop::Observer => "observer",
        }
    }

    /// What a user can do about it, for messages.
    pub fn advice(self) -> &'static str {
        match self {
            LbfgsStop::GradTol => "none needed",
            LbfgsStop::MaxIters => "raise the iteration budget (--max-iters), or check that the loss has a minimiser",
            LbfgsStop::NoDecrease => {
                "the line search found no decrease at rounding level before the tolerance: loosen the tolerance \
                 (--tol), or rescale the problem (a temperature or initial scale far from 1 flattens the loss)"
            }
            LbfgsStop::StationaryStart => {
                "the gradient is zero at the start, so nothing moved: use another start (--seed, --init-scale) or a \
                 temperature nearer 1"
            }
            LbfgsStop::Observer => "the run was interrupted",
        }
    }
}

/// Limited-memory BFGS (Nocedal & Wright, Algorithms 7.4 and 3.5-3.6) with a strong-Wolfe line
/// search; deterministic (no randomness, fixed arithmetic order). Stops when
/// `||grad|| <= grad_rtol * ||grad at start||`, after `max_iters` iterations, or when the line
/// search cannot decrease the cost any further (rounding level); the certificate tells which.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Lbfgs {
    /// Pairs `(s, y)` kept (default 10).
    pub memory: usize,
    /// Iteration budget (default 1000).
    pub max_iters: usize,
    /// Relative gradient tolerance of the certificate (default 1e-5, docs/theory.md 5.3).
    pub grad_rtol: f64,
    /// Sufficient-decrease constant `c1` (default 1e-4).
    pub c1: f64,
    /// Curvature constant `c2` (default 0.9).
    pub c2: f64,
    /// Cost evaluations per line search (default 30).
    pub max_line_evals: usize,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self { memory: 10, max_iters: 1000, grad_rtol: 1e-5, c1: 1e-4, c2: 0.9, max_line_evals: 30 }
    }
}

/// Flattens blocks into one `f64` vector (column-major within each block, blocks in order): the
/// solver's own arithmetic is in `f64` whatever the cost's scalar.
fn flatten<T: Real>(blocks: &[DMatrix<T>]) -> DVector<f64> {
    DVector::from_iterator(
        blocks.iter().map(|b| b.len()).sum(),
        blocks.iter().flat_map(|b| b.iter().map(|&v| to_f64(v))),
    )
}

/// Writes the vector back into blocks of the same shapes (rounded to the cost's scalar).
fn unflatten<T: Real>(v: &DVector<f64>, blocks: &mut [DMatrix<T>]) {
    let mut offset = 0;
    for b in blocks.iter_mut() {
        for (dst, &src) in b.iter_mut().zip(&v.as_slice()[offset..]) {
            *dst = from_f64(src);
        }
        offset += b.len();
    }
}

/// The cost along the search direction: value and directional derivative at `x + t p`.
struct Line<'a, T: Real> {
    cost: &'a mut dyn Cost<T>,
    x: &'a DVector<f64>,
    p: &'a DVector<f64>,
    blocks: Vec<DMatrix<T>>,
    grads: Vec<DMatrix<T>>,
    evaluations: usize,
}

/// One evaluated point of the line search.
#[derive(Clone)]
struct Point {
    t: f64,
    f: f64,
    slope: f64,
    g: DVector<f64>,
}

impl<T: Real> Line<'_, T> {
    fn eval(&mut self, t: f64) -> Result<Point> {
        let xt = self.x + self.p * t;
        unflatten(&xt, &mut self.blocks);
        let f = to_f64(self.cost.cost_grad(&self.blocks, &mut self.grads)?);
        self.evaluations += 1;
        let g = flatten(&self.grads);
        Ok(Point { t, f, slope: g.dot(self.p), g })
    }
}

/// Minimiser of the cubic through `(a, fa, da)` and `(b, fb, db)`, kept inside the bracket
/// (bisection when the cubic has no usable minimiser).
fn cubic_min(a: &Point, b: &Point) -> f64 {
    let (lo, hi) = if a.t < b.t { (a.t, b.t) } else { (b.t, a.t) };
    let d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.t - b.t);
    let disc = d1 * d1 - a.slope * b.slope;
    let mid = 0.5 * (lo + hi);
    if disc.is_nan() || disc < 0.0 || disc.is_infinite() {
        return mid;
    }
    let d2 = (b.t - a.t).signum() * disc.sqrt();
    let t = b.t - (b.t - a.t) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    // Stay clear of the ends, so that the bracket shrinks.
    let margin = 0.1 * (hi - lo);
    if t.is_finite() && t > lo + margin && t < hi - margin { t } else { mid }
}

impl Lbfgs {
    /// Checks the settings.
    ///
    /// # Errors
    /// `memory`, `max_iters` or `max_line_evals` zero; tolerances not positive; not
    /// `0 < c1 < c2 < 1`.
    pub fn validate(&self) -> Result<()> {
        check_at_least(self.memory, 1, "L-BFGS memory")?;
        check_at_least(self.max_iters, 1, "L-BFGS iterations")?;
        check_at_least(self.max_line_evals, 1, "line-search evaluations")?;
        check_positive(self.grad_rtol, "L-BFGS relative gradient tolerance")?;
        if !(self.c1 > 0.0 && self.c1 < self.c2 && self.c2 < 1.0) {
            return Err(
                GmmError::out_of_range("Wolfe constant c1", self.c1, format!("0 < c1 < c2 = {} < 1", self.c2)).into()
            );
        }
        Ok(())
    }

    /// Minimises `cost` from `params`. The observer sees each iteration.
    ///
    /// # Errors
    /// Invalid settings; non-finite initial parameters; the cost's errors; a non-finite cost or
    /// gradient ([`LossError::Diverged`], naming the iteration).
    pub fn minimize<T: Real>(
        &self,
        cost: &mut dyn Cost<T>,
        params: Vec<DMatrix<T>>,
        observer: &mut dyn FnMut(&LbfgsStep),
    ) -> Result<Minimized<T>> {
        self.minimize_until(cost, params, &mut |step| {
            observer(step);
            ControlFlow::Continue(())
        })
    }

    /// [`Lbfgs::minimize`] with an observer that may stop the run after any iteration
    /// (`ControlFlow::Break`, e.g. on a user's interrupt): the result is then the last iterate,
    /// with the certificate evaluated there (not converged, unless the tolerance happened to be
    /// met).
    ///
    /// # Errors
    /// As [`Lbfgs::minimize`].
    pub fn minimize_until<T: Real>(
        &self,
        cost: &mut dyn Cost<T>,
        mut params: Vec<DMatrix<T>>,
        observer: &mut dyn FnMut(&LbfgsStep) -> ControlFlow<()>,
    ) -> Result<Minimized<T>> {
        self.validate()?;
        for p in &params {
            check_finite_in(p, "initial parameters")?;
        }
        let mut grads: Vec<DMatrix<T>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
        let mut f = to_f64(cost.cost_grad(&params, &mut grads)?);
        let mut evaluations = 1;
        let mut x = flatten(&params);
        let mut g = flatten(&grads);
        // A non-finite cost or gradient at the start is bad input; at an accepted point later
        // (the line search rejects non-finite trial points) it is divergence.
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return Err(
                GmmError::NonFinite { what: "cost or gradient at the L-BFGS start", row: 0, col: 0, value: f }.into()
            );
        }
        let g0 = g.norm();
        if !g0.is_finite() {
            return Err(GmmError::NonFinite {
                what: "gradient norm at the L-BFGS start (it overflows: rescale the problem, e.g. a temperature nearer 1)",
                row: 0,
                col: 0,
                value: g0,
            }
            .into());
        }
        let mut losses = vec![f];
        let mut history: Vec<(DVector<f64>, DVector<f64>, f64)> = Vec::with_capacity(self.memory);
        let mut iterations = 0;
        let mut stop = if g0 > 0.0 { LbfgsStop::MaxIters } else { LbfgsStop::StationaryStart };
        while iterations < self.max_iters && g0 > 0.0 {
            if g.norm() <= self.grad_rtol * g0 {
                stop = LbfgsStop::GradTol;
                break;
            }
            // Two-loop recursion: p = -H g.
            let mut q = g.clone();
            let mut alphas = Vec::with_capacity(history.len());
            for (s, y, rho) in history.iter().rev() {
                let a = rho * s.dot(&q);
                q.axpy(-a, y, 1.0);
                alphas.push(a);
            }
            let gamma = history.last().map_or(1.0 / g.norm().max(f64::MIN_POSITIVE), |(s, y, _)| s.dot(y) / y.dot(y));
            q *= gamma;
            for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
                let b = rho * y.dot(&q);
                q.axpy(a - b, s, 1.0);
            }
            let mut p = -q;
            let mut slope = g.dot(&p);
            if slope.is_nan() || slope >= 0.0 {
                // Not a descent direction (rounding): restart from steepest descent.
                history.clear();
                p = -&g / g.norm();
                slope = g.dot(&p);
            }
            let start = Point { t: 0.0, f, slope, g: g.clone() };
            let mut line =
                Line { cost: &mut *cost, x: &x, p: &p, blocks: params.clone(), grads: grads.clone(), evaluations: 0 };
            let found = self.strong_wolfe(&mut line, &start)?;
            evaluations += line.evaluations;
            let Some(next) = found else {
                if history.is_empty() {
                    stop = LbfgsStop::NoDecrease; // no decrease possible even along -g
                    break;
                }
                // The quasi-Newton direction failed (a stale curvature model near rounding
                // level): forget it and try steepest descent before giving up.
                history.clear();
                continue;
            };
            if !next.f.is_finite() || next.g.iter().any(|v| !v.is_finite()) {
                // The step length plays the learning rate's part.
                let quantity = "L-BFGS cost or gradient became non-finite at an accepted point";
                return Err(LossError::Diverged { quantity, step: iterations + 1, lr: next.t, last_loss: f });
            }
            let s = &p * next.t;
            let y = &next.g - &g;
            let sy = s.dot(&y);
            if sy > 1e-12 * s.norm() * y.norm() {
                if history.len() == self.memory {
                    history.remove(0);
                }
                history.push((s.clone(), y, 1.0 / sy));
            }
            x += s;
            f = next.f;
            g = next.g;
            iterations += 1;
            losses.push(f);
            let step = LbfgsStep {
                iteration: iterations - 1,
                loss: f,
                relative_grad: g.norm() / g0.max(f64::MIN_POSITIVE),
                step: next.t,
            };
            if observer(&step).is_break() {
                stop = LbfgsStop::Observer;
                break;
            }
        }
        if stop == LbfgsStop::MaxIters && g.norm() <= self.grad_rtol * g0 {
            stop = LbfgsStop::GradTol; // reached on the last iteration
        }
        unflatten(&x, &mut params);
        let certificate = Certificate::new(g.norm(), g0, self.grad_rtol);
        Ok(Minimized { params, loss: f, losses, iterations, evaluations, certificate, stop })
    }

    /// A step length satisfying the strong Wolfe conditions along the line, or `None` when
    /// no decrease is possible (the cost is flat to rounding along the direction).
    fn strong_wolfe<T: Real>(&self, line: &mut Line<'_, T>, start: &Point) -> Result<Option<Point>> {
        let (c1, c2) = (self.c1, self.c2);
        let armijo = |pt: &Point| pt.f <= start.f + c1 * pt.t * start.slope;
        let curvature = |pt: &Point| pt.slope.abs() <= c2 * start.slope.abs();
        let mut prev = start.clone();
        let mut t = 1.0;
        let mut best: Option<Point> = None;
        for i in 0..self.max_line_evals {
            let pt = line.eval(t)?;
            if pt.f.is_finite() && pt.f < best.as_ref().map_or(start.f, |b| b.f) {
                best = Some(pt.clone());
            }
            if !pt.f.is_finite() || !armijo(&pt) || (i > 0 && pt.f >= prev.f) {
                return self.zoom(line, start, prev, pt, self.max_line_evals - i - 1, best);
            }
            if curvature(&pt) {
                return Ok(Some(pt));
            }
            if pt.slope >= 0.0 {
                return self.zoom(line, start, pt, prev, self.max_line_evals - i - 1, best);
            }
            prev = pt;
            t *= 2.0;
        }
        Ok(best)
    }

    /// Zoom of Nocedal & Wright's Algorithm 3.6 between `lo` (satisfies sufficient decrease,
    /// lowest cost so far) and `hi`. Falls back to the best decreasing point seen when the
    /// evaluation budget runs out.
    fn zoom<T: Real>(
        &self,
        line: &mut Line<'_, T>,
        start: &Point,
        mut lo: Point,
        mut hi: Point,
        budget: usize,
        mut best: Option<Point>,
    ) -> Result<Option<Point>> {
        for _ in 0..budget {
            let t = if hi.f.is_finite() { cubic_min(&lo, &hi) } else { 0.5 * (lo.t + hi.t) };
            if (hi.t - lo.t).abs() <= f64::EPSILON * lo.t.abs().max(1e-300) {
                break;
            }
            let pt = line.eval(t)?;
            if pt.f.is_finite() && pt.f < best.as_ref().map_or(start.f, |b| b.f) {
                best = Some(pt.clone());
            }
            if !pt.f.is_finite() || pt.f > start.f + self.c1 * t * start.slope || pt.f >= lo.f {
                hi = pt;
            } else {
                if pt.slope.abs() <= self.c2 * start.slope.abs() {
                    return Ok(Some(pt));
                }
                if pt.slope * (hi.t - lo.t) >= 0.0 {
                    hi = lo;
                }
                lo = pt;
            }
        }
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(dim: usize) -> impl FnMut(&[DMatrix<f64>], &mut [DMatrix<f64>]) -> Result<f64> {
        move |p, g| {
            let x = &p[0];
            let mut f = 0.0;
            g[0].fill(0.0);
            for i in 0..dim - 1 {
                let (a, b) = (x[i], x[i + 1]);
                f += 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
                g[0][i] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a);
                g[0][i + 1] += 200.0 * (b - a * a);
            }
            Ok(f)
        }
    }

    #[test]
    fn rosenbrock_reaches_the_minimiser() {
        for dim in [2, 10] {
            let mut cost = FnCost::new(rosenbrock(dim));
            let start = DMatrix::from_fn(1, dim, |_, j| if j % 2 == 0 { -1.2 } else { 1.0 });
            let solver = Lbfgs { grad_rtol: 1e-10, ..Lbfgs::default() };
            let out = solver.minimize(&mut cost, vec![start], &mut |_| {}).unwrap();
            assert!(out.certificate.converged, "dim {dim}: {:?}", out.certificate);
            let err = (out.params[0].clone() - DMatrix::from_element(1, dim, 1.0)).amax();
            assert!(err < 1e-7, "dim {dim}: max error {err:e} after {} iterations", out.iterations);
            assert!(out.losses.windows(2).all(|w| w[1] <= w[0]), "monotone decrease");
        }
    }

    #[test]
    fn quadratic_reaches_its_known_minimiser() {
        // f(x) = x^T Q x / 2 - b^T x with Q SPD (condition number 1e4): minimiser Q^{-1} b.
        let d = 20;
        let q = DMatrix::from_fn(d, d, |i, j| if i == j { 10f64.powf(4.0 * i as f64 / (d - 1) as f64) } else { 0.0 });
        let rot = gmm_core::generate::random_orthogonal(d, &mut gmm_core::seeded(3));
        let q = &rot * q * rot.transpose();
        let b = DVector::from_fn(d, |i, _| (i as f64).sin());
        let expected = q.clone().cholesky().unwrap().solve(&b);
        let (q2, b2) = (q.clone(), b.clone());
        let mut cost = FnCost::new(move |p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
            let x = DVector::from_column_slice(p[0].as_slice());
            let qx = &q2 * &x;
            g[0].copy_from_slice((&qx - &b2).as_slice());
            Ok(0.5 * x.dot(&qx) - b2.dot(&x))
        });
        // ||x - x*|| <= ||Q^{-1}|| ||grad|| = ||grad|| (smallest eigenvalue 1): a relative
        // gradient of 1e-6 (||b|| ~ 3) bounds the error by ~3e-6. (Below ~1e-6 the line
        // search's value comparisons reach rounding along the stiff directions:
        // f - f* ~ ||g||^2 / (2 lambda_max) meets eps |f| near ||g|| ~ 1e-6.)
        let solver = Lbfgs { grad_rtol: 1e-6, memory: d, ..Lbfgs::default() };
        let out = solver.minimize(&mut cost, vec![DMatrix::zeros(d, 1)], &mut |_| {}).unwrap();
        let got = DVector::from_column_slice(out.params[0].as_slice());
        assert!(out.certificate.converged, "{:?} after {} iterations", out.certificate, out.iterations);
        assert!(
            (got - expected).norm() <= out.certificate.grad_norm * (1.0 + 1e-6),
            "after {} iterations",
            out.iterations
        );
    }

    #[test]
    fn population_minimiser_approaches_fisher_as_the_outer_sample_grows() {
        // Centred mixture, r = k - 1: the population minimiser spans F (claim C7); the numerical
        // one is off by a Monte Carlo error ~ N^{-1/2}. Its slope over a 16x range of N, over
        // seeds, must be clearly negative (the nearest wrong answer, no decrease, is slope 0).
        let g = gmm_core::MixtureGenerator::isotropic(3, 6).condition(10.0).generate(&mut gmm_core::seeded(4)).unwrap();
        let f = g.fisher_subspace().unwrap();
        let mean_err = |n: usize| {
            (0..4)
                .map(|s| {
                    let m = population_minimiser(&g, 1.0, 1.0, 2, n, 10 + s, &Lbfgs::default()).unwrap();
                    assert!(m.certificate.converged, "{:?}", m.certificate);
                    gmm_core::LinearMap::new(m.params[0].clone()).row_space().unwrap().sin_theta_max(&f).unwrap()
                })
                .sum::<f64>()
                / 4.0
        };
        let (small, large) = (mean_err(500), mean_err(8000));
        let slope = (large / small).ln() / 16f64.ln();
        assert!(slope < -0.3, "slope {slope:.3} (errors {small:.4} -> {large:.4})");
        assert!(population_minimiser(&g, 1.0, 1.0, 7, 100, 1, &Lbfgs::default()).is_err());
    }

    #[test]
    fn an_f32_cost_is_minimised_to_f32_precision() {
        // f(x) = sum_i w_i (x_i - i)^2 / 2 in f32, w from 1 to 100: the solver's own arithmetic is
        // f64, the cost's f32, so the gradient cannot fall much below eps_f32 * |g| scale.
        let w: Vec<f32> = (0..6).map(|i| 10f32.powf(i as f32 * 0.4)).collect();
        let mut cost = FnCost::new(move |p: &[DMatrix<f32>], g: &mut [DMatrix<f32>]| {
            let mut f = 0.0f32;
            for i in 0..6 {
                let r = p[0][i] - i as f32;
                f += 0.5 * w[i] * r * r;
                g[0][i] = w[i] * r;
            }
            Ok(f)
        });
        let solver = Lbfgs { grad_rtol: 1e-5, ..Lbfgs::default() };
        let out = solver.minimize(&mut cost, vec![DMatrix::<f32>::zeros(6, 1)], &mut |_| {}).unwrap();
        assert!(out.certificate.converged, "{:?}", out.certificate);
        // |x - x*| <= |grad| / w_min = |grad|, plus the f32 rounding of x (|x| <= 5: 6e-7).
        let err = (0..6).map(|i| (f64::from(out.params[0][i]) - i as f64).abs()).fold(0.0, f64::max);
        assert!(err <= out.certificate.grad_norm + 1e-6, "{err} vs {:?}", out.certificate);
    }

    #[test]
    fn budget_exhausted_is_not_converged_and_bad_settings_are_errors() {
        let mut cost = FnCost::new(rosenbrock(2));
        let solver = Lbfgs { max_iters: 3, ..Lbfgs::default() };
        let out = solver.minimize(&mut cost, vec![DMatrix::from_row_slice(1, 2, &[-1.2, 1.0])], &mut |_| {}).unwrap();
        assert_eq!((out.iterations, out.stop), (3, LbfgsStop::MaxIters));
        assert!(!out.certificate.converged && out.certificate.relative > out.certificate.tol);
        let done = Lbfgs::default().minimize(&mut cost, vec![DMatrix::from_row_slice(1, 2, &[-1.2, 1.0])], &mut |_| {});
        assert_eq!(done.unwrap().stop, LbfgsStop::GradTol);
        assert!(Lbfgs { c1: 0.95, ..Lbfgs::default() }.validate().is_err());
        assert!(Lbfgs { memory: 0, ..Lbfgs::default() }.validate().is_err());
        let nan = vec![DMatrix::from_row_slice(1, 2, &[f64::NAN, 1.0])];
        assert!(Lbfgs::default().minimize(&mut cost, nan, &mut |_| {}).is_err());
    }

    #[test]
    fn a_stationary_start_certifies_nothing_and_an_overflowing_one_is_an_error() {
        // Rosenbrock's gradient vanishes at (1, 1): the start is the minimiser, but a zero
        // gradient at a start cannot tell a minimum from a saddle (f = -x^2 + y^2 at 0 alike).
        let mut cost = FnCost::new(rosenbrock(2));
        let out = Lbfgs::default().minimize(&mut cost, vec![DMatrix::from_row_slice(1, 2, &[1.0, 1.0])], &mut |_| {});
        let out = out.unwrap();
        assert_eq!((out.iterations, out.stop), (0, LbfgsStop::StationaryStart));
        assert!(!out.certificate.converged && out.certificate.relative == 1.0, "{:?}", out.certificate);
        let mut saddle = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
            let (x, y) = (p[0][0], p[0][1]);
            g[0][0] = -2.0 * x;
            g[0][1] = 2.0 * y;
            Ok(y * y - x * x)
        });
        let out = Lbfgs::default().minimize(&mut saddle, vec![DMatrix::zeros(1, 2)], &mut |_| {}).unwrap();
        assert!(!out.certificate.converged && out.stop == LbfgsStop::StationaryStart);
        let mut huge = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
            g[0].fill(1e300);
            Ok(p[0].sum())
        });
        let err = Lbfgs::default().minimize(&mut huge, vec![DMatrix::zeros(1, 4)], &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("overflows"), "{err}");
    }
}
