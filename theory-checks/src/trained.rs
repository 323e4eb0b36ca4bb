//! Trained minimisers: C6 (noise only hurts), C9, C10, C11 (C8: `contained.rs`; C15:
//! `uncentred.rs`). Every
//! trained map is certified (docs/theory.md 5.3); thresholds are multiples of the noise floor of a
//! closed-form estimator on the same sample.

use baselines::{Cca, Fit, KMeans, Lda, adjusted_rand_index};
use gmm_core::Sig3;
use gmm_core::{ClipGenerator, Gmm, LinearMap, Side, Subspace, seeded};
use nalgebra::DMatrix;
use ssl_losses::{
    Centering, Clip, FixedPairs, FnCost, InfoNce, Lbfgs, PairSource, PopulationInfoNceLoss, Preconditioner,
    WhitenedSimSiam, Whitening, whitened_eigenvalues, whitened_optimum,
};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::common::{
    CHECK_RTOL, FLOOR_FACTOR, MAX_PAIRS, PAIRS, Start, anchored, best_of_starts, cca_floor, certified_infonce, mixture,
    sin_to, start_seed,
};
use crate::evidence::{Case, Ctx, Result};

/// C6: `L_inf(A) >= L_inf(A P)` (noise only hurts). Paired test with common random numbers: the
/// per-sample differences `L_i(A) - L_i(A P)` on the same samples, one-sided t-test of mean > 0
/// at a random `A`; statistic: its p-value, threshold [`C6_LEVEL`].
pub fn c6(ctx: &Ctx) -> Result<Case> {
    jensen(ctx, false)
}

/// C6 control: the orthogonal projector `Q` onto the mean span instead of the oblique `P`, at
/// maps that read the Fisher coordinates (`A` = a random 2 x 2 mix of an orthonormal basis of `F`,
/// scale 0.5). At random large maps any contraction lowers the loss, so "L(A Q) <= L(A)" there
/// proves nothing (docs/theory.md 5.5); at maps in `F`, `Q` throws away the directions that cancel
/// the within-class noise and the loss rises, so the inequality is specific to `P`.
pub fn c6_control(ctx: &Ctx) -> Result<Case> {
    jensen(ctx, true)
}

/// C6's per-case test level.
pub const C6_LEVEL: f64 = 1e-4;

fn jensen(ctx: &Ctx, orthogonal: bool) -> Result<Case> {
    let n = ctx.budget.pick(400, 1000);
    let seed = ctx.seed;
    let g = mixture(3, 6, 30.0, false, seed)?;
    let p = if orthogonal { g.mean_span()?.projector() } else { g.fisher_projector()? };
    let pop = PopulationInfoNceLoss::new(&g, 1.0, 1.0)?;
    let a = if orthogonal {
        let mix = gmm_core::gaussian_matrix(2, 2, &mut seeded(seed ^ 3));
        mix * g.fisher_subspace()?.basis().transpose() * 0.5
    } else {
        gmm_core::gaussian_matrix(2, 6, &mut seeded(seed ^ 3)) * 0.4
    };
    let x = g.sample(n, &mut seeded(seed ^ 500)).x;
    let la = pop.per_sample_losses(&a, &x)?;
    let lp = pop.per_sample_losses(&(&a * &p), &x)?;
    let d: Vec<f64> = la.iter().zip(&lp).map(|(u, v)| u - v).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt();
    let t = mean / (sd / (n as f64).sqrt());
    let p_value = StudentsT::new(0.0, 1.0, n as f64 - 1.0).map(|s| 1.0 - s.cdf(t)).unwrap_or(f64::NAN);
    Ok(Case::at_most(
        p_value,
        C6_LEVEL,
        format!(
            "paired t = {t:.1} for L(A) - L(A{}) > 0 at {} ({n} common samples); p {p_value}",
            if orthogonal { "Q" } else { "P" },
            if orthogonal { "a map reading the Fisher coordinates" } else { "a random A, entries N(0, 0.4^2)" },
            p_value = Sig3(p_value)
        ),
    ))
}

/// The couplings C9's cases cycle through, down to 0.2.
pub const C9_DELTAS: [f64; 6] = [1.0, 0.7, 0.5, 0.4, 0.3, 0.2];

/// The share of held-out points whose k-means label (on InfoNCE's representation) C9's control
/// replaces by a uniformly random one: an injected ARI loss of about 0.1-0.2, five to ten times
/// the equivalence margin [`C9_MARGIN`].
pub const C9_INJECTED: f64 = 0.1;

/// C9: every `delta` in (0, 1] gives `F`: the certified minimiser on `5e3 / delta^2` pairs
/// (1 / delta^2 keeps the floor's scale: the signal's correlation is `delta`) is within
/// [`FLOOR_FACTOR`] of CCA's error on the same pairs, `delta` cycling through [`C9_DELTAS`].
/// Downstream: held-out k-means ARI after label-free whitening of each representation,
/// InfoNCE's minus LDA's (LDA on the anchors with their labels), within the equivalence margin
/// [`C9_MARGIN`] in every case (the gaps spread by about 0.002 around -0.001, a tenth of the
/// margin).
pub fn c9(ctx: &Ctx) -> Result<Case> {
    ari_case(ctx, C9_DELTAS[ctx.index % C9_DELTAS.len()], false)
}

/// C9 control: the same cases with an ARI loss injected into InfoNCE's clustering
/// ([`C9_INJECTED`] of its labels randomised): each gap falls below `-C9_MARGIN` (to about -0.15),
/// showing the margin can reject.
pub fn c9_control(ctx: &Ctx) -> Result<Case> {
    ari_case(ctx, C9_DELTAS[ctx.index % C9_DELTAS.len()], true)
}

/// The separation of C9's mixtures' means (2, twice the sweeps'): at `delta = 0.2` the pairs'
/// weaker canonical correlation is `delta` times the mixture's, and at separation 1 it left the
/// CCA floor near 0.7 at 1.25e5 pairs (8e6 predicted for a floor of 0.1, measured at master seed
/// 11), so the smallest couplings could not be resolved.
pub const C9_SEPARATION: f64 = 2.0;

/// C9's mixture: `k = 3`, `d = 10`, condition 30, separation [`C9_SEPARATION`].
fn ari_mixture(seed: u64) -> Result<gmm_core::Gmm> {
    Ok(gmm_core::MixtureGenerator::isotropic(3, 10)
        .condition(30.0)
        .separation(C9_SEPARATION)
        .generate(&mut seeded(seed))?)
}

fn ari_case(ctx: &Ctx, delta: f64, inject: bool) -> Result<Case> {
    use gmm_core::rand::RngExt;
    let g = ari_mixture(ctx.seed)?;
    let f = g.fisher_subspace()?;
    let wrong = g.mean_span()?.sin_theta_max(&f)?;
    let (pairs, anchor) = ari_pairs(&g, delta, ctx.seed)?;
    let floor = anchor.floor;
    let fit = certified_infonce(&pairs, &InfoNce::new(2), ctx.seed, Some(floor))?;
    let (a, converged) = (&fit.fit, fit.certified);
    let sin = sin_to(a, &f)?;
    let test = g.sample(10_000, &mut seeded(ctx.seed ^ 9));
    let lda = Lda::new().fit((&pairs.x, &pairs.z))?;
    let clusters = |m: &DMatrix<f64>| -> Result<Vec<usize>> {
        let z = LinearMap::new(m.clone()).transform(&test.x)?;
        let white = Preconditioner::fit(&z, Centering::SampleMean, Whitening::SampleCovariance)?.apply(&z)?;
        Ok(KMeans::new(3).seed(ctx.seed).fit(&white)?.labels)
    };
    let mut ssl = clusters(a)?;
    if inject {
        let mut rng = seeded(ctx.seed ^ 0x1a7e);
        for label in &mut ssl {
            if rng.random::<f64>() < C9_INJECTED {
                *label = rng.random_range(0..3);
            }
        }
    }
    let ari_ssl = adjusted_rand_index(&test.z, &ssl)?;
    let ari_lda = adjusted_rand_index(&test.z, &clusters(lda.map.components())?)?;
    let (ratio, gap) = (sin / floor, ari_ssl - ari_lda);
    let note = format!(
        "delta {delta}, n {}: sin {} / floor {} = {ratio:.2} ({}); ARI {ari_ssl:.3} vs LDA {ari_lda:.3} (gap {gap:+.4}, margin {C9_MARGIN}){}",
        pairs.x.nrows(),
        Sig3(sin),
        Sig3(floor),
        fit.note,
        if inject { format!(" ({C9_INJECTED} of InfoNCE's labels randomised)") } else { String::new() }
    );
    // The check needs F and the gap within the margin; the control, whose fit is F, needs the
    // gap within the margin and must fail it.
    let within = gap.abs() <= C9_MARGIN;
    let case = if inject {
        Case::at_least(gap, -C9_MARGIN, note).and(within)
    } else {
        Case::at_most(ratio, FLOOR_FACTOR, note).and(within)
    };
    Ok(anchor.apply(case.certified(converged).nearest_wrong(wrong / floor)))
}

/// C9's pairs at coupling `delta`: `5e3 / delta^2` first (at most [`MAX_PAIRS`]), anchored
/// against the mean span.
fn ari_pairs(g: &gmm_core::Gmm, delta: f64, seed: u64) -> Result<(gmm_core::Pairs, crate::common::Anchor)> {
    let f = g.fisher_subspace()?;
    let wrong = g.mean_span()?.sin_theta_max(&f)?;
    let first = (PAIRS as f64 / (4.0 * delta * delta)).min(MAX_PAIRS as f64).round() as usize;
    anchored(
        first,
        |n| Ok(g.sample_pairs(n, delta, &mut seeded(seed ^ 2))?),
        |p: &gmm_core::Pairs| cca_floor(p, &f),
        Some(wrong),
    )
}

/// The equivalence margin of C9's ARI comparison.
pub const C9_MARGIN: f64 = 0.02;

/// C10: CLIP-GMM with private means Sigma-orthogonal to the shared ones: each modality's
/// certified CLIP map (2e4 pairs) is within [`FLOOR_FACTOR`] of the noise floor of its shared
/// Fisher subspace, the error of two-view CCA on the same pairs (the label-free closed form,
/// consistent for the shared Fisher subspace here, error `~ n^{-1/2}`).
pub fn c10(ctx: &Ctx) -> Result<Case> {
    clip_case(ctx, true)
}

/// C10 control: without the orthogonality condition: the private part acts as within-class
/// noise and CLIP lands in `span{Cov(x|z)^{-1}(mu_i - mu_bar)}`, off the shared Fisher subspace
/// by a margin.
pub fn c10_control(ctx: &Ctx) -> Result<Case> {
    clip_case(ctx, false)
}

/// The private means' scale in C10 (the shared means' is 1): strong enough that, without the
/// orthogonality condition, the private part moves the Fisher subspace of `Cov(x|z)` off the
/// shared one by a margin (the control's premise).
pub const C10_PRIVATE: f64 = 3.0;

fn clip_case(ctx: &Ctx, orthogonal: bool) -> Result<Case> {
    let generator = ClipGenerator { private_separation: C10_PRIVATE, ..ClipGenerator::new(3, 3, 8, 6) };
    let c = generator.orthogonal(orthogonal).generate(&mut seeded(ctx.seed))?;
    // In the orthogonal case CCA is consistent for the shared F; without the condition it is
    // consistent for the Cov(x|z) Fisher subspace, so its floor is its error there.
    let target = |side: Side| -> Result<Subspace> {
        Ok(if orthogonal {
            c.shared_gmm(side)?.fisher_subspace()?
        } else {
            c.conditional_gmm(side)?.fisher_subspace()?
        })
    };
    let floors = |(_, cca): &(gmm_core::ClipPairs, baselines::CcaFit)| -> Result<f64> {
        Ok(sin_to(cca.map_x.components(), &target(Side::X)?)?.max(sin_to(cca.map_y.components(), &target(Side::Y)?)?))
    };
    // The nearest wrong answer of the check: each modality's shared mean span (the control's
    // only needs the absolute floor bound).
    let mut wrong_span = f64::INFINITY;
    for side in [Side::X, Side::Y] {
        let shared = c.shared_gmm(side)?;
        wrong_span = wrong_span.min(shared.mean_span()?.sin_theta_max(&shared.fisher_subspace()?)?);
    }
    let ((pairs, cca), anchor) = anchored(
        PAIRS,
        |n| {
            let p = c.sample_pairs(n, &mut seeded(ctx.seed ^ 2))?;
            let cca = Cca::new(2).fit((&p.x, &p.y))?;
            Ok((p, cca))
        },
        floors,
        orthogonal.then_some(wrong_span),
    )?;
    // A single start can stall far from the optimum (measured: 0.98 from F without its
    // certificate): the starts rule decides, its bound against the case's floor.
    let solver = Lbfgs { grad_rtol: CHECK_RTOL, ..Default::default() };
    let best = best_of_starts(Some(anchor.floor), |start| {
        let fit = Clip::new(2)
            .seed(start_seed(ctx.seed, start))
            .solver(solver)
            .bound_distance(true)
            .fit((&pairs.x, &pairs.y))?;
        Ok(Start {
            loss: fit.run.loss(),
            row_spaces: vec![fit.map_x.row_space()?, fit.map_y.row_space()?],
            certificate: fit.run.certificate,
            fit,
        })
    })?;
    let fit = &best.fit;
    let mut worst: f64 = 0.0;
    let mut wrong = f64::INFINITY;
    let mut notes = Vec::new();
    for (side, map, closed) in [(Side::X, &fit.map_x, &cca.map_x), (Side::Y, &fit.map_y, &cca.map_y)] {
        let shared = c.shared_gmm(side)?;
        let f = shared.fisher_subspace()?;
        let floor = sin_to(closed.components(), &target(side)?)?;
        let sin = sin_to(map.components(), &f)?;
        worst = worst.max(sin / floor);
        wrong = wrong.min(shared.mean_span()?.sin_theta_max(&f)? / floor);
        notes.push(format!("{}: sin to shared F {} / CCA floor {}", side.name(), Sig3(sin), Sig3(floor)));
    }
    let note = format!("n {}: {}; {}", pairs.x.nrows(), notes.join("; "), best.note);
    let case = Case::at_most(worst, FLOOR_FACTOR, note).certified(best.certified).nearest_wrong(wrong);
    Ok(anchor.apply(case))
}

/// The smallest weaker whitened correlation (`lambda_{k-1}` of `M^{-1/2} C M^{-1/2}`) of the
/// mixtures on which C11 trains the recipe. The recipe's cost grows like `lambda^-2` and its
/// stream noise with it: at `lambda_2 = 0.025` four starts of 320000-1.28e6 steps stayed 0.99
/// from the optimum (docs/theory.md 6). About 5% of random `k = 3` mixtures at condition 100
/// fall below (200 drawn: 5% quantile 0.050); the trained check redraws those, the closed form is
/// checked on every draw.
pub const C11_MIN_SIGNAL: f64 = 0.05;

/// C11: whitened SimSiam: the closed-form optimum of the MSE loss under `A M A^T = I` spans `F`
/// exactly (population moments: sin < 1e-8), and the recipe (stop-gradient SGD with the
/// projection) trained by epochs over a fixed sample of pairs (the other claims' sample size,
/// anchored like them) reaches that sample's own optimum: its certificate is `sin theta_max` to
/// the closed form at the sample's moments, at most the case's CCA floor (a route independent
/// of `F`). The statistic is the trained map's `sin theta_max` to `F` over the floor, at most
/// [`FLOOR_FACTOR`]: a recipe or closed form that lands off `F` fails, whatever its certificate.
/// The recipe approaches the optimum at a rate `~ lambda_r^2`, so its budget comes from the
/// sample's eigenvalues (at least 10000 steps), with up to 4 starts
/// ([`ssl_losses::WhitenedSimSiam`]); it trains on the first mixture drawn from the case's seed
/// whose weaker correlation is at least [`C11_MIN_SIGNAL`].
pub fn c11(ctx: &Ctx) -> Result<Case> {
    let first = mixture(3, 8, 100.0, false, ctx.seed)?;
    let exact =
        sin_to(&whitened_optimum(&first.second_moment(), &first.cross_moment(1.0)?, 2)?, &first.fisher_subspace()?)?;
    let weaker = |g: &Gmm| -> Result<f64> { Ok(whitened_eigenvalues(&g.second_moment(), &g.cross_moment(1.0)?)?[1]) };
    let mut g = first;
    let mut redrawn = 0u64;
    while weaker(&g)? < C11_MIN_SIGNAL {
        redrawn += 1;
        if redrawn > 1000 {
            let what = "mixtures with a weaker whitened correlation >= C11_MIN_SIGNAL in 1000 draws";
            return Err(gmm_core::GmmError::TooFew { what, min: 1, got: 0 }.into());
        }
        g = mixture(3, 8, 100.0, false, ctx.seed.wrapping_add(redrawn.wrapping_mul(0x9e37_79b9)))?;
    }
    let f = g.fisher_subspace()?;
    let wrong = g.mean_span()?.sin_theta_max(&f)?;
    let (pairs, anchor) = anchored(
        PAIRS,
        |n| Ok(g.sample_pairs(n, 1.0, &mut seeded(ctx.seed ^ 2))?),
        |p: &gmm_core::Pairs| cca_floor(p, &f),
        Some(wrong),
    )?;
    let floor = anchor.floor;
    // The sample's own moments, as the recipe's running whitening pools them.
    let (x, xp) = (&pairs.x, &pairs.x_plus);
    let n = x.nrows() as f64;
    let m = (x.tr_mul(x) + xp.tr_mul(xp)) / (2.0 * n);
    let cross = x.tr_mul(xp);
    let c = (&cross + cross.transpose()) / (2.0 * n);
    let mut source = || -> ssl_losses::Result<Box<dyn PairSource>> {
        Ok(Box::new(FixedPairs::new(pairs.x.clone(), pairs.x_plus.clone(), 256)?))
    };
    let run = WhitenedSimSiam::new(2).tol(floor).seed(ctx.seed).fit(&mut source, (&m, &c), &mut ())?;
    // The sample's weaker correlation is near the population's (>= C11_MIN_SIGNAL): an eigengap.
    let no_optimum = gmm_core::GmmError::Singular { what: "the whitened SimSiam problem", fix: "another seed" };
    let (cert, budget) = (run.certificate.ok_or(no_optimum)?, run.first_budget);
    let trained = sin_to(&run.map, &f)?;
    let ratio = trained / floor;
    let case = Case::at_most(
        ratio,
        FLOOR_FACTOR,
        format!(
            "closed form sin {}; n {}: trained sin to F {} / CCA floor {} = {ratio:.2} (to the sample's optimum {}, eigengap {:.3}, budget {budget} steps, start {}, {} steps in all{})",
            Sig3(exact),
            pairs.x.nrows(),
            Sig3(trained),
            Sig3(floor),
            Sig3(cert.sin_to_optimum),
            cert.eigengap,
            run.start,
            run.total_steps,
            if redrawn > 0 { format!(", mixture redrawn {redrawn}x for a weak signal") } else { String::new() }
        ),
    )
    .and(exact < 1e-8)
    .certified(cert.converged)
    .nearest_wrong(wrong / floor);
    Ok(anchor.apply(case))
}

/// C11 control: the same MSE loss `||W A x - A x+||^2` without the constraint and without the
/// stop-gradient, minimised with its true gradient by L-BFGS on 4000 pairs from the closed-form
/// optimum: it collapses (`||A||_F` falls below 1e-3 of its start), so "trains to a map spanning
/// `F`" fails for the stated reason.
pub fn c11_control(ctx: &Ctx) -> Result<Case> {
    let g = mixture(3, 8, 100.0, false, ctx.seed)?;
    let pairs = g.sample_pairs(4000, 1.0, &mut seeded(ctx.seed ^ 2))?;
    let start = whitened_optimum(&g.second_moment(), &g.cross_moment(1.0)?, 2)?;
    let (x, xp) = (&pairs.x, &pairs.x_plus);
    let n = x.nrows() as f64;
    let mut cost = FnCost::new(|p: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]| {
        let (a, w) = (&p[0], &p[1]);
        let e = x * a.transpose() * w.transpose() - xp * a.transpose();
        grads[0] = (w.transpose() * e.transpose() * x - e.transpose() * xp) * (2.0 / n);
        grads[1] = e.transpose() * x * a.transpose() * (2.0 / n);
        Ok(e.norm_squared() / n)
    });
    let out = Lbfgs::default().minimize(&mut cost, vec![start.clone(), DMatrix::identity(2, 2)], &mut ())?;
    let shrink = out.params[0].norm() / start.norm();
    Ok(Case::at_least(shrink, 1e-3, format!("unconstrained, true gradient: ||A||_F / ||A_0||_F = {}", Sig3(shrink)))
        .certified(out.run.converged() || shrink < 1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Budget;
    use crate::contained::c8_at;
    use crate::spectral::{C15_OFFSET, Family, floor_ratio};
    use crate::uncentred::uncentred;

    /// Without a shared component no ratio statistic is evidence: at `delta = 0` the CCA floor
    /// is near 1, above every anchor's target, so a ratio claim's case comes out unresolved
    /// (never passed) whatever its ratio, at cases 0-2 (k = 2, 3, 4). One test per claim, so
    /// that the test threads share the fits.
    fn unresolved_without_signal(claim: &str, case_at: impl Fn(&Ctx) -> Result<Case>) {
        for index in 0..3 {
            let ctx = Ctx { budget: Budget::Quick, seed: 40 + index as u64, index };
            let case = case_at(&ctx).unwrap();
            assert!(!case.resolved && !case.passed, "{claim} at delta 0: {}", case.note);
        }
    }

    #[test]
    fn c4_resolves_no_case_without_signal() {
        unresolved_without_signal("C4", |ctx| floor_ratio(Family::Trap, ctx, 0.0, 0.0));
    }

    #[test]
    fn c7_resolves_no_case_without_signal() {
        unresolved_without_signal("C7", |ctx| floor_ratio(Family::General, ctx, 0.0, 0.0));
    }

    #[test]
    fn c8_resolves_no_case_without_signal() {
        unresolved_without_signal("C8", |ctx| c8_at(ctx, 0.0));
    }

    #[test]
    fn c15_resolves_no_case_without_signal() {
        unresolved_without_signal("C15", |ctx| uncentred(ctx, C15_OFFSET, 0.0));
    }

    /// C9's pairs are checked through its anchor at the cap, where a fit would take minutes.
    #[test]
    fn c9_resolves_no_case_without_signal() {
        for seed in 40..43 {
            let (pairs, anchor) = ari_pairs(&ari_mixture(seed).unwrap(), 0.0, seed).unwrap();
            assert!(anchor.unresolved.is_some() && anchor.floor > 0.5, "C9 at delta 0: {anchor:?}");
            assert_eq!(pairs.x.nrows(), MAX_PAIRS);
        }
    }
}
