//! How a run ended and what it returns: one [`Ending`], one record of the run ([`Run`]) and one
//! result ([`Trained`]) for every solver: L-BFGS on a deterministic cost, the streaming executor,
//! and the estimators built on them (InfoNCE, CLIP and whitened SimSiam carry the same [`Run`]).
//!
//! A run that diverges (a non-finite loss or gradient, a loss or map growing without bound) ends
//! in the error [`crate::LossError::Diverged`], never in a result with NaN in it.

use gmm_core::nalgebra::DMatrix;

use crate::certificate::Certificate;
use crate::scalar::Real;

/// How a run ended (each early end says its real reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Ending {
    /// The gradient tolerance was met: for L-BFGS the certificate's test (the gradient norm
    /// relative to the start at most `grad_rtol`); for a stream a batch gradient below its
    /// `grad_tol` (which certifies nothing).
    GradTol,
    /// The iteration or step budget ran out first.
    BudgetSpent,
    /// Streams: the mean loss of the last window improved on the window before by less than
    /// the plateau tolerance.
    Plateau,
    /// L-BFGS: the line search found no decrease, even along steepest descent: the cost is flat
    /// to rounding along the gradient (a point at rounding level, or a cost whose scale makes its
    /// gradient unresolvable).
    NoDecrease,
    /// L-BFGS: the gradient at the start is zero: the start is a stationary point (a saddle or a
    /// maximum as likely as a minimum), so nothing is certified.
    StationaryStart,
    /// The observer stopped the run (e.g. a user's interrupt).
    Interrupted,
    /// A contrastive cost without a ridge fell to its infimum, which it approaches only as the
    /// map grows without bound: there is no minimiser to certify
    /// ([`Certificate::escaped_to_infimum`]).
    NoMinimiser,
    /// L-BFGS met its gradient tolerance at a point where the cost still curves down across
    /// the directions its symmetries leave free (a saddle: the smallest free curvature, a lower
    /// estimate, is not positive), from every start tried ([`crate::PopulationInfoNce`]).
    Saddle,
}

impl Ending {
    /// Its name, as serialised: `grad-tol`, `budget-spent`, `plateau`, `no-decrease`,
    /// `stationary-start`, `interrupted`, `no-minimiser`, `saddle`.
    pub fn name(self) -> &'static str {
        match self {
            Ending::GradTol => "grad-tol",
            Ending::BudgetSpent => "budget-spent",
            Ending::Plateau => "plateau",
            Ending::NoDecrease => "no-decrease",
            Ending::StationaryStart => "stationary-start",
            Ending::Interrupted => "interrupted",
            Ending::NoMinimiser => "no-minimiser",
            Ending::Saddle => "saddle",
        }
    }

    /// What a user can do about it, for messages.
    pub fn advice(self) -> &'static str {
        match self {
            Ending::GradTol | Ending::Plateau => "none needed",
            Ending::BudgetSpent => "raise the budget (--max-iters, --steps), or check that the loss has a minimiser",
            Ending::NoDecrease => {
                "the line search found no decrease at rounding level before the tolerance: loosen the tolerance \
                 (--tol), or rescale the problem (a temperature or initial scale far from 1 flattens the loss)"
            }
            Ending::StationaryStart => {
                "the gradient is zero at the start, so nothing moved: use another start (--seed, --init-scale) or a \
                 temperature nearer 1"
            }
            Ending::Interrupted => "the run was interrupted",
            Ending::NoMinimiser => {
                "the sample's pairs can be separated by scaling the map up: use more pairs, or a ridge (weight decay)"
            }
            Ending::Saddle => "every start stopped at a saddle: use other seeds, or more outer draws",
        }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The record of a run, whatever solved it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Run {
    /// L-BFGS: the cost at the start, then after each iteration. Streams: the loss of each
    /// step's batch (before its update). Never empty.
    pub losses: Vec<f64>,
    /// Iterations (L-BFGS) or steps (streams) taken.
    pub iterations: usize,
    /// Cost evaluations (value and gradient) made: the steps of a stream; for L-BFGS the start
    /// and every line-search evaluation.
    pub evaluations: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// How it ended.
    pub ending: Ending,
    /// The convergence certificate of a deterministic cost (docs/theory.md 5.3); `None` for a
    /// stream, which has none.
    pub certificate: Option<Certificate>,
}

impl Run {
    /// The last loss (the cost at the returned point for L-BFGS, the last batch loss for a
    /// stream).
    pub fn loss(&self) -> f64 {
        self.losses.last().copied().unwrap_or(f64::NAN)
    }

    /// The mean of the last `window` losses (all of them if fewer; NaN for an empty run): the
    /// final loss of a stream, whose losses are noisy batch values, is the mean of its last
    /// [`crate::FINAL_LOSS_WINDOW`]; a fixed sample's is its last, exact value (`window` 1).
    pub fn mean_last(&self, window: usize) -> f64 {
        let tail = &self.losses[self.losses.len() - window.min(self.losses.len())..];
        if tail.is_empty() { f64::NAN } else { tail.iter().sum::<f64>() / tail.len() as f64 }
    }

    /// Whether the run carries a certificate that holds.
    pub fn converged(&self) -> bool {
        self.certificate.is_some_and(|c| c.converged)
    }
}

/// The result of every solver: the parameter blocks at the end (in the cost's scalar) and the
/// record of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained<T: Real = f64> {
    /// The parameter blocks at the end.
    pub params: Vec<DMatrix<T>>,
    /// How the run went.
    pub run: Run,
}
