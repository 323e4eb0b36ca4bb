//! A verdict from samples where a loss has no population form: InfoNCE on masked views (a mask
//! makes a view a mixture over `2^d` masks, not a Gaussian mixture, so the quadrature of
//! [`ssl_losses::InfoNceViewPopulation`] does not apply, and zoo.md found Monte Carlo population
//! objectives too noisy to resolve the minimiser).
//!
//! What a sample can decide is whether the minimiser lies in `F`: if it does, the best map whose
//! rows lie in `F` (`A = M W_F`, `W_F` a basis of the population Fisher subspace, `M` free) does
//! as well as the unrestricted fit on fresh pairs; if it does not, the restricted map's
//! population loss is higher by a fixed gap. Both maps are fitted to their certificate on the
//! same training pairs and batch partition ([`ssl_losses::InfoNce`]); their losses are compared on
//! independent held-out pairs, batch by batch (the same in-batch negatives for both maps), by a
//! one-sided paired t-test. Overfitting favours the restricted map (fewer parameters), so it
//! biases the test towards keeping `F`, never towards rejecting it.

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Fit, check_at_least, check_positive, seeded, stable_hash};
use ssl_losses::{Batch, Form, InfoNce, InfoNceLoss, LossError, Objective, Result, Score};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::Statistics;

use crate::classify::{ClassifySettings, Outcome, Verdict, classify};
use crate::fit::FitReport;
use crate::loss::Scenario;

/// The sample design of [`fisher_gap`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HeldOutSettings {
    /// Training pairs (default 4096).
    pub pairs: usize,
    /// Held-out pairs (default 16384).
    pub held_out: usize,
    /// Pairs per batch, in training and held out (default 256: 64 held-out batches).
    pub batch: usize,
    /// The one-sided test's level (default 1e-3): the probability of rejecting `F` when the
    /// restricted map is as good as the unrestricted one on fresh pairs.
    pub level: f64,
}

impl Default for HeldOutSettings {
    fn default() -> Self {
        Self { pairs: 4096, held_out: 16_384, batch: 256, level: 1e-3 }
    }
}

/// The held-out comparison of the unrestricted InfoNCE fit with the best fit inside `F`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FisherGap {
    /// The sample design.
    pub settings: HeldOutSettings,
    /// Held-out batches compared.
    pub batches: usize,
    /// Both fits certified (relative gradient at their L-BFGS tolerance).
    pub certified: bool,
    /// The larger of the two fits' relative gradients.
    pub relative_gradient: f64,
    /// The unrestricted fit's gradient norm at its end (its preconditioned coordinates).
    pub grad_norm: f64,
    /// The unrestricted map (`r x d`, raw coordinates).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub map: DMatrix<f64>,
    /// Mean held-out loss of the unrestricted fit.
    pub loss: f64,
    /// Mean held-out loss of the best fit inside `F`.
    pub restricted_loss: f64,
    /// The training losses' difference, restricted minus unrestricted (at least 0 up to the
    /// certificates' tolerance: the restricted maps are a subset).
    pub training_gap: f64,
    /// The mean held-out difference per batch, restricted minus unrestricted (nats).
    pub gap: f64,
    /// Its standard error (the batches' differences' sample standard deviation over
    /// `sqrt(batches)`).
    pub standard_error: f64,
    /// `gap / standard_error`.
    pub t: f64,
    /// One-sided p-value of "no gap" against "the restricted map is worse" (Student t with
    /// `batches - 1` degrees of freedom).
    pub p_value: f64,
    /// The t above which the test rejects at its level.
    pub critical_t: f64,
    /// `sin theta_max` between the unrestricted map's row space and `F` (raw coordinates): a
    /// sample fit's, so it carries sampling error.
    pub sin_to_fisher: f64,
}

impl FisherGap {
    /// Whether the test rejects "the minimiser lies in `F`": both fits certified and the p-value
    /// at most the level.
    pub fn rejects_fisher(&self) -> bool {
        self.certified && self.p_value <= self.settings.level
    }
}

/// Fits InfoNCE (temperature `tau`, in-batch negatives) on pairs of `scenario` drawn from its
/// augmentation, unrestricted and with its rows in `F`, and compares the two on held-out pairs
/// (module docs). `seed` seeds the pairs and the starts.
///
/// # Errors
/// Settings out of range (at least 2 pairs per batch, at least 2 held-out batches, a level in
/// `(0, 1)`); `r` above `dim F` (no map of rank `r` has its rows in `F`:
/// [`LossError::WrongModel`]); the fits' errors.
pub fn fisher_gap(scenario: &Scenario, tau: f64, settings: &HeldOutSettings, seed: u64) -> Result<FisherGap> {
    check_positive(tau, "temperature tau")?;
    check_at_least(settings.batch, 2, "pairs per batch")?;
    check_at_least(settings.pairs, settings.batch, "training pairs (at least a batch)")?;
    check_at_least(settings.held_out, 2 * settings.batch, "held-out pairs (at least two batches)")?;
    if !(settings.level > 0.0 && settings.level < 1.0) {
        return Err(gmm_core::GmmError::out_of_range("test level", settings.level, "in (0, 1)").into());
    }
    let (gmm, r) = (&scenario.gmm, scenario.r);
    let fisher = gmm.fisher_subspace()?;
    if r > fisher.dim() {
        return Err(LossError::WrongModel("no map of rank r has its rows in F: r exceeds dim F"));
    }
    // Rows in `F`: the inputs projected on an orthonormal basis of it (`d x dim F`).
    let basis = fisher.basis();
    let draw = |n: usize, stream: &str| {
        let mut rng = seeded(stable_hash(format!("held-out/{seed}/{stream}").as_bytes()));
        scenario.augmentation.sample(gmm, n, &mut rng)
    };
    let (train, test) = (draw(settings.pairs, "train")?, draw(settings.held_out, "test")?);
    let infonce = InfoNce::new(r).tau(tau).batch(settings.batch).seed(seed);
    let full = infonce.fit((&train.x, &train.x_plus))?;
    let restricted = infonce.fit((&(&train.x * basis), &(&train.x_plus * basis)))?;
    // Each map's outputs on the held-out pairs (its own centring), scored by InfoNCE on them.
    let scored = |fit: &ssl_losses::InfoNceFit, x: &DMatrix<f64>, x_plus: &DMatrix<f64>| {
        batch_losses(tau, (fit.map.transform(x)?, fit.map.transform(x_plus)?), settings.batch)
    };
    let full_losses = scored(&full, &test.x, &test.x_plus)?;
    let restricted_losses = scored(&restricted, &(&test.x * basis), &(&test.x_plus * basis))?;
    let differences: Vec<f64> = restricted_losses.iter().zip(&full_losses).map(|(a, b)| a - b).collect();
    let b = differences.len() as f64;
    let gap = differences.iter().mean();
    let standard_error = differences.iter().std_dev() / b.sqrt();
    let t = gap / standard_error.max(f64::MIN_POSITIVE);
    let dist = StudentsT::new(0.0, 1.0, b - 1.0)
        .map_err(|_| LossError::WrongModel("the held-out batches leave no degrees of freedom"))?;
    let (p_value, critical_t) = (dist.sf(t), dist.inverse_cdf(1.0 - settings.level));
    let sin_to_fisher = full.map.row_space()?.sin_theta_max(&fisher)?;
    Ok(FisherGap {
        settings: *settings,
        batches: differences.len(),
        certified: full.run.converged() && restricted.run.converged(),
        relative_gradient: [&full.run, &restricted.run]
            .iter()
            .map(|run| run.certificate.map_or(f64::INFINITY, |c| c.relative))
            .fold(0.0, f64::max),
        grad_norm: full.run.certificate.map_or(f64::INFINITY, |c| c.grad_norm),
        map: full.map.components().clone(),
        loss: full_losses.iter().mean(),
        restricted_loss: restricted_losses.iter().mean(),
        training_gap: restricted.run.loss() - full.run.loss(),
        gap,
        standard_error,
        t,
        p_value,
        critical_t,
        sin_to_fisher,
    })
}

/// InfoNCE (one-way, dot score) of outputs `(z, z+)` on each consecutive batch of `batch` pairs
/// (a last partial batch dropped: every batch has the same number of negatives).
fn batch_losses(tau: f64, (z, z_plus): (DMatrix<f64>, DMatrix<f64>), batch: usize) -> Result<Vec<f64>> {
    let r = z.ncols();
    let identity = [DMatrix::identity(r, r)];
    let mut grad = [DMatrix::zeros(r, r)];
    let mut loss = InfoNceLoss::<f64>::new(tau, Form::OneWay, Score::Dot)?;
    (0..z.nrows() / batch)
        .map(|i| {
            let rows = |m: &DMatrix<f64>| m.rows(i * batch, batch).into_owned();
            loss.value_grad(&identity, Batch::new(&rows(&z), &rows(&z_plus))?, &mut grad)
        })
        .collect()
}

/// The verdict on InfoNCE (temperature `tau`) where its population form does not apply: the
/// unrestricted sample fit's geometry ([`classify`]: rank, `sin` to `F` and to the yardsticks,
/// all carrying sampling error) with the outcome decided by [`fisher_gap`]'s test alone:
/// [`Outcome::NotFisher`] when it rejects `F`, else [`Outcome::Other`] and unresolved (a sample
/// cannot certify a minimiser here). Its tolerance is 1: no subspace is matched within a
/// sample's error.
///
/// # Errors
/// As [`fisher_gap`] and [`classify`].
pub fn held_out_verdict(
    scenario: &Scenario,
    tau: f64,
    held_out: &HeldOutSettings,
    settings: &ClassifySettings,
    seed: u64,
) -> Result<Verdict> {
    let gap = fisher_gap(scenario, tau, held_out, seed)?;
    let report = FitReport {
        map: gap.map.clone(),
        whitened: &gap.map * scenario.unwhitening()?,
        value: gap.loss,
        relative_gradient: gap.relative_gradient,
        start_values: vec![gap.loss],
        failed_starts: 0,
        agreeing_starts: 1,
        agreeing_maps: vec![gap.map.clone()],
        certified: gap.certified,
        bound: None,
        replicate: None,
    };
    let mut verdict = classify(report, scenario, settings)?;
    verdict.outcome = if gap.rejects_fisher() { Outcome::NotFisher } else { Outcome::Other };
    verdict.tolerance = 1.0;
    verdict.held_out = Some(gap);
    Ok(verdict)
}
