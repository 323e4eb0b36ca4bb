//! The streaming executor, split as argmin splits optimisation: the problem is an
//! [`Objective`] (value and gradient on a batch), the solver an [`Optimizer`] (one update), and
//! this module the executor: the loop over batches, the learning-rate schedule, decoupled weight
//! decay, a [`Constraint`] hook applied after every step (e.g. [`crate::RunningWhitening`], the
//! whitening constraint of SimSiam), stopping rules, divergence checks, and an [`Observer`]
//! that sees the parameters and may stop the run.
//!
//! For a certified minimiser of a fixed sample, use the deterministic path instead
//! ([`crate::Lbfgs`], [`crate::InfoNce`]).

use std::time::Instant;

use gmm_core::nalgebra::DMatrix;
use gmm_core::{check_at_least, check_finite, check_non_negative, check_positive, seeded};

use crate::data::PairSource;
use crate::error::{LossError, Result};
use crate::objective::{Batch, Objective, overflow_as_infinite};
use crate::observe::{Observer, Progress};
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::outcome::{Ending, Run, Trained};
use crate::scalar::{Real, from_f64, to_f64};

/// Settings of a training run. Defaults: 2000 steps of Adam at `lr = 0.01` with a cosine
/// schedule (100 warm-up steps, decay to 1% of `lr`), no weight decay, no early stopping.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct TrainConfig {
    /// Maximum number of steps.
    pub steps: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Stop when the gradient's Frobenius norm falls below this.
    pub grad_tol: Option<f64>,
    /// Stop when the mean loss of the last `window` steps improved on the window before by
    /// less than `rel_tol` (relative).
    pub plateau: Option<Plateau>,
    /// Seed of the data stream.
    pub seed: u64,
}

/// Loss-plateau stopping rule.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Plateau {
    /// Window length in steps.
    pub window: usize,
    /// Relative improvement below which training stops.
    pub rel_tol: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 2000,
            lr: 0.01,
            optimizer: OptimizerKind::default(),
            schedule: Schedule::Cosine { warmup: 100, final_fraction: 0.01 },
            weight_decay: 0.0,
            grad_tol: None,
            plateau: None,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks every setting before any work.
    pub fn validate(&self) -> Result<()> {
        check_positive(self.lr, "learning rate")?;
        check_at_least(self.steps, 1, "training steps")?;
        check_non_negative(self.weight_decay, "weight decay")?;
        if let Some(t) = self.grad_tol {
            check_positive(t, "gradient tolerance")?;
        }
        if let Some(p) = self.plateau {
            check_positive(p.rel_tol, "plateau tolerance")?;
            check_at_least(p.window, 1, "plateau window")?;
        }
        Ok(())
    }
}

/// A constraint kept after every step: it sees each batch, then projects the parameters.
pub trait Constraint<T: Real = f64> {
    /// Sees the batch of the step (e.g. to update running statistics). The default ignores it.
    ///
    /// # Errors
    /// A batch the constraint cannot use.
    fn observe_batch(&mut self, _batch: &Batch<'_, T>) -> Result<()> {
        Ok(())
    }

    /// Projects `params` back onto the constraint set.
    ///
    /// # Errors
    /// A projection that is impossible (e.g. a rank-deficient map under whitening).
    fn project(&mut self, params: &mut [DMatrix<T>]) -> Result<()>;
}

/// Trains `params` (initial blocks, shapes as the objective's `block_shapes`) on batches from
/// `source` with the optimizer of `config.optimizer` and no constraint: [`train_with`] for the
/// common case.
///
/// # Errors
/// As [`train_with`].
pub fn train<T: Real>(
    objective: &mut dyn Objective<T>,
    source: &mut dyn PairSource<T>,
    params: Vec<DMatrix<T>>,
    config: &TrainConfig,
    observer: &mut dyn Observer<T>,
) -> Result<Trained<T>> {
    let shapes: Vec<(usize, usize)> = params.iter().map(|p| p.shape()).collect();
    let mut optimizer = config.optimizer.build::<T>(&shapes)?;
    train_with(objective, source, params, config, &mut optimizer, None, observer)
}

/// The executor: trains `params` on batches from `source` with `optimizer` (the learning rate
/// from `config.schedule`, decoupled weight decay `p <- p (1 - lr wd)` before each update), keeps
/// `constraint` after every step, and reports each step to `observer`, which may stop the run.
/// `config.optimizer` is not used here (the optimizer is given). Deterministic given
/// `config.seed`: same seed, same result bit for bit, on any thread count.
///
/// # Errors
/// Invalid settings; shapes; [`LossError::Diverged`] naming the step and the learning rate when
/// the loss or the gradient stops being finite, or when the loss grows beyond the objective's
/// [`Objective::divergence_factor`] times its start (never NaN output).
pub fn train_with<T: Real>(
    objective: &mut dyn Objective<T>,
    source: &mut dyn PairSource<T>,
    mut params: Vec<DMatrix<T>>,
    config: &TrainConfig,
    optimizer: &mut dyn Optimizer<T>,
    mut constraint: Option<&mut dyn Constraint<T>>,
    observer: &mut dyn Observer<T>,
) -> Result<Trained<T>> {
    config.validate()?;
    for (b, p) in params.iter().enumerate() {
        check_finite(p, if b == 0 { "initial map" } else { "initial parameter block" })?;
    }
    let mut grads: Vec<DMatrix<T>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
    let mut rng = seeded(config.seed);
    let mut losses = Vec::new();
    let growth = objective.divergence_factor();
    let norm_start = params_norm(&params);
    let start = Instant::now();
    let mut ending = Ending::BudgetSpent;
    let mut grad_norm_start = f64::NAN;
    observer.start(&params);
    for step in 0..config.steps {
        let lr = config.schedule.lr_at(config.lr, step, config.steps);
        let batch = source.next_batch(&mut rng)?;
        let loss = to_f64(overflow_as_infinite(objective.value_grad(&params, batch, &mut grads))?);
        let last_loss = losses.last().copied().unwrap_or(f64::NAN);
        if !loss.is_finite() {
            return Err(LossError::Diverged { quantity: "loss became non-finite", step, lr, last_loss });
        }
        let grad_norm = grads.iter().map(|g| to_f64(g.norm_squared())).sum::<f64>().sqrt();
        if !grad_norm.is_finite() {
            return Err(LossError::Diverged { quantity: "gradient became non-finite", step, lr, last_loss });
        }
        if let (Some(factor), Some(&first)) = (growth, losses.first())
            && loss > factor * f64::abs(first).max(1.0)
        {
            return Err(LossError::Diverged {
                quantity: "loss grew beyond its divergence factor times its start",
                step,
                lr,
                last_loss,
            });
        }
        if let Some(c) = constraint.as_deref_mut() {
            c.observe_batch(&batch)?;
        }
        losses.push(loss);
        if step == 0 {
            grad_norm_start = grad_norm;
        }
        let info = Progress { iteration: step, loss, grad_norm, grad_norm_start, step_size: lr };
        if config.grad_tol.is_some_and(|t| grad_norm < t) {
            // The run stops here whatever the observer says.
            let _ = observer.iteration(&info, &params);
            ending = Ending::GradTol;
            break;
        }
        if config.weight_decay > 0.0 {
            for p in params.iter_mut() {
                *p *= from_f64::<T>(1.0 - lr * config.weight_decay);
            }
        }
        optimizer.step(&mut params, &grads, lr)?;
        if let Some(c) = constraint.as_deref_mut() {
            c.project(&mut params)?;
        }
        let norm = params_norm(&params);
        if norm.is_nan() || norm > PARAM_DIVERGENCE_FACTOR * norm_start.max(1.0) {
            return Err(LossError::Diverged {
                quantity: "parameters grew beyond 1e3 times max(their start's norm, 1)",
                step,
                lr,
                last_loss,
            });
        }
        if observer.iteration(&info, &params).is_break() {
            ending = Ending::Interrupted;
            break;
        }
        if let Some(p) = config.plateau
            && losses.len() >= 2 * p.window
        {
            let w = p.window as f64;
            let recent: f64 = losses[losses.len() - p.window..].iter().sum::<f64>() / w;
            let before: f64 = losses[losses.len() - 2 * p.window..losses.len() - p.window].iter().sum::<f64>() / w;
            if (before - recent) < p.rel_tol * before.abs().max(f64::MIN_POSITIVE) {
                ending = Ending::Plateau;
                break;
            }
        }
    }
    if params.iter().any(|p| p.iter().any(|v| !v.is_finite())) {
        return Err(LossError::Diverged {
            quantity: "parameters became non-finite",
            step: losses.len(),
            lr: config.lr,
            last_loss: f64::NAN,
        });
    }
    observer.end(ending);
    let (iterations, seconds) = (losses.len(), start.elapsed().as_secs_f64());
    let run = Run { losses, iterations, evaluations: iterations, seconds, ending, certificate: None };
    Ok(Trained { params, run })
}

/// A first-order run diverges when the Frobenius norm of its parameters exceeds this factor
/// times `max(norm at the start, 1)`: the crate's losses train from a small start to maps of
/// singular values O(1), so a thousandfold growth is an exploding step size, not a legitimate
/// run (which can stay finite: measured in docs/theory.md 7).
pub const PARAM_DIVERGENCE_FACTOR: f64 = 1e3;

/// The Frobenius norm of all parameter blocks together (f64).
fn params_norm<T: Real>(params: &[DMatrix<T>]) -> f64 {
    params.iter().map(|p| to_f64(p.norm_squared())).sum::<f64>().sqrt()
}
