//! C15: non-centred inputs (assumption A0 dropped). A module of its own, so that its case design
//! has its own fingerprint (docs/theory.md 5.9). Every trained map is certified (docs/theory.md
//! 5.3); thresholds are multiples of the noise floor of a closed-form estimator on the same
//! sample.

use gmm_core::Sig3;
use gmm_core::linalg::RANK_RTOL;
use gmm_core::{Gmm, Subspace, seeded};
use ssl_losses::{Centering, InfoNce};

use crate::common::{FLOOR_FACTOR, PAIRS, anchored, cca_floor, certified_infonce, containment, offset_mixture, sin_to};
use crate::evidence::{Case, Ctx, Result};
use crate::spectral::{C15_OFFSET, POPULATION_SIZES, SLOPE_BAND, population_rate};

/// C15: non-centred inputs (`||Sigma^{-1/2} mu_bar|| = 3`, `d >= k + 1`): the InfoNCE minimiser
/// on raw inputs lies in `span{Sigma^{-1} mu_i}`: the numerical population minimiser's
/// containment in it falls to zero in the outer Monte Carlo size `N` (at least
/// [`DRAWS_PER_PARAMETER`] draws per parameter of the map at the smallest; log-log slope at
/// most -1/4, see [`decays`]); the certified minimiser on raw pairs is off `F` (its
/// ratio to the CCA floor above [`FLOOR_FACTOR`]: the C4/C7 statistic fails), while the
/// minimiser on centred inputs is within [`FLOOR_FACTOR`] of the floor.
pub fn c15(ctx: &Ctx) -> Result<Case> {
    uncentred(ctx, C15_OFFSET, 1.0)
}

/// C15 control: the same statistics on a centred mixture (offset 0): the raw minimiser is in `F`,
/// so "off `F`" fails.
pub fn c15_control(ctx: &Ctx) -> Result<Case> {
    uncentred(ctx, 0.0, 1.0)
}

/// Whether a log-log slope shows a distance falling to zero, at least like `N^{-1/4}`: at most the
/// upper edge of [`SLOPE_BAND`] (NaN: no). C15 claims membership ("the minimiser lies in
/// `span{Sigma^{-1} mu_i}`"), not a rate: theory gives -1/2, and only a distance that levels off
/// (slope near 0, a minimiser off the span: the nearest wrong answer) contradicts it. A fall
/// steeper than `N^{-1/2}` over the first sizes is the pre-asymptotic regime, which failed the
/// two-sided band once in 301 calibration cases (slope -0.84, docs/theory.md 5.9). The rate
/// claims (C3, C7, C12, C16, C22) keep the two-sided band.
pub fn decays(slope: f64) -> bool {
    slope <= SLOPE_BAND.1
}

/// The fewest outer draws per parameter of the map (`d (k - 1)`) at C15's smallest population
/// size: its sizes are [`POPULATION_SIZES`] times the least integer that gives them.
pub const DRAWS_PER_PARAMETER: usize = 64;

/// C15's mixture of case `index` (seeded by `seed`), with `span{Sigma^{-1} mu_i}` and the factor
/// that scales [`POPULATION_SIZES`] to its outer Monte Carlo sizes.
struct Design {
    k: usize,
    g: Gmm,
    span: Subspace,
    scale: usize,
}

fn design(index: usize, seed: u64, offset: f64) -> Result<Design> {
    let k = 2 + index % 3;
    let g = offset_mixture(k, 6 + 2 * (index % 3), 10.0, false, offset, seed)?;
    let span = Subspace::from_columns(&g.solve_covariance(&g.means().transpose())?, RANK_RTOL)?;
    // The rate shows once the outer sample has at least DRAWS_PER_PARAMETER draws per parameter
    // of the map (measured: at k 4, d 10, N 500, 17 per parameter, the minimiser's containment
    // was 0.1-0.6 in 4 samples against 0.04-0.09 at N 2000, slopes down to -0.83).
    let scale = (DRAWS_PER_PARAMETER * g.dim() * (k - 1)).div_ceil(POPULATION_SIZES[0]);
    Ok(Design { k, g, span, scale })
}

pub(crate) fn uncentred(ctx: &Ctx, offset: f64, delta: f64) -> Result<Case> {
    let Design { k, g, span, scale } = design(ctx.index, ctx.seed, offset)?;
    let f = g.fisher_subspace()?;
    let (pairs, anchor) = anchored(
        PAIRS,
        |n| Ok(g.sample_pairs(n, delta, &mut seeded(ctx.seed ^ 2))?),
        |p: &gmm_core::Pairs| cca_floor(p, &f),
        None,
    )?;
    let floor = anchor.floor;
    let raw_fit = certified_infonce(&pairs, &InfoNce::new(k - 1).centering(Centering::None), ctx.seed, Some(floor))?;
    let centred_fit = certified_infonce(&pairs, &InfoNce::new(k - 1), ctx.seed, Some(floor))?;
    let (raw, raw_ok, centred, centred_ok) = (&raw_fit.fit, raw_fit.certified, &centred_fit.fit, centred_fit.certified);
    let inside = containment(raw, &span)? / floor;
    let off = sin_to(raw, &f)? / floor;
    let restored = sin_to(centred, &f)? / floor;
    // "Lies in the span" is a statement about the minimiser: the raw fit's containment over the
    // CCA floor mixes in the two estimators' different noise (ratios to 4.2 measured at k = 2,
    // where both are one angle), so the population minimiser's decay decides it (the control's
    // span is F itself: its premise is the centred one, and it is not computed there).
    let population =
        if offset > 0.0 { Some(population_rate(&g, ctx.seed, scale, |map| containment(map, &span))?) } else { None };
    let case = Case::at_most(
        restored,
        FLOOR_FACTOR,
        format!(
            "k {k}, d {}, offset {offset}: raw map off F {off:.2}, in span{{Sigma^-1 mu_i}} {inside:.2}; centred map to F {restored:.2} (all over the CCA floor {}; raw: {}; centred: {}){}",
            g.dim(),
            Sig3(floor),
            raw_fit.note,
            centred_fit.note,
            population.map_or(String::new(), |(slope, means, _)| {
                let means: Vec<String> = means.iter().map(|v| Sig3(*v).to_string()).collect();
                format!(
                    "; raw population minimiser in span{{Sigma^-1 mu_i}} [{}] at N = {:?}, slope {slope:.2}",
                    means.join(", "),
                    POPULATION_SIZES.map(|n| n * scale)
                )
            })
        ),
    )
    .and(off > FLOOR_FACTOR && population.is_none_or(|p| decays(p.0)))
    .certified(raw_ok && centred_ok && population.is_none_or(|p| p.2))
    .nearest_wrong(off);
    Ok(anchor.apply(case))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::spectral::slope_of;

    /// C15's population statistic can fail for the stated reason: on C15's non-centred mixtures
    /// the raw population minimiser's distance to `F`, where it does not lie (0.4-0.74 off,
    /// docs/theory.md 6), levels off: slope above -1/4; its containment in
    /// `span{Sigma^{-1} mu_i}` falls (master seed 15, cases 0-2: one mixture of each shape).
    #[test]
    fn the_population_statistic_fails_off_the_span() {
        for index in 0..3 {
            let seed = crate::case_seed(15, "C15", index);
            let Design { k, g, span, scale } = design(index, seed, C15_OFFSET).unwrap();
            let f = g.fisher_subspace().unwrap();
            // One set of population fits for both distances: the distance to F is recorded per
            // fit (sizes in order, samples within) and averaged here as population_rate does.
            let to_f_per_fit = RefCell::new(Vec::new());
            let (to_span, means_span, _) = population_rate(&g, seed, scale, |map| {
                to_f_per_fit.borrow_mut().push(sin_to(map, &f)?);
                containment(map, &span)
            })
            .unwrap();
            let to_f_per_fit = to_f_per_fit.into_inner();
            let reps = to_f_per_fit.len() / POPULATION_SIZES.len();
            let means_f: Vec<f64> = to_f_per_fit.chunks(reps).map(|c| c.iter().sum::<f64>() / reps as f64).collect();
            let to_f = slope_of(&POPULATION_SIZES.map(|n| n * scale), &means_f);
            assert!(!decays(to_f), "k {k}: distance to F {means_f:?}, slope {to_f}");
            assert!(decays(to_span), "k {k}: containment {means_span:?}, slope {to_span}");
        }
    }

    #[test]
    fn decays_is_one_sided_and_refuses_nan() {
        assert!(decays(-0.84) && decays(-0.5) && decays(SLOPE_BAND.1));
        assert!(!decays(-0.2) && !decays(0.0) && !decays(f64::NAN));
    }
}
