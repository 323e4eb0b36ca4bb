//! Helpers shared by the checks: mixtures, subspace errors, certified fits and noise floors.

use baselines::{CcaPairs, Fit};
use gmm_core::{Gmm, LinearMap, MixtureGenerator, Pairs, Subspace, seeded};
use nalgebra::{DMatrix, DVector};
use ssl_losses::{InfoNce, Lbfgs};

use crate::evidence::{Ctx, Result};

/// A random mixture over docs/theory.md's ranges (`k` components, dimension `d`, condition
/// number, optional dominant noise direction), centred, from `seed`.
pub fn mixture(k: usize, d: usize, condition: f64, noise: bool, seed: u64) -> Result<Gmm> {
    offset_mixture(k, d, condition, noise, 0.0, seed)
}

/// As [`mixture`], with the means offset (A0 dropped) in the geometry where the offset matters:
/// in whitened coordinates the mean `Sigma^{-1/2} mu_bar` has length `offset` and lies at 45
/// degrees between the top whitened Fisher direction and a random direction outside the whitened
/// Fisher subspace (drawn from `seed`). How far the raw InfoNCE minimiser leaves `F` depends on
/// this angle: a mean inside the Fisher subspace leaves it in place, a mean orthogonal to the
/// signal barely moves it; at 45 degrees and `offset = 3` it lands well outside the CCA floor
/// (docs/theory.md 6 and 7).
pub fn offset_mixture(k: usize, d: usize, condition: f64, noise: bool, offset: f64, seed: u64) -> Result<Gmm> {
    let mut generator = MixtureGenerator::isotropic(k, d).condition(condition);
    if noise {
        generator = generator.noise_direction(4.0);
    }
    let g = generator.generate(&mut seeded(seed))?;
    if offset == 0.0 {
        return Ok(g);
    }
    let sigma = g.covariance().clone();
    let half = gmm_core::linalg::spd_sqrt(&sigma)?;
    let inv_half = gmm_core::linalg::spd_inv_sqrt(&sigma)?;
    let mut centred = g.means().clone();
    let mean = g.mean();
    for mut row in centred.row_iter_mut() {
        row -= mean.transpose();
    }
    let white_f = Subspace::from_columns(&(&inv_half * centred.transpose()), gmm_core::linalg::RANK_RTOL)?;
    let u: DVector<f64> = white_f.basis().column(0).into_owned();
    let mut v: DVector<f64> = gmm_core::gaussian_matrix(d, 1, &mut seeded(seed ^ 0x0ff5)).column(0).into_owned();
    v -= white_f.basis() * (white_f.basis().transpose() * &v);
    let norm = v.norm();
    if norm.is_nan() || norm <= 0.0 {
        return Err(gmm_core::GmmError::out_of_range(
            "dimension d",
            d as f64,
            format!("at least k = {k} for an offset outside F"),
        )
        .into());
    }
    let shift = half * ((u + v / norm) * (offset / 2f64.sqrt()));
    let mut means = g.means().clone();
    for mut row in means.row_iter_mut() {
        row += shift.transpose();
    }
    Ok(Gmm::new(g.weights().as_slice(), means, sigma)?)
}

/// The `(k, d, condition, noise)` of case `ctx` of a sweep: `k = 2 + index % 5` (2..=6); `d`
/// drawn from the case's seed, uniform on 8..=20 (quick) or 8..=64 (full), independently of `k`;
/// the condition number `10^u` with `u` uniform on [0.5, 3] (3.2 to 1e3: anisotropic, so that `F`
/// and the mean span differ and a case can tell them apart); every third case with a dominant
/// noise direction.
pub fn case_shape(ctx: &Ctx) -> (usize, usize, f64, bool) {
    use gmm_core::rand::RngExt;
    let mut rng = seeded(ctx.seed ^ 0x5a4e);
    let k = 2 + ctx.index % 5;
    let d = rng.random_range(8..=ctx.budget.pick(20, 64));
    let condition = 10f64.powf(rng.random_range(0.5..=3.0));
    (k, d, condition, ctx.index.is_multiple_of(3))
}

/// `sin theta_max` between the row space of `a` (its top `dim` right singular subspace) and `s`.
pub fn sin_to(a: &DMatrix<f64>, s: &Subspace) -> Result<f64> {
    Ok(LinearMap::new(a.clone()).top_subspace(s.dim())?.sin_theta_max(s)?)
}

/// How far `s` is from lying in the whole row space of `a` (`sin theta_max` of the smaller
/// against the larger: containment, docs/theory.md 5.6).
pub fn containment(a: &DMatrix<f64>, s: &Subspace) -> Result<f64> {
    Ok(LinearMap::new(a.clone()).row_space()?.sin_theta_max(s)?)
}

/// The fraction of a case's noise floor that a certified map's distance bound must stay below
/// (docs/theory.md 5.3): the map's `sin theta_max` to `F` is then the local minimiser's within
/// a tenth of the floor, so a ratio statistic is the minimiser's within 0.1 (against a
/// threshold of [`FLOOR_FACTOR`] = 3 and ratios near 1).
pub const BOUND_FRACTION: f64 = 0.1;

/// The relative gradient tolerance the checks' InfoNCE fits aim for: tight enough that the
/// distance bound `||g|| / lambda_min` meets [`BOUND_FRACTION`] of floors down to 0.01 (at the
/// library's 1e-5 the bound on `sin theta_max` was 0.03-0.07 at master seed 11, at 1e-8 it was
/// 1e-7 to 1e-4: docs/theory.md 7). A fit that stalls short of it in rounding still counts when
/// it meets the library's standard certificate (relative gradient 1e-5) and the bound.
pub const CHECK_RTOL: f64 = 1e-8;

/// Random starts of every fit in a ratio case ([`certified_infonce`]).
pub const STARTS: u64 = 2;

/// A certified fit of a check: the fit, whether it is certified, and what its starts found.
#[derive(Clone, Debug)]
pub struct Certified<F> {
    /// The start with the lowest loss.
    pub fit: F,
    /// Its certificate holds (see [`best_of_starts`]).
    pub certified: bool,
    /// The largest `sin theta_max` between the row spaces the starts ended in (0 with one start).
    pub spread: f64,
    /// One line for the case's note: the distance bound, and whether the starts agree.
    pub note: String,
}

/// What the starts rule needs of one start's fit: its loss, its maps' row spaces and its run's
/// certificate.
pub struct Start<F> {
    /// The fit itself, returned when its loss is the lowest.
    pub fit: F,
    /// Its final loss.
    pub loss: f64,
    /// The row space of each of its maps (one for InfoNCE, one per modality for CLIP).
    pub row_spaces: Vec<Subspace>,
    /// Its certificate, with a distance bound when one was asked for.
    pub certificate: Option<ssl_losses::Certificate>,
}

/// The rule every fit of a ratio case follows (docs/theory.md 5.3): [`STARTS`] random starts
/// (`fit_start(i)` for `i = 0..STARTS`, each aiming at relative gradient [`CHECK_RTOL`]; nothing
/// starts at a closed form's answer); the start with the lowest loss is kept. It is certified when
/// its gradient certificate holds at the library's tolerance and, with a `floor` (a ratio case),
/// its distance bound on `sin theta_max` to the local minimiser is at most [`BOUND_FRACTION`]
/// times the floor. Without one (a case judged by the map's weight, at `delta = 0`, where the
/// minimiser's direction is not determined) the gradient certificate alone decides. The note
/// says when the starts ended in different minima (row spaces farther apart than their bounds
/// allow).
pub fn best_of_starts<F>(
    floor: Option<f64>,
    mut fit_start: impl FnMut(u64) -> Result<Start<F>>,
) -> Result<Certified<F>> {
    let starts = (0..STARTS).map(&mut fit_start).collect::<Result<Vec<_>>>()?;
    let bound = |start: &Start<F>| {
        start.certificate.as_ref().and_then(|c| c.bound.as_ref()).and_then(|b| b.sin_theta).unwrap_or(1.0)
    };
    let (mut spread, mut allowed) = (0f64, 0f64);
    for other in &starts[1..] {
        for (a, b) in other.row_spaces.iter().zip(&starts[0].row_spaces) {
            spread = spread.max(a.sin_theta_max(b)?);
        }
        allowed = allowed.max(bound(other) + bound(&starts[0]));
    }
    let best = starts.into_iter().min_by(|a, b| a.loss.total_cmp(&b.loss)).ok_or(gmm_core::GmmError::TooFew {
        what: "starts",
        min: 1,
        got: 0,
    })?;
    let gradient_ok = best.certificate.as_ref().is_some_and(|c| c.holds_at(Lbfgs::default().grad_rtol));
    let bounded = floor.is_none_or(|floor| bound(&best) <= BOUND_FRACTION * floor);
    let mut note = match floor {
        Some(_) => format!("distance bound sin {}", gmm_core::Sig3(bound(&best))),
        None => String::new(),
    };
    if floor.is_some() && spread > allowed {
        note = format!(
            "{note}; the {STARTS} starts ended in different minima (sin {} apart), the lower loss kept",
            gmm_core::Sig3(spread)
        );
    }
    Ok(Certified { fit: best.fit, certified: gradient_ok && bounded, spread, note })
}

/// The seed of start `start` of a fit seeded `seed`.
pub fn start_seed(seed: u64, start: u64) -> u64 {
    seed.wrapping_add(start.wrapping_mul(0x5eed_57a7))
}

/// `estimator` (its hyper-parameters; its seed is replaced) fitted on `pairs` by the starts rule
/// [`best_of_starts`], its distance bound computed when there is a `floor`.
pub fn certified_infonce(
    pairs: &Pairs,
    estimator: &InfoNce,
    seed: u64,
    floor: Option<f64>,
) -> Result<Certified<DMatrix<f64>>> {
    let solver = Lbfgs { grad_rtol: CHECK_RTOL, ..Default::default() };
    best_of_starts(floor, |start| {
        let fit = estimator
            .clone()
            .seed(start_seed(seed, start))
            .solver(solver)
            .bound_distance(floor.is_some())
            .fit(pairs)?;
        Ok(Start {
            loss: fit.run.loss(),
            row_spaces: vec![fit.map.row_space()?],
            certificate: fit.run.certificate,
            fit: fit.map.into_components(),
        })
    })
}

/// The noise floor at a sample of pairs: the `sin theta_max` to `F` of CCA on the same pairs,
/// the consistent label-free closed form (error `~ n^{-1/2}`).
pub fn cca_floor(pairs: &Pairs, f: &Subspace) -> Result<f64> {
    sin_to(CcaPairs::new(f.dim()).fit(pairs)?.map.components(), f)
}

/// Pairs drawn first for the claims judged against a noise floor.
pub const PAIRS: usize = 20_000;

/// The most pairs a case may draw to resolve its question ([`anchored`]): 32 x [`PAIRS`], a
/// floor about 5.7 x below the first draw's (floors fall like `n^{-1/2}`), and 5 x the first
/// draw of C9's smallest coupling.
pub const MAX_PAIRS: usize = 32 * PAIRS;

/// The tolerance of a certified minimiser against the noise floor: its `sin theta_max` to `F`
/// at most 3 times CCA's on the same pairs. Both are consistent estimators with errors
/// `~ n^{-1/2}`; the factor allows for their different constants (measured: docs/theory.md 7).
pub const FLOOR_FACTOR: f64 = 3.0;

/// The largest noise floor at which a ratio case is evidence at all, whatever its nearest wrong
/// answer: the effects the controls measure are off `F` by `sin theta_max` 0.4-0.7 (C15 and
/// C10's control), and a ratio above [`FLOOR_FACTOR`] needs a floor below about 0.13 to show
/// them. At `delta = 0` the floor is near 1: no ratio case resolves there.
pub const MAX_FLOOR: f64 = 0.1;

/// How far the pass threshold must stay from the nearest wrong answer: a case resolves its claim
/// only when `FLOOR_FACTOR x floor <= wrong / WRONG_MARGIN`, so a map that passes is at most
/// half-way (in `sin theta_max` to `F`) to the answer the claim rules out.
pub const WRONG_MARGIN: f64 = 2.0;

/// Below this `sin theta_max` between `F` and the nearest wrong answer the two coincide (the
/// mean span in isotropic mixtures): the case is no evidence for the claim.
pub const COINCIDE: f64 = 1e-6;

/// Whether a ratio case could tell its claim from the nearest wrong answer (docs/theory.md 5.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Anchor {
    /// The noise floor at the pairs drawn.
    pub floor: f64,
    /// The largest floor at which the case resolves ([`Anchor::target`]).
    pub target: f64,
    /// Why the case is not evidence, if it is not.
    pub unresolved: Option<String>,
}

impl Anchor {
    /// The largest floor that resolves a case whose nearest wrong answer is `wrong` (its
    /// `sin theta_max` to `F`; `None` when only the absolute bound applies): [`MAX_FLOOR`], and
    /// `wrong / (WRONG_MARGIN x FLOOR_FACTOR)`.
    pub fn target(wrong: Option<f64>) -> f64 {
        wrong.map_or(MAX_FLOOR, |w| MAX_FLOOR.min(w / (WRONG_MARGIN * FLOOR_FACTOR)))
    }

    /// The anchor of a floor measured at `n` pairs against `wrong`.
    pub fn judge(floor: f64, n: usize, wrong: Option<f64>) -> Self {
        let target = Self::target(wrong);
        let unresolved = if wrong.is_some_and(|w| w < COINCIDE) {
            Some("unresolved: F coincides with the nearest wrong answer".to_string())
        } else if floor.is_nan() || floor > target {
            Some(format!(
                "unresolved: floor {} above {} at n {n} (cap {MAX_PAIRS})",
                gmm_core::Sig3(floor),
                gmm_core::Sig3(target)
            ))
        } else {
            None
        };
        Self { floor, target, unresolved }
    }

    /// Marks `case` unresolved when the anchor is.
    pub fn apply(&self, case: crate::Case) -> crate::Case {
        match &self.unresolved {
            Some(why) => case.unresolved(why),
            None => case,
        }
    }
}

/// Draws `first` pairs with `draw` and measures their noise floor with `floor`; while the floor
/// is above the case's [`Anchor::target`], draws again (at most three times) at the size the floor's
/// `n^{-1/2}` law predicts for the target, times 1.5 for its spread and at least double the last,
/// if that is at most [`MAX_PAIRS`]. Returns the pairs and the [`Anchor`]: a case whose floor
/// still misses the target (or whose claim coincides with its nearest wrong answer,
/// `wrong < COINCIDE`) is unresolved: counted and printed, never passed.
pub fn anchored<P>(
    first: usize,
    mut draw: impl FnMut(usize) -> Result<P>,
    mut floor: impl FnMut(&P) -> Result<f64>,
    wrong: Option<f64>,
) -> Result<(P, Anchor)> {
    let target = Anchor::target(wrong);
    let coincide = wrong.is_some_and(|w| w < COINCIDE);
    let mut n = first;
    let mut pairs = draw(n)?;
    let mut measured = floor(&pairs)?;
    let mut beyond_cap = None;
    for _ in 0..3 {
        if measured <= target || coincide || !measured.is_finite() {
            break;
        }
        let needed = (n as f64 * (measured / target).powi(2) * 1.5).ceil().max(2.0 * n as f64);
        if needed > MAX_PAIRS as f64 {
            beyond_cap = Some(needed);
            break;
        }
        n = needed as usize;
        pairs = draw(n)?;
        measured = floor(&pairs)?;
    }
    let mut anchor = Anchor::judge(measured, n, wrong);
    if let (Some(why), Some(needed)) = (anchor.unresolved.as_mut(), beyond_cap) {
        *why = format!("{why}; {} pairs predicted", gmm_core::Sig3(needed));
    }
    Ok((pairs, anchor))
}
