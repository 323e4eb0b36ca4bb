//! What a check returns, and the registry's shape.

/// How much work a check may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Budget {
    /// Few cases, short training: the CI run.
    Quick,
    /// Many cases, long training: a release run.
    Full,
}

impl Budget {
    /// `quick` or `full` depending on the budget.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Budget::Quick => quick,
            Budget::Full => full,
        }
    }
}

/// The evidence a check produces: the worst statistic over its cases against the threshold
/// that the claim (and its stated tolerance) allows.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Evidence {
    /// Cases tried.
    pub cases: usize,
    /// Whether every case met the threshold.
    pub passed: bool,
    /// The worst statistic over the cases (its meaning is in `details`).
    pub statistic: f64,
    /// The threshold the statistic is compared with.
    pub threshold: f64,
    /// A p-value where the check is a statistical test.
    pub p_value: Option<f64>,
    /// One sentence: what was measured and how the threshold follows from theory.
    pub details: String,
}

impl Evidence {
    /// Evidence that passes when `statistic <= threshold`.
    pub fn at_most(cases: usize, statistic: f64, threshold: f64, details: impl Into<String>) -> Self {
        Self { cases, passed: statistic <= threshold, statistic, threshold, p_value: None, details: details.into() }
    }

    /// Evidence that passes when `statistic >= threshold`.
    pub fn at_least(cases: usize, statistic: f64, threshold: f64, details: impl Into<String>) -> Self {
        Self { cases, passed: statistic >= threshold, statistic, threshold, p_value: None, details: details.into() }
    }

    /// Attaches a p-value.
    pub fn with_p(mut self, p: f64) -> Self {
        self.p_value = Some(p);
        self
    }
}

/// Errors of a check (a library error while computing the evidence).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// From gmm-core.
    #[error(transparent)]
    Core(#[from] gmm_core::GmmError),
    /// From ssl-losses.
    #[error(transparent)]
    Loss(#[from] ssl_losses::LossError),
    /// From baselines.
    #[error(transparent)]
    Baseline(#[from] baselines::BaselineError),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, CheckError>;

/// A check: a function of the budget and a seed.
pub type CheckFn = fn(Budget, u64) -> Result<Evidence>;

/// One claim of theory.md section 4 with its check and its negative control.
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    /// `C1` .. `C14`.
    pub id: &'static str,
    /// The claim in one line.
    pub statement: &'static str,
    /// When it holds.
    pub assumptions: &'static str,
    /// The check (must pass).
    pub check: CheckFn,
    /// The negative control: the same check where the claim's assumptions fail (must fail).
    pub control: CheckFn,
    /// What the control changes.
    pub control_statement: &'static str,
}
