//! The training loop: objective (value + gradient) / optimizer step / driver with stopping
//! rules and an observer, in the argmin spirit.

use std::time::Instant;

use gmm_core::seeded;
use nalgebra::DMatrix;

use crate::data::PairSource;
use gmm_core::{GmmError, check_at_least, check_finite, check_non_negative, check_positive};

use crate::error::{LossError, Result};
use crate::objective::Objective;
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
    /// Keep block 0 on the whitening constraint `A M A^T = I` after every step, `M` a running
    /// (exponential, this momentum) estimate of the second moment from the batches.
    pub whiten_momentum: Option<f64>,
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
            whiten_momentum: None,
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
        if let Some(m) = self.whiten_momentum
            && !(0.0..1.0).contains(&m)
        {
            return Err(GmmError::out_of_range("whitening momentum", m, "in [0, 1)").into());
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
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// Learned parameter blocks.
    pub params: Vec<DMatrix<f64>>,
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
/// `source`. Deterministic given `config.seed`: same seed, same result bit for bit.
///
/// # Errors
/// Invalid settings; shapes; [`LossError::Diverged`] naming the step when the loss or the
/// gradient stops being finite (never NaN output).
pub fn train(
    objective: &mut dyn Objective,
    source: &mut dyn PairSource,
    mut params: Vec<DMatrix<f64>>,
    config: &TrainConfig,
    observer: &mut dyn FnMut(&StepInfo),
) -> Result<TrainOutcome> {
    config.validate()?;
    for (b, p) in params.iter().enumerate() {
        check_finite(p, if b == 0 { "initial map" } else { "initial parameter block" })?;
    }
    let shapes: Vec<(usize, usize)> = params.iter().map(|p| p.shape()).collect();
    let mut grads: Vec<DMatrix<f64>> = shapes.iter().map(|&(r, c)| DMatrix::zeros(r, c)).collect();
    let mut optimizer = Optimizer::new(config.optimizer, &shapes)?;
    let mut rng = seeded(config.seed);
    let mut losses = Vec::with_capacity(config.steps);
    let mut running_m: Option<DMatrix<f64>> = None;
    let start = Instant::now();
    let mut stop = StopReason::MaxSteps;
    for step in 0..config.steps {
        let lr = config.schedule.lr_at(config.lr, step, config.steps);
        let batch = source.next_batch(&mut rng)?;
        let loss = objective.value_grad(&params, batch, &mut grads)?;
        let last_loss = losses.last().copied().unwrap_or(f64::NAN);
        if !loss.is_finite() {
            return Err(LossError::Diverged { quantity: "loss", step, lr, last_loss });
        }
        let grad_norm = grads.iter().map(|g| g.norm_squared()).sum::<f64>().sqrt();
        if !grad_norm.is_finite() {
            return Err(LossError::Diverged { quantity: "gradient", step, lr, last_loss });
        }
        if let Some(momentum) = config.whiten_momentum {
            let n = batch.len() as f64;
            let m = (batch.left.tr_mul(batch.left) + batch.right.tr_mul(batch.right)) / (2.0 * n);
            running_m = Some(match running_m.take() {
                None => m,
                Some(prev) => prev * momentum + m * (1.0 - momentum),
            });
        }
        losses.push(loss);
        observer(&StepInfo { step, loss, grad_norm, lr });
        if config.grad_tol.is_some_and(|t| grad_norm < t) {
            stop = StopReason::GradTol;
            break;
        }
        optimizer.step(&mut params, &grads, lr, config.weight_decay);
        if let Some(m) = &running_m {
            params[0] = crate::simsiam::whiten_rows(&params[0], m)?;
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
            quantity: "parameters",
            step: losses.len(),
            lr: config.lr,
            last_loss: f64::NAN,
        });
    }
    Ok(TrainOutcome { params, steps: losses.len(), losses, seconds: start.elapsed().as_secs_f64(), stop })
}

/// Small random initial map: entries `N(0, scale^2 / d)` (`r x d`), from `seed`.
pub fn small_random_init(r: usize, d: usize, scale: f64, seed: u64) -> DMatrix<f64> {
    gmm_core::generate::gaussian_matrix(r, d, &mut seeded(seed)) * (scale / (d as f64).sqrt())
}
