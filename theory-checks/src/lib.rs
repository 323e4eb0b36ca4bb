#![doc = include_str!("../README.md")]

pub mod calibration;
pub mod common;
pub mod contained;
mod evidence;
pub mod exact;
pub mod spectral;
pub mod trained;
pub mod uncentred;
pub mod zoo;

pub use calibration::{Calibration, Status};
pub use evidence::{
    Budget, Case, CaseFn, CheckError, Claim, Ctx, Evidence, FAMILY_WISE_ERROR, MIN_RESOLVED, Result, Role,
    allowed_failures, case_seed, false_rejection,
};

/// A statistical claim: its per-case error rate is measured ([`calibration`]).
const STATISTICAL: bool = false;

/// An exact identity: rounding tolerances cannot fail by chance, no rate is needed.
const EXACT: bool = true;

/// The code of `common.rs`, part of every claim's [`calibration::fingerprint`].
pub(crate) const COMMON_SOURCE: &str = include_str!("common.rs");
const CONTAINED_SOURCE: &str = include_str!("contained.rs");
const EXACT_SOURCE: &str = include_str!("exact.rs");
const SPECTRAL_SOURCE: &str = include_str!("spectral.rs");
const TRAINED_SOURCE: &str = include_str!("trained.rs");
const UNCENTRED_SOURCE: &str = include_str!("uncentred.rs");
const ZOO_SOURCE: &str = include_str!("zoo.rs");

/// Every claim of docs/theory.md section 4, in order, with its check and negative control.
pub fn registry() -> Vec<Claim> {
    let claim =
        |id, statement, assumptions, check, control, control_statement, cases, exact, tolerance, source| Claim {
            id,
            statement,
            assumptions,
            check,
            control,
            control_statement,
            cases,
            exact,
            tolerance,
            source,
            reads: &[],
            weight: 1,
        };
    vec![
        claim(
            "C1",
            "the Bayes posterior computed from x equals the one computed from P x",
            "any shared-covariance mixture; P the oblique projector onto the Fisher coordinates",
            exact::c1,
            exact::c1_control,
            "orthogonal projector Q onto the mean span, anisotropic Sigma",
            (10, 100),
            EXACT,
            "rounding: max |p(z|x) - p(z|Px)| <= 1e-9",
            EXACT_SOURCE,
        ),
        claim(
            "C2",
            "range(Sigma^-1 S_B) = range(Sigma_T^-1 S_B)",
            "any shared-covariance mixture",
            exact::c2,
            exact::c2_control,
            "range(S_B) (the mean span) instead, anisotropic Sigma",
            (10, 100),
            EXACT,
            "rounding: sin theta_max <= 1e-8",
            EXACT_SOURCE,
        ),
        claim(
            "C3",
            "isotropic Sigma: population PCA = F; sample PCA error ~ n^-1/2",
            "Sigma = s^2 I",
            spectral::c3,
            spectral::c3_control,
            "means 100x closer (eigengap ~1e-4): population PCA still F, sample error stuck near 1 (slope ~0)",
            (5, 20),
            STATISTICAL,
            "theory: slope -1/2; band [-0.75, -0.25] of the 4-point fit over 4 seeds",
            SPECTRAL_SOURCE,
        ),
        claim(
            "C4",
            "dominant noise direction: PCA misses F while InfoNCE and CCA find it",
            "noise direction orthogonal to the means with variance above the signal's; centred inputs",
            spectral::c4,
            spectral::c4_control,
            "InfoNCE on raw inputs with offset means (C15): off F by a margin (decided where the floor is at most a sixth of the raw population minimiser's distance to F)",
            (7, 20),
            STATISTICAL,
            "noise floor: certified InfoNCE sin <= 3 x CCA's on the same 2e4 pairs (both ~ n^-1/2)",
            SPECTRAL_SOURCE,
        ),
        claim(
            "C5",
            "L(A; x) = L(A G^-1; G x) for InfoNCE, SimSiam, CLIP (values and gradients also match JAX autodiff fixtures)",
            "G invertible (H for CLIP's second modality)",
            exact::c5,
            exact::c5_control,
            "data transformed, map not",
            (10, 100),
            EXACT,
            "rounding: relative gap <= 1e-10; 76 losses' values and gradients against the embedded JAX fixtures <= 1e-11",
            EXACT_SOURCE,
        ),
        claim(
            "C6",
            "noise only hurts: L_inf(A) >= L_inf(A P)",
            "population InfoNCE, P the oblique Fisher projector, centred inputs",
            trained::c6,
            trained::c6_control,
            "orthogonal projector Q onto the mean span, at maps reading the Fisher coordinates",
            (6, 30),
            STATISTICAL,
            "paired one-sided t-test with common samples at level 1e-4 per case",
            TRAINED_SOURCE,
        ),
        claim(
            "C7",
            "InfoNCE minimiser with r = k - 1 spans F (isotropic or not)",
            "delta = 1, linear encoder, dot-product score, centred inputs",
            spectral::c7,
            spectral::c7_control,
            "InfoNCE on raw inputs with offset means (C15): off F by a margin (decided where the floor is at most a sixth of the raw population minimiser's distance to F)",
            (7, 24),
            STATISTICAL,
            "noise floor: certified InfoNCE sin <= 3 x CCA's on the same 2e4 pairs (both ~ n^-1/2)",
            SPECTRAL_SOURCE,
        ),
        claim(
            "C8",
            "r > k - 1: F is contained in row(A); the extra directions carry almost no weight",
            "delta = 1, centred inputs",
            contained::c8,
            contained::no_signal,
            "delta = 0 (no signal): the minimiser weighs no more than the noise floor",
            (7, 20),
            STATISTICAL,
            "containment sin <= 3 x CCA's floor; weight >= 3 x the noise floor of the same pairs shifted (delta = 0), extra weight <= 3 x its mean over 4 shifts",
            CONTAINED_SOURCE,
        ),
        claim(
            "C9",
            "every delta in (0, 1] gives F; k-means ARI of InfoNCE matches LDA's",
            "noisy augmentations with coupling delta > 0, 2e4 / (4 delta^2) pairs",
            trained::c9,
            trained::c9_control,
            "an ARI loss injected (10% of InfoNCE's held-out k-means labels randomised): the gap leaves the margin",
            (6, 24),
            STATISTICAL,
            "sin <= 3 x CCA's floor and |ARI gap| <= 0.02 (the equivalence margin) per case",
            TRAINED_SOURCE,
        ),
        Claim {
            weight: C10_WEIGHT,
            ..claim(
                "C10",
                "CLIP learns each modality's shared Fisher subspace, no private directions",
                "private means Sigma-orthogonal to the shared ones",
                trained::c10,
                trained::c10_control,
                "without the orthogonality condition (CLIP lands in the Cov(x|z) Fisher subspace)",
                (7, 20),
                STATISTICAL,
                "noise floor: certified CLIP sin <= 3 x two-view CCA's on the same 2e4 pairs",
                TRAINED_SOURCE,
            )
        },
        claim(
            "C11",
            "whitened SimSiam: closed form and trained optimum span F",
            "constraint A M A^T = I, centred means, r = k - 1",
            trained::c11,
            trained::c11_control,
            "the same MSE loss unconstrained, true gradient: collapses to A = 0",
            (7, 20),
            STATISTICAL,
            "closed form: rounding 1e-8; trained by epochs over 2e4 pairs: sin to F <= 3 x CCA's floor on the same pairs (certificate: sin to the sample's own optimum <= the floor)",
            TRAINED_SOURCE,
        ),
        claim(
            "C12",
            "sample LDA and CCA converge to F at rate n^-1/2",
            "anisotropic Sigma allowed; CCA with delta > 0",
            spectral::c12,
            spectral::c12_control,
            "PCA on the trap family (does not converge to F)",
            (5, 20),
            STATISTICAL,
            "theory: slope -1/2; band [-0.75, -0.25] of the 4-point fit over 4 seeds",
            SPECTRAL_SOURCE,
        ),
        claim(
            "C13",
            "population InfoNCE: closed-form inner expectation = Monte Carlo",
            "E exp(v^T x-) = sum_j pi_j exp(v^T mu_j + v^T Sigma v / 2)",
            exact::c13,
            exact::c13_control,
            "closed form without the v^T Sigma v / 2 term",
            (10, 40),
            STATISTICAL,
            "two-sided z-test of the Monte Carlo mean at level 1e-4 per case",
            EXACT_SOURCE,
        ),
        claim(
            "C14",
            "small-A gradient grows A along the top eigenvectors of Cov(x+, x) (the mean span)",
            "|A| small; population InfoNCE; raw coordinates",
            exact::c14,
            exact::c14_control,
            "the same iterate compared with F (anisotropic)",
            (5, 20),
            EXACT,
            "expansion error O(|A|^2) ~ 1e-6 at |A| = 1e-5, 100x margin: 1e-4",
            EXACT_SOURCE,
        ),
        Claim {
            reads: &[SPECTRAL_SOURCE],
            ..claim(
                "C15",
                "non-centred inputs: the InfoNCE minimiser lies in span{Sigma^-1 mu_i}, off F; centring restores F",
                "||Sigma^-1/2 mu_bar|| = 3, d >= k + 1",
                uncentred::c15,
                uncentred::c15_control,
                "a centred mixture: the raw minimiser is in F, so 'off F' fails",
                (7, 20),
                STATISTICAL,
                "centred error <= 3 x CCA's floor; raw fit off F: ratio > 3; the raw population minimiser's containment in span{Sigma^-1 mu_i} falls: log-log slope <= -0.25 over N = (500..32000) x m, at least 64 draws per parameter (theory -1/2; off the span it levels off at 0)",
                UNCENTRED_SOURCE,
            )
        },
        claim(
            "C16",
            "InfoNCE's own sample rate: the certified minimiser's error to F falls as n^-1/2",
            "centred inputs, r = k - 1, delta = 1; every fit certified",
            spectral::c16,
            spectral::c16_control,
            "delta = 0: no shared component, the error does not fall",
            (7, 20),
            STATISTICAL,
            "theory: slope -1/2; band [-0.75, -0.25] of the 4-point fit over 4 seeds (as C12)",
            SPECTRAL_SOURCE,
        ),
        Claim {
            reads: &[SPECTRAL_SOURCE],
            ..claim(
                "C17",
                "spectral contrastive loss: the population minimiser spans F",
                "centred pairs, r = k - 1, delta in {0.5, 1}; the minimum certified (gradient, value -||T_r||^2, no lower L-BFGS point)",
                exact::c17,
                exact::c17_control,
                "raw (non-centred) moments at delta = 0.5: the minimiser leaves F",
                (7, 40),
                EXACT,
                "rounding: sin theta_max <= 1e-8 (closed form); gradient <= 1e-9 of its scale",
                EXACT_SOURCE,
            )
        },
        claim(
            "C18",
            "Barlow Twins collapses to rank 1 (every row the top Fisher direction) below lambda* = (1 - tau_1)(tau_1 - tau_2) / (tau_1 (tau_2 + (r - 1) tau_1)) and not above",
            "coupled pairs, delta = 1, centred, k >= 3, r = k - 1, eps = 0; population fits from the eigen configuration and 5 random starts, certified (relative gradient <= 1e-6, two starts agree to 1e-8), rank resolved (ratio >= 1e3 across the cut)",
            zoo::c18,
            zoo::c18_control,
            "the threshold without the other rows' coupling, (1 - tau_1)(tau_1 - tau_2) / (tau_1 tau_2): no collapse just below it",
            (7, 40),
            STATISTICAL,
            "rank 1 at lambda* / 1.25, rank > 1 at 1.25 lambda*, rows in F at both (sin <= the verdict's tolerance)",
            ZOO_SOURCE,
        ),
        claim(
            "C19",
            "Barlow Twins keeps its rows inside F on coupled pairs at lambda = 0.0051 (official), 1 and 10",
            "as C18",
            zoo::c19,
            zoo::c19_control,
            "one masked view (Bernoulli 0.5): the cross moment is p Sigma_T, the rows leave F",
            (7, 40),
            STATISTICAL,
            "optimiser floor: the row space inside F to sin theta_max <= the verdict's tolerance (distance bound, or 1e-6 without one)",
            ZOO_SOURCE,
        ),
        claim(
            "C20",
            "VICReg keeps its rows inside F on coupled pairs (proved for any weights), and at weights (25, 25, 100) spans all of F",
            "as C18 (eps = 1e-4, the official; weights alternate (25, 25, 1) and (25, 25, 100)); a minimiser on the variance hinge's kink is polished with those rows held on it and certified by the subdifferential",
            zoo::c20,
            zoo::c20_control,
            "both views with isotropic noise: the cross covariance is Sigma_T, the rows leave F",
            (7, 40),
            STATISTICAL,
            "optimiser floor: the row space inside F to sin theta_max <= the verdict's tolerance (distance bound, or 1e-6 without one); rank k - 1 at (25, 25, 100)",
            ZOO_SOURCE,
        ),
        claim(
            "C21",
            "population InfoNCE on coupled pairs, integrated by the views' quadrature (stratified over components, scrambled Sobol over the means' span), spans F (as C6/C7 prove for the exact population loss)",
            "centred mixtures, k >= 3, r = k - 1, delta = 1, tau = 1, infinitely many negatives, 2^11 nodes; certified as C18, the tolerance the larger of the distance bound and three times the distance to a second quadrature's minimiser",
            zoo::c21,
            zoo::c21_control,
            "isotropic additive noise of the data's mean variance: the Gaussian minimiser is PCA, the rows leave F",
            (7, 40),
            STATISTICAL,
            "the row space equal to F to sin theta_max <= the verdict's tolerance (distance bound, quadrature floor), rank k - 1",
            ZOO_SOURCE,
        ),
        Claim {
            reads: &[SPECTRAL_SOURCE],
            ..claim(
                "C22",
                "two-view CCA on masked pairs (x, D x), D a Bernoulli(0.5) mask, estimates PCA of the correlation matrix (the top generalized eigenvectors of (Sigma_T, diag Sigma_T)) at rate n^{-1/2}",
                "k 2..4, d 8..12, condition 100, every second case with a dominant noise direction; r = k - 1; mean error over 4 seeds at n = 2000..128000",
                zoo::c22,
                zoo::c22_control,
                "isotropic additive noise instead of the mask: the canonical directions are PCA's, the error to correlation PCA levels off (no rate)",
                (7, 20),
                STATISTICAL,
                "theory: slope -1/2; band [-0.75, -0.25] of the 4-point fit over 4 seeds (as C12)",
                ZOO_SOURCE,
            )
        },
        claim(
            "C23",
            "the SimSiam and BYOL flows without whitening constraint (linear predictor, stop-gradient, weight decay eta = tau_r^2 / 16) on whitened inputs have a linearly stable fixed point whose rows span F",
            "coupled pairs, delta = 1, centred, k >= 3, r = k - 1, predictor rate 1, BYOL rate 0.1 (alternating with SimSiam); the fixed point certified by its residual (<= 1e-12 of the field's terms) and every rate of the Jacobian across the rotation orbit negative",
            zoo::c23,
            zoo::c23_control,
            "raw inputs (the same weight decay in the weakest input direction's units): weight decay breaks the reparametrisation invariance, the stable fixed point is ridge-biased and leaves F (decided where the bias predicted to first order exceeds 30 tolerances)",
            (7, 40),
            STATISTICAL,
            "the row space equal to F to sin theta_max <= the verdict's tolerance (Newton's step through Wedin's bound), rank k - 1",
            ZOO_SOURCE,
        ),
        claim(
            "C24",
            "InfoNCE on masked views (x, D x), D a Bernoulli(0.5) mask, does not recover F: the best map with rows in F loses to the unrestricted fit on held-out pairs",
            "a sample claim (masked views are not Gaussian mixtures; no population form): k >= 3, r = k - 1, tau = 1, in-batch negatives (batches of 256), both maps certified on 4096 pairs, compared on 16384 held-out pairs in 64 batches",
            zoo::c24,
            zoo::c24_control,
            "coupled pairs (delta = 1), where the minimiser is F: the restricted map loses nothing",
            (7, 40),
            STATISTICAL,
            "one-sided paired t-test of the held-out gap at level 1e-3 (critical t 3.22 with 63 degrees of freedom)",
            ZOO_SOURCE,
        ),
    ]
}

/// The outcome of one claim: its evidence, its control's, and the time both took.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Outcome {
    /// Claim id.
    pub id: &'static str,
    /// Statement.
    pub statement: &'static str,
    /// Where the threshold comes from.
    pub tolerance: &'static str,
    /// The check's evidence.
    pub evidence: Evidence,
    /// The control's evidence.
    pub control: Evidence,
    /// Where the rates of the pass-count rule come from.
    pub calibration: RateSource,
    /// The verdict on the claim, from both.
    pub verdict: Verdict,
    /// The level of its check and of its control ([`test_level`]).
    pub level: f64,
    /// The chance that a run like this one has no verdict on the claim (a case without a
    /// certificate, or too few resolved), at the rates its calibration observed
    /// ([`calibration::Entry::no_verdict_chance`]); `None` without a current entry.
    pub no_verdict_chance: Option<f64>,
    /// The chance that this claim's verdict rejects it when true: the check's and the control's
    /// [`Evidence::error_bound`] added up.
    pub error_bound: f64,
    /// Seconds for both.
    pub seconds: f64,
}

/// Where a claim's per-case rates come from.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case", tag = "kind"))]
pub enum RateSource {
    /// An exact claim: no rate (nothing may go the wrong way).
    Exact,
    /// Measured: the calibration's cases and wrong-way counts, check and control.
    Measured {
        /// The claim's fingerprint.
        fingerprint: String,
        /// Counted check cases and failures.
        check: (u64, u64),
        /// Counted control cases and passes.
        control: (u64, u64),
    },
    /// The calibration entry was measured for another case design: refused, no verdict.
    Stale {
        /// The entry's fingerprint.
        recorded: String,
        /// The claim's.
        current: String,
    },
    /// No entry for the claim, or one on fewer than [`calibration::MIN_CASES`] counted cases in
    /// a role (its bound would be above 1%): no rate is assumed in its place, the verdict is
    /// [`Verdict::Uncalibrated`].
    Unmeasured {
        /// The entry's counted cases, the fewer of its two roles (0 without an entry).
        counted: u64,
    },
}

/// The verdict on a claim: one vocabulary for the CLI's table and JSON, Python and the docs
/// (`holds`, `fails`, `not-certified`, `unresolved`, `uncalibrated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Verdict {
    /// The check held and the control failed, as required.
    Holds,
    /// The check failed or the control passed.
    Fails,
    /// A trained map had no convergence certificate: no verdict (the harness failed, not the
    /// claim).
    NotCertified,
    /// The check or its control has fewer than [`MIN_RESOLVED`] cases that can tell the claim
    /// from its nearest wrong answer: no verdict.
    Unresolved,
    /// The claim has no current calibration: its entry was measured for another case design
    /// (its fingerprint changed), or is missing or on too few cases. No verdict until it is
    /// measured (`ssl-gmm check --calibrate`).
    Uncalibrated,
}

impl Verdict {
    /// The verdict's one spelling: `holds`, `fails`, `not-certified`, `unresolved` or
    /// `uncalibrated` (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Fails => "fails",
            Verdict::NotCertified => "not-certified",
            Verdict::Unresolved => "unresolved",
            Verdict::Uncalibrated => "uncalibrated",
        }
    }

    /// The verdict on a check and its control.
    fn of(evidence: &Evidence, control: &Evidence, source: &RateSource) -> Self {
        let resolved = |e: &Evidence| e.cases - e.not_converged - e.unresolved >= MIN_RESOLVED.min(e.cases);
        if matches!(source, RateSource::Stale { .. } | RateSource::Unmeasured { .. }) {
            Verdict::Uncalibrated
        } else if evidence.not_converged > 0 || control.not_converged > 0 {
            Verdict::NotCertified
        } else if !resolved(evidence) || !resolved(control) {
            Verdict::Unresolved
        } else if evidence.as_required && control.as_required {
            Verdict::Holds
        } else {
            Verdict::Fails
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The tests among which the family-wise error is split: a check and a control per statistical
/// claim of the registry (exact claims cannot err by chance).
pub fn statistical_tests() -> usize {
    2 * registry().iter().filter(|c| !c.exact).count()
}

/// C10's share of the family-wise error per test, in units of the others' ([`Claim::weight`]),
/// fixed before its calibration: a certified CLIP case costs about 33 s, so the 1000 cases per
/// role that bound the others' rates near 3e-3 would take 18 hours of this machine. At weight 8
/// its tests get 8e-2 / 52 = 1.54e-3 each, which allows one failure in 7 quick cases at a rate
/// bound of 8.5e-3 (no failure in 350 cases), and the others get 1e-2 / 52 = 1.92e-4 each, which
/// allows one at 3.0e-3 (no failure in 1000 cases).
pub const C10_WEIGHT: u32 = 8;

/// The units among which the family-wise error is split: [`Claim::weight`] for a check and for
/// a control of each statistical claim of the registry.
pub fn level_units() -> u32 {
    registry().iter().filter(|c| !c.exact).map(|c| 2 * c.weight).sum()
}

/// The level of `claim`'s check and of its control: [`FAMILY_WISE_ERROR`] times its weight over
/// [`level_units`] (weighted Bonferroni; the same whichever claims run). Exact claims allow
/// nothing at any level.
pub fn test_level(claim: &Claim) -> f64 {
    FAMILY_WISE_ERROR * f64::from(claim.weight) / f64::from(level_units().max(1))
}

/// Judges the cases of one role by the pass-count rule at per-case rate `rate` and `level`.
fn judge(claim: &Claim, role: Role, budget: Budget, master: u64, rate: f64, level: f64) -> Result<Evidence> {
    let per_case = calibration::quick_cases(claim, role, budget, master)?;
    let tally = calibration::Tally::of(&per_case, role);
    let counted: Vec<&Case> = per_case.iter().filter(|c| c.converged && c.resolved).collect();
    let wrong_way = tally.wrong as usize;
    let passed_cases = match role {
        Role::Check => counted.len() - wrong_way,
        Role::Control => wrong_way,
    };
    let allowed = allowed_failures(counted.len(), rate, level);
    // The worst case: for a check the one farthest above (or below) its threshold, for a
    // control the one closest to passing.
    // Signed and relative to the threshold's size, so that statistics and thresholds of either
    // sign order correctly (a negative t, a log-log slope against -0.25); the claim's direction
    // is read off the case (an `at_most` case passes below its threshold).
    let severity = |c: &Case| {
        let s = if c.statistic.is_finite() {
            (c.statistic - c.threshold) / c.threshold.abs().max(f64::MIN_POSITIVE)
        } else {
            f64::INFINITY
        };
        let above = c.statistic > c.threshold;
        let at_most = if c.passed { !above } else { above };
        if at_most { s } else { -s }
    };
    // Over the counted cases (an unresolved case is neither a failure nor a pass), or every case
    // when none counts.
    let pool: Vec<&Case> = if counted.is_empty() { per_case.iter().collect() } else { counted.clone() };
    let worst = pool.iter().copied().max_by(|a, b| {
        let (sa, sb) = (severity(a), severity(b));
        match role {
            Role::Check => (!a.passed, sa).partial_cmp(&(!b.passed, sb)).unwrap_or(std::cmp::Ordering::Equal),
            Role::Control => (a.passed, -sa).partial_cmp(&(b.passed, -sb)).unwrap_or(std::cmp::Ordering::Equal),
        }
    });
    let p_value = (rate > 0.0)
        .then(|| if wrong_way == 0 { 1.0 } else { evidence::false_rejection(counted.len(), rate, wrong_way - 1) });
    Ok(Evidence {
        role,
        cases: per_case.len(),
        passed_cases,
        not_converged: tally.not_converged as usize,
        unresolved: tally.unresolved as usize,
        rate,
        allowed,
        error_bound: evidence::false_rejection(counted.len(), rate, allowed),
        as_required: wrong_way <= allowed,
        worst: worst.map_or(f64::NAN, |c| c.statistic),
        threshold: worst.map_or(f64::NAN, |c| c.threshold),
        nearest_wrong: per_case.iter().filter_map(|c| c.nearest_wrong).reduce(f64::min),
        p_value,
        details: worst.map(|c| c.note.clone()).unwrap_or_default(),
        per_case,
    })
}

/// Runs one claim and its control at master seed `master`, judged with the rates of the
/// calibration committed with the crate ([`Calibration::embedded`]).
///
/// # Errors
/// A library error in a case, or an embedded calibration that does not parse.
pub fn run(claim: &Claim, budget: Budget, master: u64) -> Result<Outcome> {
    run_with(claim, budget, master, Calibration::embedded()?)
}

/// Runs one claim and its control at master seed `master`, each role at its [`test_level`] with its
/// per-case rate from `calibration`: the bound measured for this case design, 0 for an exact
/// claim. A claim without a current entry (stale: another case design; missing; or on fewer than
/// [`calibration::MIN_CASES`] counted cases) is refused: its cases run and are reported, judged
/// as if no case could err (rate 0, no failure allowed, error bound 0: a refused claim cannot be
/// rejected), and the verdict is [`Verdict::Uncalibrated`].
///
/// # Errors
/// A library error in a case.
pub fn run_with(claim: &Claim, budget: Budget, master: u64, calibration: &Calibration) -> Result<Outcome> {
    let t = std::time::Instant::now();
    let level = test_level(claim);
    let (source, rates) = match calibration.status(claim) {
        Status::Exact => (RateSource::Exact, (0.0, 0.0)),
        Status::Measured(e) => (
            RateSource::Measured {
                fingerprint: e.fingerprint.clone(),
                check: (e.check.counted(), e.check.wrong),
                control: (e.control.counted(), e.control.wrong),
            },
            (e.check.bound(), e.control.bound()),
        ),
        Status::Stale { recorded, current } => (RateSource::Stale { recorded, current }, (0.0, 0.0)),
        Status::Missing => (RateSource::Unmeasured { counted: 0 }, (0.0, 0.0)),
        Status::Incomplete(e) => (RateSource::Unmeasured { counted: e.counted() }, (0.0, 0.0)),
    };
    let no_verdict_chance = calibration
        .claims
        .get(claim.id)
        .filter(|e| !matches!(e.status(claim), Status::Stale { .. }))
        .map(|e| e.no_verdict_chance(budget.pick(claim.cases.0, claim.cases.1)));
    let evidence = judge(claim, Role::Check, budget, master, rates.0, level)?;
    let control = judge(claim, Role::Control, budget, master, rates.1, level)?;
    Ok(Outcome {
        id: claim.id,
        statement: claim.statement,
        tolerance: claim.tolerance,
        verdict: Verdict::of(&evidence, &control, &source),
        level,
        no_verdict_chance,
        error_bound: evidence.error_bound + control.error_bound,
        calibration: source,
        evidence,
        control,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// The claims named by `only` (all of them when `None`) less those named by `skip`, in registry
/// order; ids are case-insensitive (e.g. `c4`).
///
/// # Errors
/// An unknown id, an empty list, a skipped claim that `only` leaves out (a likely typo: skipping
/// it would change nothing), or nothing left to run.
pub fn select(only: Option<&[String]>, skip: Option<&[String]>) -> Result<Vec<Claim>> {
    let all = registry();
    let ids = |list: &[String], what: &str| -> Result<Vec<String>> {
        if list.iter().all(|s| s.trim().is_empty()) {
            return Err(CheckError::Selection(format!("no claims {what}: name at least one, e.g. C4,C7")));
        }
        let wanted: Vec<String> = list.iter().map(|c| c.trim().to_uppercase()).collect();
        match wanted.iter().find(|w| !all.iter().any(|c| c.id == w.as_str())) {
            Some(w) => Err(CheckError::Selection(format!("unknown claim '{w}'; known: C1..C{}", all.len()))),
            None => Ok(wanted),
        }
    };
    let only = only.map(|l| ids(l, "selected")).transpose()?;
    let skip = skip.map(|l| ids(l, "to skip")).transpose()?.unwrap_or_default();
    if let Some(only) = &only
        && let Some(s) = skip.iter().find(|s| !only.contains(s))
    {
        return Err(CheckError::Selection(format!("{s} is skipped but not selected ({})", only.join(","))));
    }
    let kept: Vec<Claim> = all
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.iter().any(|w| w == c.id)) && !skip.iter().any(|s| s == c.id))
        .collect();
    if kept.is_empty() {
        return Err(CheckError::Selection("every selected claim is skipped: nothing to run".into()));
    }
    Ok(kept)
}
