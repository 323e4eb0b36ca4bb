//! L-BFGS, the solver of deterministic costs ([`Cost`]): [`Lbfgs::minimize`] drives a cost to a
//! point whose gradient norm, relative to the gradient norm at the start, is below a stated
//! tolerance, and returns the [`Certificate`] that says so (or that it did not get there) in
//! its [`Run`].
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
//! let out = Lbfgs::default().minimize(&mut cost, vec![DMatrix::zeros(1, 2)], &mut ())?;
//! let certificate = out.run.certificate.expect("L-BFGS certifies");
//! assert!(certificate.converged);
//! // The Hessian is diag(2, 20): the distance to the minimiser is at most ||grad|| / 2.
//! let err = ((out.params[0][0] - 3.0).powi(2) + (out.params[0][1] + 1.0).powi(2)).sqrt();
//! assert!(err <= certificate.grad_norm / 2.0 + 1e-15);
//! # Ok::<(), ssl_losses::LossError>(())
//! ```

use std::time::Instant;

use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{GmmError, check_at_least, check_finite, check_positive};

use crate::certificate::Certificate;
use crate::cost::Cost;
use crate::error::{LossError, Result};
use crate::line_search::{Line, Point, StrongWolfe, flatten, unflatten};
use crate::observe::{Observer, Progress};
use crate::outcome::{Ending, Run, Trained};
use crate::scalar::{Real, to_f64};

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

    /// Minimises `cost` from `params`. The observer sees each iteration and may stop the run
    /// after any (e.g. on a user's interrupt): the result is then the last iterate, with the
    /// certificate evaluated there (not converged, unless the tolerance happened to be met).
    ///
    /// # Errors
    /// Invalid settings; non-finite initial parameters; the cost's errors; a non-finite cost or
    /// gradient ([`LossError::Diverged`], naming the iteration).
    pub fn minimize<T: Real>(
        &self,
        cost: &mut dyn Cost<T>,
        mut params: Vec<DMatrix<T>>,
        observer: &mut dyn Observer<T>,
    ) -> Result<Trained<T>> {
        self.validate()?;
        for p in &params {
            check_finite(p, "initial parameters")?;
        }
        let clock = Instant::now();
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
        let mut ending = if g0 > 0.0 { Ending::BudgetSpent } else { Ending::StationaryStart };
        let search = StrongWolfe { c1: self.c1, c2: self.c2, max_evals: self.max_line_evals };
        observer.start(&params);
        while iterations < self.max_iters && g0 > 0.0 {
            if g.norm() <= self.grad_rtol * g0 {
                ending = Ending::GradTol;
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
            let found = search.search(&mut line, &start)?;
            evaluations += line.evaluations;
            let Some(next) = found else {
                if history.is_empty() {
                    ending = Ending::NoDecrease; // no decrease possible even along -g
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
            let progress = Progress {
                iteration: iterations - 1,
                loss: f,
                grad_norm: g.norm(),
                grad_norm_start: g0,
                step_size: next.t,
            };
            unflatten(&x, &mut params);
            if observer.iteration(&progress, &params).is_break() {
                ending = Ending::Interrupted;
                break;
            }
        }
        if ending == Ending::BudgetSpent && g.norm() <= self.grad_rtol * g0 {
            ending = Ending::GradTol; // reached on the last iteration
        }
        unflatten(&x, &mut params);
        let certificate = Some(Certificate::new(g.norm(), g0, self.grad_rtol));
        observer.end(ending);
        let seconds = clock.elapsed().as_secs_f64();
        Ok(Trained { params, run: Run { losses, iterations, evaluations, seconds, ending, certificate } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::FnCost;

    fn cert<T: Real>(out: &Trained<T>) -> Certificate {
        out.run.certificate.expect("L-BFGS always certifies")
    }

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
            let out = solver.minimize(&mut cost, vec![start], &mut ()).unwrap();
            assert!(cert(&out).converged, "dim {dim}: {:?}", cert(&out));
            let err = (out.params[0].clone() - DMatrix::from_element(1, dim, 1.0)).amax();
            assert!(err < 1e-7, "dim {dim}: max error {err:e} after {} iterations", out.run.iterations);
            assert!(out.run.losses.windows(2).all(|w| w[1] <= w[0]), "monotone decrease");
        }
    }

    #[test]
    fn quadratic_reaches_its_known_minimiser() {
        // f(x) = x^T Q x / 2 - b^T x with Q SPD (condition number 1e4): minimiser Q^{-1} b.
        let d = 20;
        let q = DMatrix::from_fn(d, d, |i, j| if i == j { 10f64.powf(4.0 * i as f64 / (d - 1) as f64) } else { 0.0 });
        let rot = gmm_core::random_orthogonal(d, &mut gmm_core::seeded(3));
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
        let out = solver.minimize(&mut cost, vec![DMatrix::zeros(d, 1)], &mut ()).unwrap();
        let got = DVector::from_column_slice(out.params[0].as_slice());
        assert!(cert(&out).converged, "{:?} after {} iterations", cert(&out), out.run.iterations);
        assert!(
            (got - expected).norm() <= cert(&out).grad_norm * (1.0 + 1e-6),
            "after {} iterations",
            out.run.iterations
        );
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
        let out = solver.minimize(&mut cost, vec![DMatrix::<f32>::zeros(6, 1)], &mut ()).unwrap();
        assert!(cert(&out).converged, "{:?}", cert(&out));
        // |x - x*| <= |grad| / w_min = |grad|, plus the f32 rounding of x (|x| <= 5: 6e-7).
        let err = (0..6).map(|i| (f64::from(out.params[0][i]) - i as f64).abs()).fold(0.0, f64::max);
        assert!(err <= cert(&out).grad_norm + 1e-6, "{err} vs {:?}", cert(&out));
    }

    #[test]
    fn budget_exhausted_is_not_converged_and_bad_settings_are_errors() {
        let mut cost = FnCost::new(rosenbrock(2));
        let solver = Lbfgs { max_iters: 3, ..Lbfgs::default() };
        let out = solver.minimize(&mut cost, vec![DMatrix::from_row_slice(1, 2, &[-1.2, 1.0])], &mut ()).unwrap();
        assert_eq!((out.run.iterations, out.run.ending), (3, Ending::BudgetSpent));
        assert!(!cert(&out).converged && cert(&out).relative > cert(&out).tol);
        let done = Lbfgs::default().minimize(&mut cost, vec![DMatrix::from_row_slice(1, 2, &[-1.2, 1.0])], &mut ());
        assert_eq!(done.unwrap().run.ending, Ending::GradTol);
        assert!(Lbfgs { c1: 0.95, ..Lbfgs::default() }.validate().is_err());
        assert!(Lbfgs { memory: 0, ..Lbfgs::default() }.validate().is_err());
        let nan = vec![DMatrix::from_row_slice(1, 2, &[f64::NAN, 1.0])];
        assert!(Lbfgs::default().minimize(&mut cost, nan, &mut ()).is_err());
    }

    #[test]
    fn a_stationary_start_certifies_nothing_and_an_overflowing_one_is_an_error() {
        // Rosenbrock's gradient vanishes at (1, 1): the start is the minimiser, but a zero
        // gradient at a start cannot tell a minimum from a saddle (f = -x^2 + y^2 at 0 alike).
        let mut cost = FnCost::new(rosenbrock(2));
        let out = Lbfgs::default().minimize(&mut cost, vec![DMatrix::from_row_slice(1, 2, &[1.0, 1.0])], &mut ());
        let out = out.unwrap();
        assert_eq!((out.run.iterations, out.run.ending), (0, Ending::StationaryStart));
        assert!(!cert(&out).converged && cert(&out).relative == 1.0, "{:?}", cert(&out));
        let mut saddle = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
            let (x, y) = (p[0][0], p[0][1]);
            g[0][0] = -2.0 * x;
            g[0][1] = 2.0 * y;
            Ok(y * y - x * x)
        });
        let out = Lbfgs::default().minimize(&mut saddle, vec![DMatrix::zeros(1, 2)], &mut ()).unwrap();
        assert!(!cert(&out).converged && out.run.ending == Ending::StationaryStart);
        let mut huge = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
            g[0].fill(1e300);
            Ok(p[0].sum())
        });
        let err = Lbfgs::default().minimize(&mut huge, vec![DMatrix::zeros(1, 4)], &mut ()).unwrap_err();
        assert!(err.to_string().contains("overflows"), "{err}");
    }
}
