//! What a check returns, how cases are seeded, and how a verdict is reached (docs/theory.md 5.1).
//!
//! A claim is checked on many independent cases. Case `i` of claim `C` at master seed `s` is
//! seeded by [`case_seed`]`(s, "C", i)` (a hash, so cases never share random numbers and a
//! claim's cases do not depend on which other claims run). Each case returns a [`Case`]: its
//! statistic, the threshold, whether it passed, whether every trained map in it was certified,
//! and the statistic's value at the nearest wrong answer (the margin a reader should see).
//!
//! The verdict is a test of the pass count. Each statistical claim's per-case error rate is
//! measured ([`crate::calibration`]): its check's rate of failing and its control's rate of
//! passing over hundreds of cases at fresh master seeds, bounded above (Clopper-Pearson, 95%).
//! Exact identities need none (rounding tolerances cannot fail by chance). The run's
//! family-wise error rate is aimed at [`FAMILY_WISE_ERROR`], split evenly (Bonferroni) over the
//! checks and controls of the registry's statistical claims, so a check whose cases are
//! independent and each wrong with probability at most its bound `p` may lose the smallest
//! number `f` of cases with `P(Binomial(cases, p) > f) <= FAMILY_WISE_ERROR / tests`
//! ([`allowed_failures`]). A negative control is held to the mirror rule with its own rate: at
//! most `f` of its cases may pass. Each verdict reports `P(Binomial(cases, p) > f)`, and `ssl-gmm
//! check` their sum, the family-wise bound the run achieves.
//! A case whose trained map has no convergence certificate is not counted either way: it fails
//! the harness (exit status 5 of `ssl-gmm check`), not the claim. A case that cannot tell its
//! claim from the nearest wrong answer (its noise floor too high, or the two coincide:
//! `crate::common::Anchor`) is *unresolved*: counted and printed, never passed, and an
//! unresolved control case does not count as failing. A claim whose check or control has fewer
//! than [`MIN_RESOLVED`] resolved, certified cases gets no verdict either (`unresolved`, exit
//! status 5).

use statrs::distribution::{Binomial, DiscreteCDF};

/// How much work a check may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Budget {
    /// At least 5 cases per claim, short runs: the CI run (under 2 minutes on 2 cores).
    Quick,
    /// At least 20 cases per claim: a release run (under 10 minutes on 2 cores).
    Full,
}

impl Budget {
    /// `quick` or `full`: its name in the CLI's flags and reports.
    pub fn name(self) -> &'static str {
        self.pick("quick", "full")
    }

    /// `quick` or `full` depending on the budget.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Budget::Quick => quick,
            Budget::Full => full,
        }
    }
}

/// The family-wise error rate one run of the whole registry aims at: the probability that some
/// true claim is reported as failing by chance (a check failing or a control passing), given the
/// calibration's rate bounds.
pub const FAMILY_WISE_ERROR: f64 = 1e-2;

/// The seed of case `case` of claim `id` (or its control: `id` = `"C4/control"`) at master seed
/// `master`: FNV-1a over the id, mixed with the master seed and the case index by SplitMix64.
pub fn case_seed(master: u64, id: &str, case: usize) -> u64 {
    let h = gmm_core::stable_hash(id.as_bytes());
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    mix(mix(mix(master) ^ h) ^ case as u64)
}

/// The number of wrong-way cases out of `cases` that a true claim with per-case error rate
/// `rate` may have: the smallest `f` with `P(Binomial(cases, rate) > f) <= level`.
pub fn allowed_failures(cases: usize, rate: f64, level: f64) -> usize {
    if rate <= 0.0 || cases == 0 {
        return 0;
    }
    (0..=cases).find(|&f| false_rejection(cases, rate, f) <= level).unwrap_or(cases)
}

/// `P(Binomial(cases, rate) > allowed)`: the chance that a true claim with per-case error rate
/// `rate` has more than `allowed` of its `cases` go the wrong way (1 for an invalid rate).
pub fn false_rejection(cases: usize, rate: f64, allowed: usize) -> f64 {
    if rate <= 0.0 || allowed >= cases {
        return 0.0;
    }
    Binomial::new(rate.min(1.0), cases as u64).map_or(1.0, |b| b.sf(allowed as u64))
}

/// The fewest resolved, certified cases a check and its control need for a verdict (or all of
/// them, when a claim runs fewer).
pub const MIN_RESOLVED: usize = 5;

/// What one case of a check found.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Case {
    /// The case's seed.
    pub seed: u64,
    /// The statistic (its meaning is in the claim's details).
    pub statistic: f64,
    /// The threshold it is compared with.
    pub threshold: f64,
    /// The case meets the claim's condition.
    pub passed: bool,
    /// Every trained map of the case has a convergence certificate.
    pub converged: bool,
    /// The case can tell its claim from the nearest wrong answer (`crate::common::Anchor`); an
    /// unresolved case is never passed and, in a control, never counted as failing.
    pub resolved: bool,
    /// The statistic at the nearest wrong answer (e.g. the mean span's `sin theta_max` to `F`).
    pub nearest_wrong: Option<f64>,
    /// What was measured, in one line.
    pub note: String,
}

impl Case {
    /// A case that passes when `statistic <= threshold`.
    pub fn at_most(statistic: f64, threshold: f64, note: impl Into<String>) -> Self {
        Self::new(statistic, threshold, statistic <= threshold, note)
    }

    /// A case that passes when `statistic >= threshold`.
    pub fn at_least(statistic: f64, threshold: f64, note: impl Into<String>) -> Self {
        Self::new(statistic, threshold, statistic >= threshold, note)
    }

    fn new(statistic: f64, threshold: f64, passed: bool, note: impl Into<String>) -> Self {
        Self {
            seed: 0,
            statistic,
            threshold,
            passed: passed && statistic.is_finite(),
            converged: true,
            resolved: true,
            nearest_wrong: None,
            note: note.into(),
        }
    }

    /// A further condition the case must meet.
    pub fn and(mut self, condition: bool) -> Self {
        self.passed &= condition;
        self
    }

    /// Marks the case unresolved, saying why in its note.
    pub fn unresolved(mut self, why: &str) -> Self {
        self.resolved = false;
        self.passed = false;
        self.note = format!("{} [{why}]", self.note);
        self
    }

    /// Records the nearest wrong answer's statistic.
    pub fn nearest_wrong(mut self, value: f64) -> Self {
        self.nearest_wrong = Some(value);
        self
    }

    /// Records whether the trained maps were certified.
    pub fn certified(mut self, converged: bool) -> Self {
        self.converged &= converged;
        self
    }
}

/// Whether the evidence is a claim's check or its negative control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Role {
    /// Must pass in all but `allowed_failures` cases.
    Check,
    /// Must fail in all but `allowed_failures` cases.
    Control,
}

/// The evidence of a check or a control over its cases.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Evidence {
    /// Check or control.
    pub role: Role,
    /// Cases run.
    pub cases: usize,
    /// Cases (among the certified ones) that met the claim's condition.
    pub passed_cases: usize,
    /// Cases with a trained map that has no convergence certificate (not counted).
    pub not_converged: usize,
    /// Certified cases that could not tell the claim from its nearest wrong answer (not counted).
    pub unresolved: usize,
    /// The per-case wrong-way rate the rule uses (the calibration's bound; 0 for exact claims).
    pub rate: f64,
    /// The number of cases that may go the wrong way (see the module docs).
    pub allowed: usize,
    /// `P(Binomial(counted, rate) > allowed)`: the chance that this rule rejects a true claim.
    pub error_bound: f64,
    /// The verdict: a check held in all but `allowed` cases, a control failed in all but
    /// `allowed`.
    pub as_required: bool,
    /// The statistic farthest on the wrong side of its threshold over the cases.
    pub worst: f64,
    /// Its threshold.
    pub threshold: f64,
    /// The smallest margin to the nearest wrong answer over the cases (its statistic), if known.
    pub nearest_wrong: Option<f64>,
    /// `P(Binomial(counted, rate) >= wrong-way cases)` for a statistical claim: the chance of this
    /// many wrong-way cases if the claim holds.
    pub p_value: Option<f64>,
    /// The worst case's note.
    pub details: String,
    /// Every case.
    pub per_case: Vec<Case>,
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
    /// An unknown claim id or an empty selection.
    #[error("{0}")]
    Selection(String),
    /// An embedded fixture that does not parse (a defect of the build, never of the input).
    #[error("{0}")]
    Fixture(String),
    /// A calibration file that cannot be read or added to.
    #[error("calibration: {0}")]
    Calibration(String),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, CheckError>;

/// What a case function is given.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    /// The budget.
    pub budget: Budget,
    /// The case's seed ([`case_seed`]).
    pub seed: u64,
    /// The case's index (cases may cycle through a list of shapes or settings by it).
    pub index: usize,
}

/// One case of a check or a control.
pub type CaseFn = fn(&Ctx) -> Result<Case>;

/// One claim of docs/theory.md section 4 with its check and its negative control.
#[derive(Clone, Copy)]
pub struct Claim {
    /// `C1` .. `C24`.
    pub id: &'static str,
    /// The claim in one line.
    pub statement: &'static str,
    /// When it holds.
    pub assumptions: &'static str,
    /// One case of the check (must pass).
    pub check: CaseFn,
    /// One case of the negative control: the same statistic where the claim's assumptions fail,
    /// or at the nearest wrong answer (must fail).
    pub control: CaseFn,
    /// What the control changes and why it must fail.
    pub control_statement: &'static str,
    /// Cases in the quick and the full run.
    pub cases: (usize, usize),
    /// An exact identity (rounding tolerances: no error rate); otherwise the rate is measured
    /// ([`crate::calibration`]).
    pub exact: bool,
    /// Where the threshold comes from, in one line.
    pub tolerance: &'static str,
    /// The code of the module holding the check and the control (part of the claim's
    /// [`crate::calibration::fingerprint`]).
    pub source: &'static str,
    /// The code of the other claim modules whose items its check or control calls (part of its
    /// fingerprint too): a change there moves its statistics as much as one in `source`.
    pub reads: &'static [&'static str],
    /// The share of the family-wise error its check and its control each get, in units
    /// ([`crate::test_level`]): 1, or more for a claim whose cases are too costly to calibrate
    /// to a rate as small as the others' (C10). Fixed before the claim's calibration; not part
    /// of the case design.
    pub weight: u32,
}

impl std::fmt::Debug for Claim {
    /// Every field but the modules' code (`source` and `reads`: hundreds of lines).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("id", &self.id)
            .field("statement", &self.statement)
            .field("assumptions", &self.assumptions)
            .field("control_statement", &self.control_statement)
            .field("cases", &self.cases)
            .field("exact", &self.exact)
            .field("tolerance", &self.tolerance)
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}
