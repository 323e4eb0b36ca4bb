//! Bring your own loss: the verdict on any batch objective ([`ssl_losses::Objective`], one shared
//! encoder `A`, `r x d`) from pairs drawn from a scenario's augmentation.
//!
//! A loss written by a user has no population form the harness knows, so it is minimised on a
//! sample: `n` pairs drawn from the augmentation, split into fixed consecutive batches, the loss
//! the mean over the batches (`L(A) = (1/m) sum_b loss(A, X_b, X+_b)`, its gradient likewise).
//! The fit is the population harness's ([`crate::fit`]: the eigen configuration and random
//! starts, the reparametrisation `A = B W`, the relative-gradient certificate, agreeing starts),
//! and its sampling floor is measured, not assumed: the same loss on an independent sample of
//! the same size is refitted from the best map ([`crate::PopulationLoss::replicate`]), and
//! every subspace comparison uses at least three times the distance between the two minimisers
//! (each carries an error `~ n^{-1/2}`, their distance about `sqrt 2` times it).
//!
//! A sample's floor can be large enough that `F` and a wrong subspace both lie within it; the
//! verdict is then not resolved ([`SampleVerdict::separated`]): the nearest other candidate
//! (the runner-up, quoted in every verdict) must lie beyond the tolerance.
//!
//! The gradient is checked, not trusted: central finite differences along the gradient's own
//! direction and random directions, at the fit's first random start (iteration 0) and at the
//! fitted map, and the verdict is refused ([`LossError::GradientMismatch`]) above
//! [`SampleSettings::check_rtol`]. Any failure of the objective ends the verdict with an error
//! naming the phase, the evaluation and the batch ([`LossError::Objective`]).

use std::cell::RefCell;

use gmm_core::linalg::spd_inv_sqrt;
use gmm_core::nalgebra::DMatrix;
use gmm_core::rand::RngExt;
use gmm_core::{Gmm, MixtureGenerator, Subspace, check_at_least, check_positive, gaussian_matrix, seeded, stable_hash};
use ssl_losses::{Batch, LossError, Objective, Result};

use crate::classify::{ClassifySettings, Outcome, Verdict, Yardstick, classify};
use crate::fit::{FitSettings, fit};
use crate::loss::{PopulationLoss, Scenario};

/// How a verdict from a sample is made.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SampleSettings {
    /// Pairs drawn (default 8192); the replicate draws as many again.
    pub pairs: usize,
    /// Pairs per batch (default 256; a last partial batch is dropped, so that every batch has
    /// the same number of negatives).
    pub batch: usize,
    /// Random directions of the gradient check, besides the gradient's own (default 4).
    pub check_directions: usize,
    /// The largest relative disagreement with finite differences a verdict accepts (default
    /// 1e-4): a correct float64 gradient measures below 1e-6 (measured 1e-11 to 3e-7), one computed in float32
    /// about 1e-3 (the difference's rounding, `eps_32 / 1e-5`), one off by a factor `1 + e`
    /// measures `e / (1 + e)`.
    pub check_rtol: f64,
    /// The fit ([`FitSettings::default`]).
    pub fit: FitSettings,
    /// The classification; its `bound_max` (default here 0.5) caps the sampling floor at which an
    /// outcome is named, the runner-up rule ([`SampleVerdict::separated`]) guarding the rest (a
    /// floor near 1 could not separate anything: every `sin` is at most 1).
    pub classify: ClassifySettings,
}

impl Default for SampleSettings {
    fn default() -> Self {
        Self {
            pairs: 8192,
            batch: 256,
            check_directions: 4,
            check_rtol: 1e-4,
            fit: FitSettings::default(),
            classify: ClassifySettings { bound_max: 0.5, ..ClassifySettings::default() },
        }
    }
}

/// The gradient check of a verdict from a sample: the largest relative disagreement between the
/// analytic directional derivative and central finite differences.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GradientCheck {
    /// At the fit's first random start (iteration 0).
    pub at_start: f64,
    /// At the fitted map.
    pub at_fit: f64,
    /// The tolerance ([`SampleSettings::check_rtol`]).
    pub tolerance: f64,
}

/// The verdict on a loss from a sample ([`sample_verdict`]).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SampleVerdict {
    /// The objective's name.
    pub loss: String,
    /// The classification of the certified fit (its tolerance includes the sampling floor).
    pub verdict: Verdict,
    /// The gradient check.
    pub gradient_check: GradientCheck,
    /// The nearest candidate (`F` or a yardstick) other than the outcome's own (and those equal
    /// to it in the population), with its `sin theta_max` to the fit: the nearest wrong answer.
    pub runner_up: Option<(String, f64)>,
    /// The runner-up lies beyond the tolerance: the outcome is the only candidate the sample
    /// supports.
    pub separated: bool,
    /// Pairs per sample.
    pub pairs: usize,
    /// Full evaluations of the loss (each `pairs / batch` calls of the objective).
    pub evaluations: usize,
    /// Calls of the objective.
    pub calls: usize,
}

impl SampleVerdict {
    /// A verdict: the fit certified, the rank resolved, the tolerance within `bound_max` for a
    /// named outcome ([`Verdict::resolved`]), and the runner-up beyond it.
    pub fn resolved(&self, settings: &ClassifySettings) -> bool {
        self.verdict.resolved(settings) && self.separated
    }

    /// The outcome as tables name it (`F`, `collapsed in F`, the matching yardsticks, `none
    /// (nearest ...)`).
    pub fn outcome_name(&self) -> String {
        crate::zoo::outcome_key(&self.verdict)
    }
}

/// What the sample losses share: the objective and the record of its calls.
struct Shared<'o> {
    objective: &'o mut dyn Objective,
    evaluations: usize,
    calls: usize,
    /// The first failure: every later evaluation returns it at once.
    failure: Option<LossError>,
}

/// A batch objective on a fixed sample, as a [`PopulationLoss`].
struct OnSample<'s, 'o> {
    shared: &'s RefCell<Shared<'o>>,
    batches: &'s [(DMatrix<f64>, DMatrix<f64>)],
    /// The independent sample of the replicate (`None` for the replicate itself).
    twin: Option<&'s [(DMatrix<f64>, DMatrix<f64>)]>,
    phase: &'static str,
}

impl OnSample<'_, '_> {
    fn evaluate(&self, a: &DMatrix<f64>, grad: &mut DMatrix<f64>, phase: &str) -> Result<f64> {
        let mut shared = self.shared.borrow_mut();
        if let Some(e) = &shared.failure {
            return Err(e.clone());
        }
        shared.evaluations += 1;
        let evaluation = shared.evaluations;
        let m = self.batches.len();
        let (mut total, mut g) = (0.0, [DMatrix::zeros(a.nrows(), a.ncols())]);
        grad.fill(0.0);
        let params = [a.clone()];
        for (i, (x, x_plus)) in self.batches.iter().enumerate() {
            shared.calls += 1;
            let out = Batch::new(x, x_plus).and_then(|batch| shared.objective.value_grad(&params, batch, &mut g));
            let problem = match out {
                Err(e) => Some(e.to_string()),
                Ok(v) if !v.is_finite() => Some(format!("returned a non-finite loss ({v})")),
                Ok(_) if g[0].shape() != a.shape() => {
                    Some(format!("returned a gradient of shape {:?}, the map's is {:?}", g[0].shape(), a.shape()))
                }
                Ok(_) if g[0].iter().any(|v| !v.is_finite()) => Some("returned a non-finite gradient".to_string()),
                Ok(v) => {
                    total += v;
                    *grad += &g[0];
                    None
                }
            };
            if let Some(why) = problem {
                let e = LossError::Objective(format!(
                    "the loss failed in {phase}, evaluation {evaluation} (call {}, batch {} of {m}): {why}",
                    shared.calls,
                    i + 1
                ));
                shared.failure = Some(e.clone());
                return Err(e);
            }
        }
        *grad /= m as f64;
        Ok(total / m as f64)
    }
}

impl PopulationLoss for OnSample<'_, '_> {
    fn name(&self) -> String {
        self.shared.borrow().objective.name().to_string()
    }

    fn value_grad(&mut self, a: &DMatrix<f64>, _scenario: &Scenario, grad: &mut DMatrix<f64>) -> Result<f64> {
        self.evaluate(a, grad, self.phase)
    }

    fn replicate(&self) -> Option<Box<dyn PopulationLoss + '_>> {
        let batches = self.twin?;
        Some(Box::new(OnSample {
            shared: self.shared,
            batches,
            twin: None,
            phase: "the refit on an independent sample (the sampling floor)",
        }))
    }
}

/// The step of the gradient check, relative to the whitened map's norm.
const CHECK_STEP: f64 = 1e-5;

/// The largest relative disagreement between `<dL/dB, U>` and its central difference over the
/// directions `U` (the gradient's own, then `directions` random ones, unit norm) at the
/// whitened map `b`, with the step `h = CHECK_STEP max(||B||, 1)`, relative to
/// `max(|analytic|, |difference|, ||dL/dB||, 1e-3 |L| / s, 1e-3 scale / s)`, `s = max(||B||, 1)`.
/// Where the gradient vanishes (at a fitted map) the derivative's natural units are `|L| / s` and
/// the problem's gradient scale `scale / s` (`scale = ||dL/dB|| s` at the first start, the
/// certificate's convention); the last two terms keep the rounding of the difference out of the
/// measure, whether it is `eps |L| / h` or set by terms larger than `|L|` that cancel in it
/// (Barlow Twins' `(1 - C_jj)^2` near its minimum): relative `~ eps / (1e-3 CHECK_STEP) = 2e-8`.
/// A correct float64 gradient measures below 1e-6 (measured 1e-11 to 3e-7); one scaled by `1 + e` measures
/// `e / (1 + e)` along its own direction. Returns the disagreement and `||dL/dB|| s` here.
fn disagreement(
    loss: &OnSample<'_, '_>,
    b: &DMatrix<f64>,
    w: &DMatrix<f64>,
    (directions, seed): (usize, u64),
    scale: Option<f64>,
    phase: &str,
) -> Result<(f64, f64)> {
    let mut grad = DMatrix::zeros(b.nrows(), w.ncols());
    let value = loss.evaluate(&(b * w), &mut grad, phase)?;
    let grad_b = &grad * w.transpose();
    let (norm, size) = (grad_b.norm(), b.norm().max(1.0));
    let here = norm * size;
    let natural = value.abs().max(scale.unwrap_or(here)) / size;
    let (h, unit) = (CHECK_STEP * size, norm.max(1e-3 * natural).max(f64::MIN_POSITIVE));
    let mut rng = seeded(seed);
    let mut units = Vec::with_capacity(directions + 1);
    if norm > 0.0 {
        units.push(&grad_b / norm);
    }
    for _ in 0..directions {
        let u = gaussian_matrix(b.nrows(), b.ncols(), &mut rng);
        units.push(&u / u.norm().max(f64::MIN_POSITIVE));
    }
    let mut worst = 0.0f64;
    let mut scratch = DMatrix::zeros(b.nrows(), w.ncols());
    for u in &units {
        let analytic = grad_b.dot(u);
        let up = loss.evaluate(&((b + u * h) * w), &mut scratch, phase)?;
        let down = loss.evaluate(&((b - u * h) * w), &mut scratch, phase)?;
        let difference = (up - down) / (2.0 * h);
        worst = worst.max((analytic - difference).abs() / analytic.abs().max(difference.abs()).max(unit));
    }
    Ok((worst, here))
}

/// The runner-up of a verdict: the nearest of `F` and the defined yardsticks to the fit, leaving
/// out the outcome's own subspace and those equal to it (or, dimensions differing, inside it or
/// containing it) in the population within `subspace_tol`; and whether it lies beyond the
/// tolerance (always, for an outcome that names no subspace).
fn runner_up(v: &Verdict, scenario: &Scenario, settings: &ClassifySettings) -> Result<(Option<(String, f64)>, bool)> {
    let fisher = scenario.whiten(&scenario.gmm.fisher_subspace()?)?;
    let population = |y: Yardstick| -> Result<Option<Subspace>> {
        y.subspace(scenario, v.rank.max(1))?.map(|s| scenario.whiten(&s)).transpose()
    };
    // The outcome's own subspace in the population, and the candidates it names.
    let own: Option<Subspace> = match v.outcome {
        Outcome::Fisher | Outcome::ContainsFisher { .. } | Outcome::Collapsed { .. } => Some(fisher.clone()),
        Outcome::Spectral { yardstick } => population(yardstick)?,
        Outcome::NotUnique | Outcome::NotFisher | Outcome::Other => None,
    };
    let mut candidates = vec![("F".to_string(), v.containment(), Some(fisher))];
    for &(y, sin) in &v.yardsticks {
        candidates.push((y.name().to_string(), sin, population(y)?));
    }
    let mut best: Option<(String, f64)> = None;
    for (name, sin, subspace) in candidates {
        let same = match (&own, &subspace) {
            // Equal subspaces, or (dimensions differing) one inside the other: a collapsed map's
            // top-rank CCA direction inside `F` is consistent with "collapsed in F".
            (Some(o), Some(s)) => o.sin_theta_max(s)? <= settings.subspace_tol,
            _ => false,
        };
        if !same && best.as_ref().is_none_or(|(_, b)| sin < *b) {
            best = Some((name, sin));
        }
    }
    let separated = own.is_none() || best.as_ref().is_none_or(|(_, sin)| *sin > v.tolerance);
    Ok((best, separated))
}

/// The sample of `n` pairs of `scenario` for `stream`, split into batches of `batch`.
fn batches(scenario: &Scenario, n: usize, batch: usize, stream: String) -> Result<Vec<(DMatrix<f64>, DMatrix<f64>)>> {
    let pairs = scenario.augmentation.sample(&scenario.gmm, n, &mut seeded(stable_hash(stream.as_bytes())))?;
    Ok((0..n / batch)
        .map(|i| (pairs.x.rows(i * batch, batch).into_owned(), pairs.x_plus.rows(i * batch, batch).into_owned()))
        .collect())
}

/// The verdict on `objective` for `scenario` from a sample (module docs): `settings.pairs` pairs
/// from the augmentation (seeded by `seed`), the gradient checked at the first random start,
/// the fit ([`crate::fit`], starts seeded by `seed`), the gradient checked at the fit, the
/// sampling floor from an independent sample, and the classification with its runner-up.
///
/// # Errors
/// Settings out of range (a batch of at least 2 pairs, at least one batch, a positive
/// tolerance); an objective with more than one parameter block (the harness fits one encoder
/// `A`); [`LossError::GradientMismatch`]; [`LossError::Objective`] for any failure of the
/// objective (its error, a non-finite value or gradient, a wrong shape), naming the phase, the
/// evaluation and the batch; the fit's and the classification's errors.
pub fn sample_verdict(
    objective: &mut dyn Objective,
    scenario: &Scenario,
    settings: &SampleSettings,
    seed: u64,
) -> Result<SampleVerdict> {
    check_at_least(settings.batch, 2, "pairs per batch")?;
    check_at_least(settings.pairs, settings.batch, "pairs of a verdict from a sample (at least a batch)")?;
    check_positive(settings.check_rtol, "tolerance of the gradient check")?;
    let (r, d) = (scenario.r, scenario.gmm.dim());
    let shapes = objective.block_shapes(r, d, d);
    if shapes != [(r, d)] {
        return Err(LossError::Objective(format!(
            "the harness fits one shared encoder A ({r} x {d}); this objective's parameter blocks are {shapes:?}"
        )));
    }
    budget(settings.pairs, d)?;
    let own = batches(scenario, settings.pairs, settings.batch, format!("own-loss/{seed}/sample"))?;
    let twin = batches(scenario, settings.pairs, settings.batch, format!("own-loss/{seed}/replicate"))?;
    let shared = RefCell::new(Shared { objective, evaluations: 0, calls: 0, failure: None });
    let mut loss = OnSample { shared: &shared, batches: &own, twin: Some(&twin), phase: "the fit" };
    let w = spd_inv_sqrt(&scenario.views.cov_left())?;
    let refuse = |error: f64, at: &'static str| -> Result<()> {
        if error.is_nan() || error > settings.check_rtol {
            return Err(LossError::GradientMismatch { error, at, tolerance: settings.check_rtol });
        }
        Ok(())
    };
    // The fit's first random start (the eigen configuration comes first, then these draws).
    let start = gaussian_matrix(r, d, &mut seeded(seed)) / (d as f64).sqrt();
    let directions = (settings.check_directions, stable_hash(format!("own-loss/{seed}/check").as_bytes()));
    let phase = "the gradient check at the first random start (iteration 0)";
    let (at_start, scale) = disagreement(&loss, &start, &w, directions, None, phase)?;
    refuse(at_start, "the first random start (iteration 0)")?;
    let fitted = fit(&mut loss, scenario, &settings.fit, seed);
    if let Some(e) = shared.borrow().failure.clone() {
        return Err(e);
    }
    let fitted = fitted?;
    let phase = "the gradient check at the fitted map";
    let (at_fit, _) = disagreement(&loss, &fitted.whitened, &w, directions, Some(scale), phase)?;
    refuse(at_fit, "the fitted map")?;
    let name = loss.name();
    let verdict = classify(fitted, scenario, &settings.classify)?;
    let (runner_up, separated) = runner_up(&verdict, scenario, &settings.classify)?;
    let Shared { evaluations, calls, .. } = shared.into_inner();
    Ok(SampleVerdict {
        loss: name,
        verdict,
        gradient_check: GradientCheck { at_start, at_fit, tolerance: settings.check_rtol },
        runner_up,
        separated,
        pairs: settings.pairs,
        evaluations,
        calls,
    })
}

/// The two samples' pairs fit the memory budget.
fn budget(pairs: usize, d: usize) -> Result<()> {
    Ok(gmm_core::budget::check_memory("pairs of a verdict from a sample", &[pairs, 4 * d])?)
}

/// Mixture `i` of the family of verdicts from samples at master seed `seed`: `k` cycling 3..5,
/// `d` in 6..12, means at separation 2, condition `10^u`, `u` in [0.5, 1.5], every third with a
/// dominant noise direction (a PCA trap). The zoo's family ([`crate::family_mixture`]: separation
/// 1, condition up to 1e3) is a population family: on 8192 pairs its weakest Fisher directions
/// are below the sampling floor (measured: InfoNCE's sample minimiser 0.16-0.28 from `F` at
/// 32768 pairs), so few of its verdicts from samples resolve.
///
/// # Errors
/// None for these parameters (the generator's own checks).
pub fn sample_family_mixture(seed: u64, i: usize) -> Result<Gmm> {
    let mut rng = seeded(stable_hash(format!("own-loss-family/{seed}/{i}").as_bytes()));
    let k = 3 + i % 3;
    let d = rng.random_range(6..=12);
    let condition = 10f64.powf(rng.random_range(0.5..=1.5));
    let mut generator = MixtureGenerator::isotropic(k, d).separation(2.0).condition(condition);
    if i.is_multiple_of(3) {
        generator = generator.noise_direction(4.0);
    }
    Ok(generator.generate(&mut rng)?)
}
