//! Helpers shared by the checks: mixtures, subspace errors, certified fits and noise floors.

use baselines::{CcaPairs, Fit};
use gmm_core::{Gmm, LinearMap, MixtureGenerator, Pairs, Subspace, seeded};
use nalgebra::{DMatrix, DVector};
use ssl_losses::{Centering, InfoNce};

use crate::evidence::Result;

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

/// The `(k, d, condition, noise)` of case `i` of a sweep: k in 2..=6, d in k..=40, condition
/// number log-spaced up to 1e3, every third case with a dominant noise direction.
pub fn case_shape(i: usize) -> (usize, usize, f64, bool) {
    let k = 2 + i % 5;
    let d = (k + (7 * i) % 35).min(40);
    let condition = 10f64.powf((i % 4) as f64);
    (k, d, condition, i.is_multiple_of(3))
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

/// InfoNCE fitted on `pairs` to its certificate (theory.md 5.3): the map's components and
/// whether the certificate holds.
pub fn certified_infonce(pairs: &Pairs, r: usize, centering: Centering, seed: u64) -> Result<(DMatrix<f64>, bool)> {
    let fit = InfoNce::new(r).centering(centering).seed(seed).fit(pairs)?;
    Ok((fit.map.into_components(), fit.run.converged()))
}

/// The noise floor at a sample of pairs: the `sin theta_max` to `F` of CCA on the same pairs,
/// the consistent label-free closed form (error `~ n^{-1/2}`).
pub fn cca_floor(pairs: &Pairs, f: &Subspace) -> Result<f64> {
    sin_to(CcaPairs::new(f.dim()).fit(pairs)?.map.components(), f)
}

/// Pairs drawn for the claims judged against a noise floor: at least this many.
pub const PAIRS: usize = 20_000;

/// The largest noise floor at which a case can resolve a wrong answer at the scale of the
/// effects the controls measure (off `F` by `sin theta_max` 0.4-0.7, C15 and C10's control): a
/// ratio above [`crate::spectral::FLOOR_FACTOR`] needs a floor below about 0.13.
pub const MAX_FLOOR: f64 = 0.1;

/// Draws `PAIRS` or `4 PAIRS` pairs with `draw` (the first size whose noise floor,
/// computed by `floor`, is at most [`MAX_FLOOR`]; the largest otherwise): ill-conditioned
/// cases get the sample they need for the question to be decidable. Returns the pairs and their
/// floor.
pub fn resolved<P>(
    mut draw: impl FnMut(usize) -> Result<P>,
    mut floor: impl FnMut(&P) -> Result<f64>,
) -> Result<(P, f64)> {
    let mut n = PAIRS;
    loop {
        let pairs = draw(n)?;
        let f = floor(&pairs)?;
        if f <= MAX_FLOOR || n >= 4 * PAIRS {
            return Ok((pairs, f));
        }
        n *= 4;
    }
}
