//! The one observer of every run: L-BFGS on a deterministic cost ([`crate::Lbfgs::minimize`]),
//! the streaming executor ([`crate::train_with`]) and the estimators built on them. It sees the
//! start, each iteration (and may stop the run there: a user's interrupt goes through it), and
//! how the run ended.

use std::ops::ControlFlow;

use gmm_core::nalgebra::DMatrix;

use crate::outcome::Ending;
use crate::scalar::Real;

/// What an observer sees after each iteration of any solver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Iteration (0-based).
    pub iteration: usize,
    /// L-BFGS: the cost at the new point. Streams: the loss of this step's batch, before the
    /// update.
    pub loss: f64,
    /// Frobenius norm of the gradient (all blocks) where `loss` was evaluated.
    pub grad_norm: f64,
    /// The same norm at the start (L-BFGS) or at the first step (streams).
    pub grad_norm_start: f64,
    /// L-BFGS: the step length the line search accepted. Streams: the learning rate used.
    pub step_size: f64,
}

impl Progress {
    /// `grad_norm / grad_norm_start`: the statistic of L-BFGS's certificate (for streams a noisy
    /// batch statistic, not a certificate).
    pub fn relative_grad(&self) -> f64 {
        self.grad_norm / self.grad_norm_start.max(f64::MIN_POSITIVE)
    }
}

/// Watches a run. Only [`Observer::iteration`] is required; returning [`ControlFlow::Break`]
/// there stops the run after that iteration, which then ends [`Ending::Interrupted`]. Closures
/// `FnMut(&Progress, &[DMatrix<T>]) -> ControlFlow<()>` are observers, and so is `()` (it
/// watches nothing).
pub trait Observer<T: Real = f64> {
    /// Before the first iteration, with the starting parameters.
    fn start(&mut self, _params: &[DMatrix<T>]) {}

    /// After each iteration, with its summary and the parameters after it.
    fn iteration(&mut self, progress: &Progress, params: &[DMatrix<T>]) -> ControlFlow<()>;

    /// When the run ended without an error, with how.
    fn end(&mut self, _ending: Ending) {}
}

impl<T: Real, F: FnMut(&Progress, &[DMatrix<T>]) -> ControlFlow<()>> Observer<T> for F {
    fn iteration(&mut self, progress: &Progress, params: &[DMatrix<T>]) -> ControlFlow<()> {
        self(progress, params)
    }
}

impl<T: Real> Observer<T> for () {
    fn iteration(&mut self, _: &Progress, _: &[DMatrix<T>]) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}
