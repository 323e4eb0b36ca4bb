//! Fitting a population objective from several starts to a certificate.
//!
//! The map is reparametrised, never the data: `A = B W` with `W = Cov(v1)^{-1/2}` (the anchors'
//! population covariance, label-free), and L-BFGS runs on `B` with the gradient `dL/dB = dL/dA W`
//! (docs/theory.md 5.4). The starts are random `B` (rows of norm about 1, so that every output
//! has unit variance) and, first, the "eigen configuration": the top `r` eigenvectors of the
//! whitened cross covariance `W sym(Cov(v1, v2)) W`, a critical point of every decorrelation loss
//! (zoo.md items 2 and 3), which the random starts must beat when it is a saddle.

use gmm_core::GmmError;
use gmm_core::linalg::{spd_inv_sqrt, sym_eig_desc, symmetrize};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{gaussian_matrix, seeded};
use ssl_losses::{Cost, Lbfgs, LossError, Result, smallest_curvature};

use crate::loss::{Kink, PopulationLoss, Scenario};

/// How the harness fits.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FitSettings {
    /// Random starts after the eigen configuration (default 5).
    pub random_starts: usize,
    /// Further random starts, drawn one by one while fewer than two starts agree on the best
    /// value (default 40: VICReg at its official weights has landscapes where 2 of 17 or of 27
    /// starts reach the lowest value; the claims' calibration met 4 such cases in 2000 with 10,
    /// and 1 with 40). Only fits that have not agreed yet draw them.
    pub extra_starts: usize,
    /// The solver; its `grad_rtol` is relative to each start's gradient (default 1e-10, 5000
    /// iterations).
    pub lbfgs: Lbfgs,
    /// Two starts agree when their final values differ by at most this, relative (default 1e-8).
    pub agreement_rtol: f64,
    /// The certificate's bound on the relative gradient ([`FitReport::relative_gradient`],
    /// default 1e-6). A line search stops where the cost's rounding (`eps |L|`) hides any further
    /// decrease, at a gradient of about `sqrt(2 eps |L| mu)` (`mu` the curvature), i.e. near
    /// `sqrt(eps) = 1.5e-8` of the problem's gradient scale; the bound sits above that floor.
    pub gradient_rtol: f64,
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            random_starts: 5,
            extra_starts: 40,
            lbfgs: Lbfgs { grad_rtol: 1e-10, max_iters: 5000, memory: 20, ..Lbfgs::default() },
            agreement_rtol: 1e-8,
            gradient_rtol: 1e-6,
        }
    }
}

/// The best fit over the starts and its certificate.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FitReport {
    /// The best map `A` (`r x d`, raw coordinates).
    pub map: DMatrix<f64>,
    /// The same map in whitened coordinates, `B = A W^{-1}` (its singular values decide the rank).
    pub whitened: DMatrix<f64>,
    /// Its loss.
    pub value: f64,
    /// Its relative gradient `||dL/dB|| ||B||` over the same quantity's mean at the random
    /// starts (the problem's gradient scale), with `dL/dB` the smallest subgradient at kinks.
    pub relative_gradient: f64,
    /// The final value of each start (the eigen configuration first; NaN for a start where the
    /// loss could not be evaluated).
    pub start_values: Vec<f64>,
    /// Starts where the loss could not be evaluated (skipped).
    pub failed_starts: usize,
    /// How many starts ended within `agreement_rtol` of the best value (the best included).
    pub agreeing_starts: usize,
    /// The maps (raw coordinates) of the starts that agree on the best value, the best included:
    /// their row spaces tell a unique minimiser from a family of equally good ones.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub agreeing_maps: Vec<DMatrix<f64>>,
    /// Certified: the relative gradient at most `gradient_rtol`, at least two starts agree on
    /// the best value, and a discretised loss's replicate could be refitted.
    pub certified: bool,
    /// The distance bound at the best map when the loss declares its symmetries
    /// ([`PopulationLoss::symmetries`]) and the map is at no kink.
    pub bound: Option<FitBound>,
    /// The minimiser of the loss's replicate ([`PopulationLoss::replicate`]: another
    /// discretisation), refitted from the best map (raw coordinates): the distance between the
    /// two row spaces is the discretisation's floor.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub replicate: Option<DMatrix<f64>>,
}

/// The first-order distance from a fit to the minimiser (docs/theory.md 5.3): at a point with
/// gradient `g` where the Hessian across the directions the symmetries leave free has smallest
/// eigenvalue `lambda_min > 0`, the Newton step, `||g|| / lambda_min` at most, is the distance to
/// the local minimiser modulo the symmetries.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FitBound {
    /// The smallest free curvature in `B` (a lower estimate, [`ssl_losses::smallest_curvature`];
    /// not positive: a saddle or a flat direction, and no bound). For a flow's fixed point
    /// ([`crate::FlowLoss`]): the smallest singular value of its Jacobian across the orbit.
    pub curvature: f64,
    /// `||g||_F / curvature` in `B`.
    pub distance: Option<f64>,
}

/// The objective on `B` (`A = B W`).
struct Reparametrised<'a> {
    loss: &'a mut dyn PopulationLoss,
    scenario: &'a Scenario,
    w: &'a DMatrix<f64>,
    grad_a: DMatrix<f64>,
}

impl Cost for Reparametrised<'_> {
    fn cost_grad(&mut self, params: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]) -> Result<f64> {
        let a = &params[0] * self.w;
        if self.grad_a.shape() != a.shape() {
            self.grad_a = DMatrix::zeros(a.nrows(), a.ncols());
        }
        let value = self.loss.value_grad(&a, self.scenario, &mut self.grad_a)?;
        grads[0] = &self.grad_a * self.w.transpose();
        Ok(value)
    }
}

/// The cost as the solver sees it: `+inf` (a barrier the line search backs off from) at a point
/// where the loss cannot be evaluated because a matrix it factors is singular (InfoNCE's
/// projected covariance, for a map that does not see the whole span of the means), every other
/// error passed on. The value never leaves the solver: every certificate, bound and start's
/// scale evaluates the loss itself.
struct Barrier<'c, C: Cost>(&'c mut C);

impl<C: Cost> Cost for Barrier<'_, C> {
    fn cost_grad(&mut self, params: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]) -> Result<f64> {
        match self.0.cost_grad(params, grads) {
            Err(LossError::Core(GmmError::Singular { .. })) => {
                grads.iter_mut().for_each(|g| g.fill(0.0));
                Ok(f64::INFINITY)
            }
            other => other,
        }
    }
}

/// How many times the best start is polished by a fresh L-BFGS run.
const POLISH_RESTARTS: usize = 3;

/// The smallest element of the subdifferential in `B` at `b` (the gradient where the loss is
/// smooth).
fn subgradient(
    cost: &mut Reparametrised<'_>,
    b: &DMatrix<f64>,
    w: &DMatrix<f64>,
    scenario: &Scenario,
) -> Result<DMatrix<f64>> {
    let mut grads = vec![DMatrix::zeros(b.nrows(), b.ncols())];
    cost.cost_grad(std::slice::from_ref(b), &mut grads)?;
    let kinks = cost.loss.kinks(&(b * w), scenario)?;
    Ok(smallest_subgradient(&grads[0], &kinks, w))
}

/// L-BFGS from `start`, restarted from its end with a fresh memory while the relative gradient
/// `||g|| ||B|| / scale` is above the certificate's bound (at most [`POLISH_RESTARTS`] times: a
/// line search stops where it can no longer decrease the cost, with a memory built far from
/// the minimum). Returns the value, the point and its relative gradient.
fn descend(
    cost: &mut Reparametrised<'_>,
    start: DMatrix<f64>,
    settings: &FitSettings,
    scale: f64,
    w: &DMatrix<f64>,
    scenario: &Scenario,
) -> Result<(f64, DMatrix<f64>, f64)> {
    let (mut value, mut b) = (f64::INFINITY, start);
    let mut relative = f64::INFINITY;
    for _ in 0..=POLISH_RESTARTS {
        let out = settings.lbfgs.minimize(&mut Barrier(&mut *cost), vec![b.clone()], &mut ())?;
        let reached = out.run.loss();
        if reached.is_nan() || reached > value {
            break;
        }
        value = out.run.loss();
        b = out.params.into_iter().next().unwrap_or(b);
        relative = subgradient(cost, &b, w, scenario)?.norm() * b.norm() / scale.max(f64::MIN_POSITIVE);
        if relative <= settings.gradient_rtol {
            break;
        }
    }
    if relative > settings.gradient_rtol {
        let rows = cost.loss.kink_rows(&(&b * w), scenario, KINK_WINDOW)?;
        if !rows.is_empty() {
            let mut on = OnKinks { inner: cost, rows };
            let start = on.project(&b);
            let out = settings.lbfgs.minimize(&mut Barrier(&mut on), vec![start], &mut ())?;
            let reached = out.run.loss();
            if let Some(u) = out.params.first().filter(|_| reached <= value) {
                let projected = on.project(u);
                let held = subgradient(cost, &projected, w, scenario)?.norm() * projected.norm()
                    / scale.max(f64::MIN_POSITIVE);
                if held < relative {
                    (value, b, relative) = (reached, projected, held);
                }
            }
        }
    }
    if relative > settings.gradient_rtol {
        // Held on their kinks, rows whose hinges are all active and still pull inwards (the
        // smallest subgradient takes every hinge in full) have their minimum just inside the
        // active side, where the loss is smooth: a fresh L-BFGS run from the held point reaches it.
        let out = settings.lbfgs.minimize(&mut Barrier(&mut *cost), vec![b.clone()], &mut ())?;
        let reached = out.run.loss();
        if let Some(u) = out.params.first().filter(|_| reached <= value) {
            let fresh = subgradient(cost, u, w, scenario)?.norm() * u.norm() / scale.max(f64::MIN_POSITIVE);
            if fresh < relative {
                (value, b, relative) = (reached, u.clone(), fresh);
            }
        }
    }
    Ok((value, b, relative))
}

/// How close (relative) a row's standard deviation must be to a kink to be held on it.
const KINK_WINDOW: f64 = 1e-3;

/// The cost with some rows of `B` held at a fixed norm (their kink: in `B` the anchor view is
/// whitened, so `a_j^T Cov(x) a_j = ||b_j||^2`): `b_j = rho_j u_j / ||u_j||`, the gradient
/// projected on the sphere's tangent space and scaled by `rho_j / ||u_j||`.
struct OnKinks<'a, 'b> {
    inner: &'a mut Reparametrised<'b>,
    rows: Vec<(usize, f64)>,
}

impl OnKinks<'_, '_> {
    /// `U` with the held rows scaled to their norm.
    fn project(&self, u: &DMatrix<f64>) -> DMatrix<f64> {
        let mut b = u.clone();
        for &(j, variance) in &self.rows {
            let norm = u.row(j).norm();
            if norm > 0.0 {
                b.row_mut(j).scale_mut(variance.sqrt() / norm);
            }
        }
        b
    }
}

impl Cost for OnKinks<'_, '_> {
    fn cost_grad(&mut self, params: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]) -> Result<f64> {
        let u = &params[0];
        let b = self.project(u);
        let value = self.inner.cost_grad(std::slice::from_ref(&b), grads)?;
        for &(j, variance) in &self.rows {
            let norm = u.row(j).norm();
            if norm > 0.0 {
                let unit = u.row(j) / norm;
                let g = grads[0].row(j).into_owned();
                let tangent = &g - &unit * g.dot(&unit);
                grads[0].row_mut(j).copy_from(&(tangent * (variance.sqrt() / norm)));
            }
        }
        Ok(value)
    }
}

/// The smallest gradient in `B` over the subdifferential at the kinks: `g` (in `B`) with each
/// kink's term re-weighted by `c_i in [0, 1]` (counted terms enter `g` with `c_i = 1`), `c`
/// chosen by exact coordinate descent on the convex quadratic `||g + sum_i (c_i - counted_i) h_i W^T||^2`.
fn smallest_subgradient(g: &DMatrix<f64>, kinks: &[Kink], w: &DMatrix<f64>) -> DMatrix<f64> {
    if kinks.is_empty() {
        return g.clone();
    }
    let h: Vec<DMatrix<f64>> = kinks.iter().map(|k| &k.active_gradient * w.transpose()).collect();
    let mut c: Vec<f64> = kinks.iter().map(|k| if k.counted { 1.0 } else { 0.0 }).collect();
    let mut current = g.clone();
    for _ in 0..200 {
        for (i, hi) in h.iter().enumerate() {
            let hh = hi.norm_squared();
            if hh == 0.0 {
                continue;
            }
            // Minimise ||current + (c_new - c_i) h_i|| over c_new in [0, 1].
            let c_new = (c[i] - current.dot(hi) / hh).clamp(0.0, 1.0);
            current += hi * (c_new - c[i]);
            c[i] = c_new;
        }
    }
    current
}

/// Fits `loss` on `scenario` from the eigen configuration and `settings.random_starts` random
/// starts (drawn from `seed`), keeps the lowest value, and certifies it.
///
/// # Errors
/// No random start, a tolerance not positive; the anchors' covariance not positive definite; the
/// loss's own errors at a start.
pub fn fit(loss: &mut dyn PopulationLoss, scenario: &Scenario, settings: &FitSettings, seed: u64) -> Result<FitReport> {
    gmm_core::check_at_least(
        settings.random_starts,
        1,
        "random starts of a verdict fit (they set its gradient scale)",
    )?;
    gmm_core::check_positive(settings.agreement_rtol, "agreement tolerance of a verdict fit")?;
    gmm_core::check_positive(settings.gradient_rtol, "gradient tolerance of a verdict fit")?;
    let (r, d) = (scenario.r, scenario.gmm.dim());
    let w = spd_inv_sqrt(&scenario.views.cov_left())?;
    let whitened_cross = symmetrize(&(&w * scenario.views.cross_covariance() * &w));
    let (_, vectors) = sym_eig_desc(&whitened_cross)?;
    let mut starts = vec![vectors.columns(0, r).transpose()];
    let mut rng = seeded(seed);
    for _ in 0..settings.random_starts {
        starts.push(gaussian_matrix(r, d, &mut rng) / (d as f64).sqrt());
    }
    let mut cost = Reparametrised { loss, scenario, w: &w, grad_a: DMatrix::zeros(r, d) };
    // The problem's gradient scale: the mean of ||dL/dB|| ||B|| at the random starts.
    let mut scale = 0.0;
    for start in &starts[1..] {
        scale += subgradient(&mut cost, start, &w, scenario)?.norm() * start.norm() / settings.random_starts as f64;
    }
    let mut best: Option<(f64, DMatrix<f64>, f64)> = None;
    let mut start_values = Vec::with_capacity(starts.len());
    let mut ends: Vec<DMatrix<f64>> = Vec::with_capacity(starts.len());
    let agreeing = |values: &[f64], best: f64| {
        values.iter().filter(|v| (*v - best).abs() <= settings.agreement_rtol * best.abs().max(1e-300)).count()
    };
    // The planned starts, then further random ones (at most `extra_starts`) while fewer than two
    // agree on the best value: a landscape with several nearby minima needs more draws to
    // confirm its lowest one.
    let planned = starts.len();
    let (mut first_error, mut failed_starts) = (None, 0);
    let mut queue = starts.into_iter();
    loop {
        let start = match queue.next() {
            Some(s) => s,
            None if start_values.len() < planned + settings.extra_starts
                && best.as_ref().is_none_or(|(v, _, _)| agreeing(&start_values, *v) < 2) =>
            {
                gaussian_matrix(r, d, &mut rng) / (d as f64).sqrt()
            }
            None => break,
        };
        // A start where the loss cannot be evaluated (e.g. InfoNCE's projected covariance
        // singular at a degenerate eigen configuration) is skipped; the first such error is
        // returned when no start succeeds.
        let (value, b, relative) = match descend(&mut cost, start.clone(), settings, scale, &w, scenario) {
            Ok(end) => end,
            Err(e) => {
                first_error.get_or_insert(e);
                failed_starts += 1;
                (f64::NAN, start, f64::INFINITY)
            }
        };
        start_values.push(value);
        ends.push(b.clone());
        if value.is_finite() && best.as_ref().is_none_or(|(v, _, _)| value < *v) {
            best = Some((value, b, relative));
        }
    }
    let Some((value, b, relative)) = best else {
        return Err(
            first_error.unwrap_or(gmm_core::GmmError::NoConvergence { what: "every start of the verdict fit" }.into())
        );
    };
    let bound = match cost.loss.symmetries(&b) {
        Some(generators) if cost.loss.kinks(&(&b * &w), scenario)?.is_empty() => {
            let tangents: Vec<Vec<DMatrix<f64>>> = generators.iter().map(|e| vec![e * &b]).collect();
            let g = subgradient(&mut cost, &b, &w, scenario)?.norm();
            // A curvature that cannot be computed (the loss failing at a difference step) is no
            // bound: the verdict then says it is unbounded.
            smallest_curvature(&mut cost, std::slice::from_ref(&b), &tangents)
                .ok()
                .map(|c| FitBound { curvature: c.smallest, distance: (c.smallest > 0.0).then(|| g / c.smallest) })
        }
        _ => None,
    };
    // A discretised loss's replicate refitted from the best map; when that refit fails, the
    // discretisation's floor is unknown and the fit is not certified.
    let (replicate, replicate_failed) = match cost.loss.replicate() {
        Some(mut twin) => {
            let mut twin_cost = Reparametrised { loss: twin.as_mut(), scenario, w: &w, grad_a: DMatrix::zeros(r, d) };
            match descend(&mut twin_cost, b.clone(), settings, scale, &w, scenario) {
                Ok((_, other, _)) => (Some(other * &w), false),
                Err(_) => (None, true),
            }
        }
        None => (None, false),
    };
    let agreeing_starts = agreeing(&start_values, value);
    let certified = relative <= settings.gradient_rtol && agreeing_starts >= 2 && !replicate_failed;
    let tol = settings.agreement_rtol * value.abs().max(1e-300);
    let agreeing_maps =
        start_values.iter().zip(ends).filter(|(v, _)| (*v - value).abs() <= tol).map(|(_, e)| &e * &w).collect();
    Ok(FitReport {
        map: &b * &w,
        whitened: b,
        value,
        relative_gradient: relative,
        start_values,
        agreeing_starts,
        agreeing_maps,
        certified,
        bound,
        replicate,
        failed_starts,
    })
}
