//! The streaming executor, split as argmin splits optimisation: the problem is an
//! [`Objective`] (value and gradient on a batch), the solver an [`Optimizer`] (one update), and
//! this module the executor: the loop over batches, the learning-rate schedule, decoupled weight
//! decay, a [`Constraint`] hook applied after every step (e.g. [`RunningWhitening`], the
//! whitening constraint of SimSiam), stopping rules, divergence checks, and an [`Observer`]
//! that sees the parameters and may stop the run.
//!
//! For a certified minimiser of a fixed sample, use the deterministic path instead
//! ([`crate::Lbfgs`], [`crate::InfoNceFit`]).

use std::ops::ControlFlow;
use std::time::Instant;

use gmm_core::seeded;
use nalgebra::DMatrix;

use crate::data::PairSource;
use gmm_core::{GmmError, check_at_least, check_non_negative, check_positive};

use crate::error::{LossError, Result};
use crate::objective::{Batch, Objective, Real, from_f64, to_f64};
use crate::optim::{Optimizer, OptimizerKind, Schedule};

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

/// What the observer sees after each step.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo {
    /// Step index (0-based).
    pub step: usize,
    /// Loss on this step's batch (before the update).
    pub loss: f64,
    /// Frobenius norm of the gradient (all blocks).
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

/// Why training stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum StopReason {
    /// Ran all steps.
    MaxSteps,
    /// Gradient norm below tolerance.
    GradTol,
    /// Loss plateaued.
    Plateau,
    /// The observer asked to stop.
    Observer,
}

/// Sees every step and the parameters after it; returns [`ControlFlow::Break`] to stop the run.
/// Closures `FnMut(&StepInfo, &[DMatrix<T>]) -> ControlFlow<()>` are observers.
pub trait Observer<T: Real = f64> {
    /// Called after each step with the step's summary and the updated parameters.
    fn observe(&mut self, info: &StepInfo, params: &[DMatrix<T>]) -> ControlFlow<()>;
}

impl<T: Real, F: FnMut(&StepInfo, &[DMatrix<T>]) -> ControlFlow<()>> Observer<T> for F {
    fn observe(&mut self, info: &StepInfo, params: &[DMatrix<T>]) -> ControlFlow<()> {
        self(info, params)
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
            *a = crate::simsiam::whiten_rows(a, m)?;
        }
        Ok(())
    }
}

/// The result of a run (parameters in the scalar `T`, `f64` unless stated).
#[derive(Clone, Debug)]
pub struct TrainOutcome<T: Real = f64> {
    /// Learned parameter blocks.
    pub params: Vec<DMatrix<T>>,
    /// Loss of every step.
    pub losses: Vec<f64>,
    /// Steps taken.
    pub steps: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Trains `params` (initial blocks, shapes as the objective's `block_shapes`) on batches from
/// `source` with the optimizer of `config.optimizer`, no constraint, and an observer that sees
/// each step's summary: [`train_with`] for the common case.
///
/// # Errors
/// As [`train_with`].
pub fn train<T: Real>(
    objective: &mut dyn Objective<T>,
    source: &mut dyn PairSource<T>,
    params: Vec<DMatrix<T>>,
    config: &TrainConfig,
    observer: &mut dyn FnMut(&StepInfo),
) -> Result<TrainOutcome<T>> {
    let shapes: Vec<(usize, usize)> = params.iter().map(|p| p.shape()).collect();
    let mut optimizer = config.optimizer.build::<T>(&shapes)?;
    let mut observe = |info: &StepInfo, _: &[DMatrix<T>]| {
        observer(info);
        ControlFlow::Continue(())
    };
    train_with(objective, source, params, config, &mut optimizer, None, &mut observe)
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
) -> Result<TrainOutcome<T>> {
    config.validate()?;
    for (b, p) in params.iter().enumerate() {
        crate::objective::check_finite_in(p, if b == 0 { "initial map" } else { "initial parameter block" })?;
    }
    let mut grads: Vec<DMatrix<T>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
    let mut rng = seeded(config.seed);
    let mut losses = Vec::new();
    let growth = objective.divergence_factor();
    let norm_start = params_norm(&params);
    let start = Instant::now();
    let mut stop = StopReason::MaxSteps;
    for step in 0..config.steps {
        let lr = config.schedule.lr_at(config.lr, step, config.steps);
        let batch = source.next_batch(&mut rng)?;
        let loss = to_f64(crate::objective::overflow_as_infinite(objective.value_grad(&params, batch, &mut grads))?);
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
        let info = StepInfo { step, loss, grad_norm, lr };
        if config.grad_tol.is_some_and(|t| grad_norm < t) {
            // The run stops here whatever the observer says.
            let _ = observer.observe(&info, &params);
            stop = StopReason::GradTol;
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
        if observer.observe(&info, &params).is_break() {
            stop = StopReason::Observer;
            break;
        }
        if let Some(p) = config.plateau
            && losses.len() >= 2 * p.window
        {
            let w = p.window as f64;
            let recent: f64 = losses[losses.len() - p.window..].iter().sum::<f64>() / w;
            let before: f64 = losses[losses.len() - 2 * p.window..losses.len() - p.window].iter().sum::<f64>() / w;
            if (before - recent) < p.rel_tol * before.abs().max(f64::MIN_POSITIVE) {
                stop = StopReason::Plateau;
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
    Ok(TrainOutcome { params, steps: losses.len(), losses, seconds: start.elapsed().as_secs_f64(), stop })
}

/// A first-order run diverges when the Frobenius norm of its parameters exceeds this factor
/// times `max(norm at the start, 1)`: the crate's losses train from a small start to maps of
/// singular values O(1) (measured on the presets after the default steps: at most 1.9 for
/// SimSiam, 0.7 for whitened SimSiam, 0.5 for streaming InfoNCE and CLIP), so a thousandfold
/// growth is an exploding step size (SimSiam at `--lr 1e6` reached a loss of 3e22 without any
/// non-finite value), not a legitimate run.
pub const PARAM_DIVERGENCE_FACTOR: f64 = 1e3;

/// The Frobenius norm of all parameter blocks together (f64).
fn params_norm<T: Real>(params: &[DMatrix<T>]) -> f64 {
    params.iter().map(|p| to_f64(p.norm_squared())).sum::<f64>().sqrt()
}

/// Small random initial map: entries `N(0, scale^2 / d)` (`r x d`), from `seed`.
pub fn small_random_init(r: usize, d: usize, scale: f64, seed: u64) -> DMatrix<f64> {
    gmm_core::generate::gaussian_matrix(r, d, &mut seeded(seed)) * (scale / (d as f64).sqrt())
}
