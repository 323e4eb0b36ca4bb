//! Claims about the zoo of losses beyond the paper (`../shared/spec/zoo/zoo.md`; docs/theory.md
//! section 3): population fits by the verdict harness (crate `verdict`), each certified by its
//! relative gradient and the agreement of its starts, and classified by what the minimiser
//! recovers.

use gmm_core::Sig3;
use ssl_losses::VicRegWeights;
use ssl_losses::{BYOL_MOMENTUM, FixedPointSettings, FlowRule};
use verdict::{
    ClassifySettings, FitSettings, FlowLoss, Inputs, Outcome, Scenario, TableLoss, Verdict, View, ZooLoss, verdict,
};

use crate::common::{case_shape, mixture};
use crate::evidence::{Case, Ctx, Result};

/// The Barlow Twins weights of C19's cases, by case index: the official one, the zoo's middle
/// one and a strong one.
pub const BARLOW_LAMBDAS: [f64; 3] = [ssl_losses::BARLOW_LAMBDA, 1.0, 10.0];

/// The scenario of a case: a mixture of the common family (`k >= 3`, so that a collapse to rank
/// 1 is a proper subspace of `F`), views made by `view` (the zoo table's augmentations), `r = k - 1`.
fn zoo_scenario(ctx: &Ctx, view: View) -> Result<Scenario> {
    let (k, d, cond, noise) = case_shape(ctx);
    let g = mixture(k.max(3), d, cond, noise, ctx.seed)?;
    let (augmentation, r) = (view.augmentation(&g)?, g.k() - 1);
    Ok(Scenario::new(g, augmentation, r)?)
}

/// The harness's verdict on `loss` for a case's scenario ([`zoo_scenario`]).
fn zoo_verdict(ctx: &Ctx, loss: TableLoss, view: View) -> Result<(Verdict, Scenario)> {
    let scenario = zoo_scenario(ctx, view)?;
    let v = loss.verdict(&scenario, &FitSettings::default(), &ClassifySettings::default(), ctx.seed ^ 0xb7)?;
    Ok((v, scenario))
}

/// One line of what a verdict found.
fn describe(v: &Verdict, scenario: &Scenario) -> String {
    format!(
        "k {}, d {}: {} (rank {} of {}, ratio across the cut {}, sin to F {}, max |corr| {:.2}; relative gradient or residual {}, {}/{} starts agree)",
        scenario.gmm.k(),
        scenario.gmm.dim(),
        v.outcome,
        v.rank,
        v.fisher_dim,
        Sig3(v.rank_ratio),
        Sig3(v.sin_to_fisher),
        v.max_output_correlation,
        Sig3(v.fit.relative_gradient),
        v.fit.agreeing_starts,
        v.fit.start_values.len()
    )
}

/// Barlow Twins' collapse threshold (zoo.md item 2, DERIVED there from the rank-1
/// configuration's second-order condition): with the canonical correlations `tau_1 > tau_2` of
/// the pair and `r` outputs, the configuration whose every row is the top Fisher direction is a
/// strict local minimum iff `lambda < lambda* = (1 - tau_1)(tau_1 - tau_2) / (tau_1 (tau_2 +
/// (r - 1) tau_1))`. With `other_rows = false` the nearest wrong threshold, which drops the
/// other rows' coupling: `(1 - tau_1)(tau_1 - tau_2) / (tau_1 tau_2)`.
pub fn collapse_threshold(tau: &[f64], r: usize, other_rows: bool) -> f64 {
    let (t1, t2) = (tau[0], tau.get(1).copied().unwrap_or(0.0));
    let coupling = if other_rows { t2 + (r as f64 - 1.0) * t1 } else { t2 };
    (1.0 - t1) * (t1 - t2) / (t1 * coupling)
}

/// How far below and above a threshold C18 fits: `lambda* / THRESHOLD_FACTOR` and
/// `THRESHOLD_FACTOR lambda*`.
pub const THRESHOLD_FACTOR: f64 = 1.25;

/// C18 and its control: certified fits just below and just above a threshold (a factor
/// [`THRESHOLD_FACTOR`] either side; C18: [`collapse_threshold`]; control: the threshold without
/// the other rows' coupling). Statistic: the rank below the threshold (1 claimed), passing only
/// when above it the rank exceeds 1 and every row lies in `F` at both (the outcome
/// collapsed-in-F or F). A control case whose wrong threshold is within a factor
/// `THRESHOLD_FACTOR^2` of the true one cannot tell them apart where C18 is tested: it is
/// unresolved.
fn barlow_threshold(ctx: &Ctx, other_rows: bool) -> Result<Case> {
    let scenario = zoo_scenario(ctx, View::Coupled)?;
    let r = scenario.r;
    let tau = ssl_losses::whitened_eigenvalues(&scenario.views.cov_left(), &scenario.views.cross_covariance())?;
    let tau: Vec<f64> = tau.iter().copied().collect();
    let threshold = collapse_threshold(&tau, r, other_rows);
    let settings = ClassifySettings::default();
    let fit_at = |lambda: f64| {
        verdict(
            &mut ZooLoss::BarlowTwins { lambda, eps: 0.0 },
            &scenario,
            &FitSettings::default(),
            &settings,
            ctx.seed ^ 0xb7,
        )
    };
    let (below, above) = (fit_at(threshold / THRESHOLD_FACTOR)?, fit_at(threshold * THRESHOLD_FACTOR)?);
    let in_fisher = |v: &Verdict| matches!(v.outcome, Outcome::Fisher | Outcome::Collapsed { .. });
    let note = format!(
        "k {}, d {}, tau_1 {:.3}, tau_2 {:.3}: threshold {}; below {}, above {}",
        scenario.gmm.k(),
        scenario.gmm.dim(),
        tau[0],
        tau[1],
        Sig3(threshold),
        describe(&below, &scenario),
        describe(&above, &scenario)
    );
    let case = Case::at_most(below.rank as f64, 1.0, note)
        .and(above.rank > 1 && in_fisher(&below) && in_fisher(&above))
        .nearest_wrong(r as f64)
        .certified(below.resolved(&settings) && above.resolved(&settings));
    let true_threshold = collapse_threshold(&tau, r, true);
    Ok(if !other_rows && threshold < THRESHOLD_FACTOR * THRESHOLD_FACTOR * true_threshold {
        case.unresolved("the wrong threshold is within a factor 1.25^2 of the true one")
    } else {
        case
    })
}

/// C18: Barlow Twins collapses to rank 1 below its threshold `lambda*` and not above: at
/// `lambda* / 1.25` the certified minimiser has rank 1, at `1.25 lambda*` a rank above 1, rows in
/// `F` at both ([`collapse_threshold`]).
pub fn c18(ctx: &Ctx) -> Result<Case> {
    barlow_threshold(ctx, true)
}

/// C18 control: the threshold without the other rows' coupling (larger by
/// `(tau_2 + (r - 1) tau_1) / tau_2`): just below it the minimiser does not collapse.
pub fn c18_control(ctx: &Ctx) -> Result<Case> {
    barlow_threshold(ctx, false)
}

/// C19: Barlow Twins keeps every row in `F` on coupled pairs at any weight: the certified
/// population minimiser's row space lies in `F` (collapsed or not). Statistic: how far the row
/// space lies from inside `F` (containment), against the subspace tolerance; `lambda` cycles
/// through [`BARLOW_LAMBDAS`]. Nearest wrong answer: population PCA's distance to `F`.
pub fn c19(ctx: &Ctx) -> Result<Case> {
    rows_in_fisher(ctx, barlow_at(ctx), View::Coupled, false)
}

/// C19 control: masked views (one Bernoulli(0.5) mask), whose cross moment `p Sigma_T` is not a
/// multiple of `S_B`: the rows leave `F`.
pub fn c19_control(ctx: &Ctx) -> Result<Case> {
    rows_in_fisher(ctx, barlow_at(ctx), View::Mask, false)
}

fn barlow_at(ctx: &Ctx) -> ZooLoss {
    ZooLoss::BarlowTwins { lambda: BARLOW_LAMBDAS[ctx.index % BARLOW_LAMBDAS.len()], eps: 0.0 }
}

/// The VICReg weights of C20's cases, by case index: the official `(25, 25, 1)` and the zoo's
/// strong covariance weight `(25, 25, 100)`.
pub const VICREG_CASES: [VicRegWeights; 2] =
    [ssl_losses::VICREG_WEIGHTS, VicRegWeights { invariance: 25.0, variance: 25.0, covariance: 100.0 }];

fn vicreg_at(ctx: &Ctx) -> (ZooLoss, bool) {
    let weights = VICREG_CASES[ctx.index % VICREG_CASES.len()];
    (ZooLoss::VicReg { weights, eps: ssl_losses::VICREG_EPS }, weights.covariance > weights.invariance)
}

/// C20: VICReg keeps every row in `F` on coupled pairs (zoo.md item 3 PROVES it for every
/// weight), and with the strong covariance weight `(25, 25, 100)` its minimiser spans all of `F`
/// (rank `k - 1`). Statistic: containment of the row space in `F`, passing at `(25, 25, 100)` only
/// with rank `k - 1`; the weights alternate between the official ones and `(25, 25, 100)`.
pub fn c20(ctx: &Ctx) -> Result<Case> {
    let (loss, full) = vicreg_at(ctx);
    rows_in_fisher(ctx, loss, View::Coupled, full)
}

/// C20 control: both views with isotropic noise of the data's mean variance (`x1 = x + xi1`,
/// `x2 = x + xi2`): the cross covariance is `Sigma_T`, not a multiple of `S_B`, and the rows leave
/// `F` (for PCA's subspace).
pub fn c20_control(ctx: &Ctx) -> Result<Case> {
    let (loss, full) = vicreg_at(ctx);
    rows_in_fisher(ctx, loss, View::NoiseBoth, full)
}

/// C21: population InfoNCE (`tau = 1`, infinitely many negatives) on coupled pairs at
/// `delta = 1`, integrated by the views' quadrature ([`ssl_losses::InfoNceViewPopulation`]:
/// stratified over the components, scrambled-Sobol nodes over the means' span): the certified
/// minimiser spans `F`, as C6 and C7 prove for the population loss. This checks the quadrature
/// path the zoo's InfoNCE verdicts rest on; its tolerance is the larger of the distance bound and
/// three times the distance to a second quadrature's minimiser.
pub fn c21(ctx: &Ctx) -> Result<Case> {
    rows_in_fisher(ctx, infonce(), View::Coupled, true)
}

/// C21 control: isotropic noise of the data's mean variance, `x+ = x + xi`, `xi ~ N(0, s2 I)`:
/// for Gaussian data the minimiser is `GEV(Sigma_T, Sigma_T + s2 I)` = PCA (zoo.md item 4,
/// PROVED), and the rows leave `F`.
pub fn c21_control(ctx: &Ctx) -> Result<Case> {
    rows_in_fisher(ctx, infonce(), View::IsotropicNoise, true)
}

/// C23: the SimSiam and BYOL flows without the whitening constraint (linear predictor,
/// stop-gradient, BYOL's moving-average target, weight decay `eta = tau_r^2 / 16`) on whitened
/// inputs and coupled pairs have a linearly stable fixed point whose rows span `F` (zoo.md item
/// 6: the `'+'` branch `W = diag(s) U^T`, `W_p = diag(p)`). The statistic is the fixed point's
/// `sin theta_max` to `F`, against Newton's step carried to `sin` (Wedin); the case passes only
/// with rank `k - 1` and every rate of the flow's Jacobian across the rotation orbit negative (an
/// unstable fixed point fails the claim, it is not left unresolved). It is decided when the
/// fixed point is solved (residual within 1e-12 of the field's terms) and its rank resolved.
pub fn c23(ctx: &Ctx) -> Result<Case> {
    flow_fixed_point(ctx, Inputs::Whitened)
}

/// C23 control: the same flows on raw inputs (weight decay scaled by the weakest input
/// variance, so that no mode decays faster than whitened): weight decay is not invariant under
/// reparametrisation (C5), and the fixed point continued from the whitened one by
/// Levenberg-Marquardt is a ridge-regularised Fisher subspace, `w_j` in
/// `(Sigma_T + (eta / p_j^2) I)^{-1} range(S_B)` (zoo.md, DERIVED there): the rows leave `F`. A raw
/// fixed point that is unstable (measured for some BYOL cases) is no answer to compare: the case
/// is unresolved. So is one whose bias, predicted to first order in the decay
/// ([`verdict::FlowLoss::ridge_bias`]), is within [`RESOLVABLE_BIAS`] tolerances: a weakly
/// determined fixed point cannot show it (measured twice in 1001 cases: tolerances 6.6e-3 and
/// 1.9e-3 against statistics of 3.4e-3 and 4.1e-4, counted as rows in `F`).
pub fn c23_control(ctx: &Ctx) -> Result<Case> {
    flow_fixed_point(ctx, Inputs::Raw)
}

/// How many tolerances the control's predicted ridge bias ([`verdict::FlowLoss::ridge_bias`])
/// must exceed for a raw case to be decided. Kantorovich's theorem puts the fixed point within
/// twice Newton's step (the tolerance) of the exact one, and a statistic above twice the
/// tolerance is decided, so a case shows the bias when it exceeds 4 tolerances; the first-order
/// prediction overstates it by up to a factor 1 / 0.175 (statistic over prediction: median 0.986,
/// 1% quantile 0.50, least 0.175 in 1047 raw cases of calibration runs 0-149), so `4 / 0.175 < 30`.
/// Measured: 3 of those 1050 cases have less (predicted over tolerance 0.62, 1.6 and 3.4); the
/// first two lay within their tolerance and passed as "in F" before this rule.
const RESOLVABLE_BIAS: f64 = 30.0;

/// The flow of C23's cases: SimSiam and BYOL (rate 0.1) alternate by case index, weight decay
/// `tau_r^2 / 16` (zoo.md item 6).
fn flow_fixed_point(ctx: &Ctx, inputs: Inputs) -> Result<Case> {
    let rule = if ctx.index.is_multiple_of(2) { FlowRule::SimSiam } else { FlowRule::Byol { momentum: BYOL_MOMENTUM } };
    let flow = FlowLoss { rule, inputs, decay: 1.0 / 16.0 };
    let (v, scenario) = zoo_verdict(ctx, flow.into(), View::Coupled)?;
    let settings = ClassifySettings::default();
    let solved = v.fit.relative_gradient <= FixedPointSettings::default().residual_rtol;
    let stable = v.fit.certified;
    let stat = v.containment();
    let predicted = flow.ridge_bias(&scenario)?;
    let note = match inputs {
        Inputs::Raw => {
            format!("{}, {}; ridge bias predicted {}", flow.name(), describe(&v, &scenario), Sig3(predicted))
        }
        Inputs::Whitened => format!("{}, {}", flow.name(), describe(&v, &scenario)),
    };
    let case = Case::at_most(stat, v.tolerance, note)
        .and(v.rank == v.fisher_dim && stable)
        .nearest_wrong(pca_to_fisher(&scenario, v.fisher_dim)?)
        .certified(solved && v.rank_ratio >= settings.rank_gap);
    // Newton's step bounds the distance to the exact fixed point to first order; Kantorovich's
    // theorem allows up to twice it, so a statistic between one and two tolerances is not
    // decided (measured once in 280 raw cases: a weakly determined fixed point, tolerance 2.7e-3
    // against 2.8e-3).
    Ok(if inputs == Inputs::Raw && solved && !stable {
        case.unresolved("the raw flow's fixed point continued from the whitened one is unstable")
    } else if inputs == Inputs::Raw && predicted < RESOLVABLE_BIAS * v.tolerance {
        case.unresolved("the predicted ridge bias is within 30 tolerances: this fixed point cannot show it")
    } else if stat > v.tolerance && stat <= 2.0 * v.tolerance {
        case.unresolved("the statistic is within twice its tolerance (Newton's step, to first order)")
    } else {
        case
    })
}

/// The sample sizes of C22 (C12's).
pub const C22_SIZES: [usize; 4] = [2000, 8000, 32_000, 128_000];

/// C22: two-view CCA on masked pairs `(x, D x)` (`D` a Bernoulli(0.5) mask) estimates PCA of the
/// correlation matrix: zoo.md item 5 PROVES that the population canonical directions are the top
/// generalized eigenvectors of `(Sigma_T, diag Sigma_T)`, so the sample CCA's `sin theta_max` to
/// them falls like `n^{-1/2}`: the log-log slope of the mean error over 4 seeds at
/// [`C22_SIZES`] lies in [`crate::spectral::SLOPE_BAND`]. The case resolves when two-view CCA at
/// the largest `n` is within [`crate::common::MAX_FLOOR`] of its target (the `n^{-1/2}` regime:
/// a tiny eigengap at `r` keeps the error near 1 over the whole range).
pub fn c22(ctx: &Ctx) -> Result<Case> {
    masked_cca_rate(ctx, false)
}

/// C22 control: the same estimator and target on pairs with isotropic additive noise of the
/// data's mean variance (`x+ = x + xi`) instead of a mask: there the canonical directions are
/// PCA's (zoo.md item 4), not the correlation matrix's, and the error to correlation PCA levels
/// off at their distance (no rate). (The workspace's one-matrix `CcaPairs` is no control: it pools
/// both views' covariances, `GEV(p Sigma_T, (Sigma_T + Sigma_m) / 2)`, a monotone transform of
/// correlation PCA's problem, and converges to it too: measured slope -0.42 to -0.44.)
pub fn c22_control(ctx: &Ctx) -> Result<Case> {
    masked_cca_rate(ctx, true)
}

fn masked_cca_rate(ctx: &Ctx, noise: bool) -> Result<Case> {
    use crate::common::{MAX_FLOOR, sin_to};
    use crate::spectral::{SLOPE_BAND, in_band, mean_errors, slope_of};
    use baselines::{Cca, Fit};
    let k = 2 + ctx.index % 3;
    let g = mixture(k, 8 + 2 * (ctx.index % 3), 100.0, ctx.index % 2 == 1, ctx.seed)?;
    let r = k - 1;
    let masked = gmm_core::Augmentation::masking(0.5)?;
    let Some(target) = verdict::Yardstick::CorrelationPca.subspace(&Scenario::new(g.clone(), masked.clone(), r)?, r)?
    else {
        return Ok(Case::at_most(f64::NAN, SLOPE_BAND.1, format!("k {k}, d {}", g.dim()))
            .unresolved("correlation PCA has no eigengap at r"));
    };
    let error = |augmentation: &gmm_core::Augmentation, n: usize, s: u64| -> Result<f64> {
        let p = augmentation.sample(&g, n, &mut gmm_core::seeded(ctx.seed ^ (53 * s + n as u64)))?;
        sin_to(Cca::new(r).fit((&p.x, &p.x_plus))?.map_x.components(), &target)
    };
    let views = if noise { View::IsotropicNoise.augmentation(&g)? } else { masked.clone() };
    let errors = mean_errors(&C22_SIZES, 4, |n, s| error(&views, n, s))?;
    let slope = slope_of(&C22_SIZES, &errors);
    // The anchor: two-view CCA on masked pairs at the largest n, in the check and the control.
    let reached = error(&masked, C22_SIZES[3], 0)?;
    let pca = g.pca_subspace(r)?.sin_theta_max(&target)?;
    let note = format!(
        "k {k}, d {}: two-view CCA on {} pairs, errors to correlation PCA {:.3?} over n = {C22_SIZES:?}, slope {slope:.3}; on masked pairs at n {} {}; PCA's sin to correlation PCA {pca:.3}",
        g.dim(),
        if noise { "isotropic-noise" } else { "masked" },
        errors,
        C22_SIZES[3],
        Sig3(reached)
    );
    let case = Case::at_most(slope, SLOPE_BAND.1, note).and(in_band(slope)).nearest_wrong(0.0);
    Ok(if reached > MAX_FLOOR {
        case.unresolved("two-view CCA is not yet in its n^{-1/2} regime at the largest n")
    } else {
        case
    })
}

/// C24: InfoNCE on masked views `(x, D x)` (`D` a Bernoulli(0.5) mask; a sample claim: the views
/// are not Gaussian mixtures and the population form does not apply) does not recover `F`: the
/// best map with rows in `F` loses to the unrestricted fit on held-out pairs
/// ([`verdict::fisher_gap`]: both fitted to their certificate on 4096 pairs, compared on 16384
/// fresh ones in 64 batches of 256, the same negatives for both). The statistic is the paired
/// t of the held-out gap, against the one-sided critical value at level 1e-3; the nearest wrong
/// answer, a minimiser in `F`, has no gap (t 0 in expectation, below it with overfitting).
pub fn c24(ctx: &Ctx) -> Result<Case> {
    held_out_gap(ctx, View::Mask)
}

/// C24 control: the same test on coupled pairs, where the minimiser is `F` (C7, C21): the
/// restricted map loses nothing, so the test must not reject (it does with probability at most
/// its level, and overfitting favours the restricted map).
pub fn c24_control(ctx: &Ctx) -> Result<Case> {
    held_out_gap(ctx, View::Coupled)
}

fn held_out_gap(ctx: &Ctx, view: View) -> Result<Case> {
    let scenario = zoo_scenario(ctx, view)?;
    let gap = verdict::fisher_gap(&scenario, 1.0, &verdict::HeldOutSettings::default(), ctx.seed ^ 0x24)?;
    let note = format!(
        "k {}, d {}, {}: held-out InfoNCE loss of the best map in F minus the unrestricted fit's {} +- {} nats over {} batches (t {:.1}, p {}; training gap {}); the unrestricted fit's sin to F {:.3}; relative gradients {}",
        scenario.gmm.k(),
        scenario.gmm.dim(),
        view.name(),
        Sig3(gap.gap),
        Sig3(gap.standard_error),
        gap.batches,
        gap.t,
        Sig3(gap.p_value),
        Sig3(gap.training_gap),
        gap.sin_to_fisher,
        Sig3(gap.relative_gradient)
    );
    Ok(Case::at_least(gap.t, gap.critical_t, note).nearest_wrong(0.0).certified(gap.certified))
}

fn infonce() -> ZooLoss {
    ZooLoss::InfoNce { tau: 1.0, nodes: ssl_losses::INFONCE_VIEW_NODES, seed: 0 }
}

/// The containment statistic of C19 to C21 and C23: how far the certified minimiser's row space lies
/// from inside `F` (1 when its rank exceeds `dim F`), in the anchors' whitened coordinates,
/// against the verdict's tolerance (the distance bound, the quadrature's floor, or the fixed
/// 1e-6 where neither applies), passing only with rank `dim F` when `full_rank`.
fn rows_in_fisher(ctx: &Ctx, loss: impl Into<TableLoss>, view: View, full_rank: bool) -> Result<Case> {
    let loss = loss.into();
    let name = loss.name();
    let (v, scenario) = zoo_verdict(ctx, loss, view)?;
    let settings = ClassifySettings::default();
    let stat = v.containment();
    Ok(Case::at_most(stat, v.tolerance, format!("{name}, {}", describe(&v, &scenario)))
        .and(!full_rank || v.rank == v.fisher_dim)
        .nearest_wrong(pca_to_fisher(&scenario, v.fisher_dim)?)
        .certified(v.decides(stat, &settings)))
}

/// The nearest wrong answer of the zoo claims: population PCA's distance to `F`, in the anchors'
/// whitened coordinates, where the statistic lives.
fn pca_to_fisher(scenario: &Scenario, dim: usize) -> Result<f64> {
    Ok(scenario
        .whiten(&scenario.gmm.pca_subspace(dim)?)?
        .sin_theta_max(&scenario.whiten(&scenario.gmm.fisher_subspace()?)?)?)
}
