//! The crate's error type: the shared error core of gmm-core plus what only training has.

use gmm_core::GmmError;
use thiserror::Error;

/// Everything that can go wrong in `ssl-losses`. Bad input (shapes, non-finite values,
/// parameters out of range, too few pairs) is a [`GmmError`] of the shared error core, wrapped
/// in [`LossError::Core`]; this crate adds divergence, a loss given a model it does not take, and the failures of an
/// objective supplied from outside (its own errors, a gradient that fails its check).
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum LossError {
    /// Training diverged: the loss or the gradient stopped being finite, or the loss grew
    /// beyond the objective's divergence factor times its start.
    #[error("{quantity} at step {step}{}; the learning rate {lr:.4e} is likely too large", loss_before(*last_loss))]
    Diverged {
        /// What happened, e.g. "loss became non-finite".
        quantity: &'static str,
        /// Step at which it happened (0-based).
        step: usize,
        /// Learning rate in force.
        lr: f64,
        /// Last finite loss.
        last_loss: f64,
    },
    /// A loss asked to train on a model it does not take (CLIP on a mixture, InfoNCE or SimSiam
    /// on a two-modality model).
    #[error("{0}")]
    WrongModel(&'static str),
    /// An objective supplied from outside the library (a user's loss, a Python callable) failed
    /// or returned something unusable; the message names the call.
    #[error("{0}")]
    Objective(String),
    /// A gradient that disagrees with central finite differences of its own loss: a verdict on
    /// the loss is refused.
    #[error(
        "the gradient disagrees with central finite differences by {error:.1e} (relative) at {at}; a verdict needs at most {tolerance:.0e}"
    )]
    GradientMismatch {
        /// The largest relative disagreement measured.
        error: f64,
        /// Where it was measured, e.g. "the first random start (iteration 0)".
        at: &'static str,
        /// The tolerance.
        tolerance: f64,
    },
    /// Bad input or a failed decomposition (the shared error core).
    #[error(transparent)]
    Core(#[from] GmmError),
}

/// ` (loss before: x)` when there was a finite loss before, nothing at the first step.
fn loss_before(last_loss: f64) -> String {
    if last_loss.is_finite() { format!(" (loss before: {last_loss:.4e})") } else { String::new() }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, LossError>;
