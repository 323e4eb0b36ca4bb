//! What a fitted map recovers: its rank, its row space against the Fisher subspace `F` and the
//! label-free spectral yardsticks, and the outcome that names it.

use std::fmt;

use gmm_core::linalg::{gen_sym_eig, singular_values};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{LinearMap, Subspace};
use ssl_losses::Result;

use crate::fit::FitReport;
use crate::loss::Scenario;

/// A label-free subspace a method may land on instead of `F`, computed from the views' population
/// moments (`C11 = Cov(v1)`, `C22 = Cov(v2)`, `C12 = Cov(v1, v2)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Yardstick {
    /// PCA of the anchors: the top eigenvectors of `C11`.
    Pca,
    /// PCA of the correlation matrix: the top generalized eigenvectors of `(C11, diag C11)`.
    CorrelationPca,
    /// Two-view CCA, the anchors' side: the top generalized eigenvectors of
    /// `(C12 C22^{-1} C21, C11)`.
    Cca,
    /// The top generalized eigenvectors of `(C11, C22)`: "PCA relative to the augmentation",
    /// `GEV(Sigma_T, Sigma_T + Sigma_aug)` for additive noise on `x+` (zoo.md item 4).
    ViewGev,
}

impl Yardstick {
    /// Every yardstick.
    pub const ALL: [Yardstick; 4] = [Self::Pca, Self::CorrelationPca, Self::Cca, Self::ViewGev];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pca => "PCA",
            Self::CorrelationPca => "correlation PCA",
            Self::Cca => "two-view CCA",
            Self::ViewGev => "GEV(Cov x, Cov x+)",
        }
    }

    /// Its top-`m` subspace for `scenario`, or `None` where it is not unique (no eigengap after
    /// the `m`-th eigenvalue, relative 1e-9: e.g. `ViewGev` for identical view covariances) or
    /// not defined (`C22` singular).
    ///
    /// # Errors
    /// `C11` not positive definite.
    pub fn subspace(self, scenario: &Scenario, m: usize) -> Result<Option<Subspace>> {
        let v = &scenario.views;
        let c11 = v.cov_left();
        let (a, b) = match self {
            Self::Pca => (c11.clone(), DMatrix::identity(c11.nrows(), c11.ncols())),
            Self::CorrelationPca => (c11.clone(), DMatrix::from_diagonal(&c11.diagonal())),
            Self::Cca => {
                let c12 = v.cross_covariance();
                let Some(c22_inv) = v.cov_right().cholesky().map(|c| c.inverse()) else { return Ok(None) };
                (&c12 * c22_inv * c12.transpose(), c11)
            }
            Self::ViewGev => (c11, v.cov_right()),
        };
        let Ok(eig) = gen_sym_eig(&a, &b) else { return Ok(None) };
        let vals = &eig.values;
        if m == 0 || m > vals.len() {
            return Ok(None);
        }
        if m < vals.len() && vals[m - 1] - vals[m] <= 1e-9 * vals[0].abs().max(f64::MIN_POSITIVE) {
            return Ok(None);
        }
        Ok(Some(Subspace::from_columns(&eig.vectors.columns(0, m).into_owned(), 0.0)?))
    }
}

/// What the minimiser recovers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case", tag = "outcome"))]
pub enum Outcome {
    /// The row space is `F`.
    Fisher,
    /// `F` lies inside a larger row space (`extra` more dimensions).
    ContainsFisher {
        /// Dimensions beyond `dim F`.
        extra: usize,
    },
    /// The row space is a proper subspace of `F` (dimensional collapse).
    Collapsed {
        /// The map's rank.
        rank: usize,
    },
    /// Starts that agree on the minimum value end on different row spaces: the minimiser is not
    /// unique (a degenerate spectrum, e.g. a cross moment equal to the second moment).
    NotUnique,
    /// The row space is a label-free spectral subspace.
    Spectral {
        /// Which one.
        yardstick: Yardstick,
    },
    /// The row space is not `F`, decided from samples where the loss has no population form
    /// ([`crate::held_out_verdict`]: the best map inside `F` loses on held-out pairs); what it
    /// is instead is not resolved.
    NotFisher,
    /// None of these.
    Other,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fisher => write!(f, "F"),
            Self::ContainsFisher { extra } => write!(f, "F + {extra}"),
            Self::Collapsed { rank } => write!(f, "collapsed (rank {rank}) in F"),
            Self::Spectral { yardstick } => write!(f, "{}", yardstick.name()),
            Self::NotUnique => write!(f, "not unique"),
            Self::NotFisher => write!(f, "not F"),
            Self::Other => write!(f, "none"),
        }
    }
}

/// The thresholds of the classification.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassifySettings {
    /// A singular value of the whitened map counts when above this times the largest (default
    /// 1e-4); the rank is resolved only when the ratio across that cut is at least `rank_gap`.
    pub rank_rtol: f64,
    /// The ratio of the smallest kept to the largest dropped singular value that resolves the
    /// rank (default 1e3).
    pub rank_gap: f64,
    /// Two subspaces are the same (or one lies in the other) when `sin theta_max` is at most this,
    /// for a fit without a distance bound (default 1e-6: population fits, so the floor is the
    /// optimiser's, not sampling's).
    pub subspace_tol: f64,
    /// With a distance bound ([`FitReport::bound`]), the tolerance is the bound on `sin` itself,
    /// but at least this (default 1e-9: the rounding of the subspaces compared, computed from
    /// eigen-decompositions of matrices with condition up to 1e3).
    pub bound_floor: f64,
    /// A tolerance above this leaves a named outcome unresolved (default 1e-2): the fit is too
    /// far from certain to say it recovers that subspace. Weakly curved minimisers (measured:
    /// VICReg at (25, 25, 100), curvature 6e-4 against a gradient at the line search's floor)
    /// and InfoNCE's quadrature floor (up to 6e-3 with isotropic noise) need more than 1e-4;
    /// every verdict carries its tolerance.
    pub bound_max: f64,
    /// The minimiser is "not unique" when starts that agree on the best value end on row spaces
    /// more than this apart (default 1e-3): above the optimiser's own disagreement on a unique
    /// minimiser (measured up to 2e-5 in weakly curved problems) and far below the spread of a
    /// degenerate one (0.1 to 1).
    pub unique_tol: f64,
}

impl Default for ClassifySettings {
    fn default() -> Self {
        Self {
            rank_rtol: 1e-4,
            rank_gap: 1e3,
            subspace_tol: 1e-6,
            bound_floor: 1e-9,
            bound_max: 1e-2,
            unique_tol: 1e-3,
        }
    }
}

/// The verdict on one scenario: the outcome and its statistics.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Verdict {
    /// What the minimiser recovers.
    pub outcome: Outcome,
    /// The fit and its certificate (an uncertified fit's outcome is not a verdict).
    pub fit: FitReport,
    /// The whitened map's singular values, descending.
    pub singular_values: Vec<f64>,
    /// Its rank (singular values above `rank_rtol` of the largest).
    pub rank: usize,
    /// The ratio across the rank cut (infinite when nothing is dropped); the rank is resolved
    /// when it is at least `rank_gap`.
    pub rank_ratio: f64,
    /// `dim F`.
    pub fisher_dim: usize,
    /// `sin theta_max` between the row space and `F` in the anchors' whitened coordinates (where
    /// the fit and its distance bound live) when their dimensions agree, else how far the smaller
    /// lies from inside the larger (containment).
    pub sin_to_fisher: f64,
    /// The same in raw coordinates.
    pub sin_to_fisher_raw: f64,
    /// The largest absolute correlation between two outputs (anchors' view).
    pub max_output_correlation: f64,
    /// Each defined yardstick of the row space's dimension and its `sin theta_max` to the row space
    /// (whitened coordinates).
    pub yardsticks: Vec<(Yardstick, f64)>,
    /// The largest `sin theta_max` between the best start's row space and those of the other
    /// starts that reached the same value (0 with one such start).
    pub start_spread: f64,
    /// The tolerance the comparisons used: the distance bound on `sin` (at least `bound_floor`)
    /// when the fit has one, else `subspace_tol` or three times the agreeing starts' spread,
    /// whichever is larger; at least three times the distance to the replicate's minimiser when
    /// the loss is discretised.
    pub tolerance: f64,
    /// Whether the tolerance comes from a distance bound (false: the loss's symmetries are not
    /// known, or the minimiser has flat directions beyond them, and the fixed tolerance or the
    /// starts' spread serves).
    pub bounded: bool,
    /// For a verdict from samples ([`crate::held_out_verdict`]), the held-out test that decided
    /// it; `None` for population fits.
    pub held_out: Option<crate::FisherGap>,
}

impl Verdict {
    /// True when the fit is certified, the rank resolved, and the tolerance at most `bound_max`
    /// (except for the outcomes "none", where every candidate is farther than the tolerance
    /// however large, and "not unique", decided by the starts' spread): only then is the
    /// outcome a verdict. A verdict from samples is resolved only when its test rejects `F`.
    pub fn resolved(&self, settings: &ClassifySettings) -> bool {
        let named = self.tolerance <= settings.bound_max
            || matches!(self.outcome, Outcome::Other | Outcome::NotUnique | Outcome::NotFisher);
        let tested = self.held_out.as_ref().is_none_or(crate::FisherGap::rejects_fisher);
        self.fit.certified && self.rank_ratio >= settings.rank_gap && named && tested
    }

    /// The yardsticks the row space equals (within [`Verdict::tolerance`]; several coincide for
    /// isotropic noise, e.g. PCA and two-view CCA), by name, joined by " = ".
    pub fn matching_yardsticks(&self) -> String {
        let names: Vec<&str> =
            self.yardsticks.iter().filter(|(_, sin)| *sin <= self.tolerance).map(|(y, _)| y.name()).collect();
        names.join(" = ")
    }

    /// Whether `statistic` (a `sin theta_max` of this verdict) is decided against its tolerance:
    /// the fit is certified, the rank resolved, and the statistic either above the tolerance
    /// (whatever its size) or within a tolerance of at most `bound_max`.
    pub fn decides(&self, statistic: f64, settings: &ClassifySettings) -> bool {
        self.fit.certified
            && self.rank_ratio >= settings.rank_gap
            && (statistic > self.tolerance || self.tolerance <= settings.bound_max)
    }

    /// How far the row space lies from inside `F`: `sin_to_fisher` up to rank `dim F`, 1 above it
    /// (a row space larger than `F` is not inside it).
    pub fn containment(&self) -> f64 {
        if self.rank <= self.fisher_dim { self.sin_to_fisher } else { 1.0 }
    }

    /// The nearest yardstick and its distance, if any is defined.
    pub fn nearest_yardstick(&self) -> Option<(Yardstick, f64)> {
        self.yardsticks.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// Classifies a fit of `scenario`.
///
/// # Errors
/// Settings out of range (`rank_rtol` in `(0, 1)`, `rank_gap >= 1`, positive tolerances); a
/// non-finite map; a mixture whose Fisher subspace cannot be computed.
pub fn classify(fit: FitReport, scenario: &Scenario, settings: &ClassifySettings) -> Result<Verdict> {
    if !(settings.rank_rtol > 0.0 && settings.rank_rtol < 1.0) {
        return Err(gmm_core::GmmError::out_of_range("rank tolerance", settings.rank_rtol, "in (0, 1)").into());
    }
    if settings.rank_gap.is_nan() || settings.rank_gap < 1.0 {
        return Err(gmm_core::GmmError::out_of_range("rank gap", settings.rank_gap, ">= 1").into());
    }
    gmm_core::check_positive(settings.subspace_tol, "subspace tolerance")?;
    gmm_core::check_positive(settings.bound_floor, "floor of the distance-bound tolerance")?;
    gmm_core::check_positive(settings.bound_max, "largest distance bound of a verdict")?;
    gmm_core::check_positive(settings.unique_tol, "uniqueness tolerance")?;
    let s = singular_values(&fit.whitened)?;
    let top = s.first().copied().unwrap_or(0.0);
    let rank = s.iter().filter(|v| **v > settings.rank_rtol * top).count();
    let rank_ratio = match (rank, s.get(rank)) {
        (0, _) => 0.0,
        (_, None) => f64::INFINITY,
        (_, Some(&dropped)) => s[rank - 1] / dropped.max(f64::MIN_POSITIVE),
    };
    // Every subspace is compared in the anchors' whitened coordinates, where the harness fits
    // (`B = A W^{-1}`; a row space `R` of raw maps is `R W^{-1}` there, a column basis `V` maps
    // to `W^{-1} V`): the distance bound holds there without the factor `cond(W)` that carrying
    // it to raw coordinates would cost. Equal subspaces are equal in both.
    let unwhiten = scenario.unwhitening()?;
    let fisher_raw = scenario.gmm.fisher_subspace()?;
    let fisher_dim = fisher_raw.dim();
    let fisher = scenario.whiten(&fisher_raw)?;
    let row_space = |whitened_map: &DMatrix<f64>| LinearMap::new(whitened_map.clone()).top_subspace(rank.max(1));
    let rows = row_space(&fit.whitened)?;
    let sin_to_fisher = rows.sin_theta_max(&fisher)?;
    let sin_to_fisher_raw = LinearMap::new(fit.map.clone()).top_subspace(rank.max(1))?.sin_theta_max(&fisher_raw)?;
    let outputs = &fit.map * scenario.views.cov_left() * fit.map.transpose();
    let mut max_output_correlation = 0.0f64;
    for i in 0..outputs.nrows() {
        for j in 0..i {
            let c = outputs[(i, j)] / (outputs[(i, i)] * outputs[(j, j)]).sqrt().max(f64::MIN_POSITIVE);
            max_output_correlation = max_output_correlation.max(c.abs());
        }
    }
    let mut yardsticks = Vec::new();
    for y in Yardstick::ALL {
        if let Some(sub) = y.subspace(scenario, rank.max(1))? {
            yardsticks.push((y, rows.sin_theta_max(&scenario.whiten(&sub)?)?));
        }
    }
    // The distance bound carried to `sin theta_max` (Wedin: `delta / (sigma_rank(B) - delta)`),
    // and the discretisation's floor (three times the distance to the replicate's minimiser:
    // two independent discretisations' minimisers differ by about sqrt(2) of either's error,
    // and one replicate's distance may happen to be small).
    let sigma = s.get(rank.max(1) - 1).copied().unwrap_or(0.0);
    // A minimiser on a manifold (flat directions beyond the declared symmetries: coinciding rows
    // of a collapsed map, a degenerate spectrum) has no positive curvature, or one too small to
    // tell from a flat direction (a bound above `bound_max`: measured up to 1.35 on collapsed
    // Barlow Twins fits); the fixed tolerance or the starts' scatter serves there, and
    // `bounded` says so.
    let bound_sin = fit.bound.and_then(|b| match b.distance {
        Some(delta) if delta < sigma => Some((delta / (sigma - delta)).max(settings.bound_floor)),
        _ => None,
    });
    let bound_sin = bound_sin.filter(|sin| *sin <= settings.bound_max);
    let floor = match &fit.replicate {
        Some(other) => 3.0 * rows.sin_theta_max(&row_space(&(other * unwhiten))?)?,
        None => 0.0,
    };
    let mut start_spread = 0.0f64;
    for other in &fit.agreeing_maps {
        start_spread = start_spread.max(rows.sin_theta_max(&row_space(&(other * unwhiten))?)?);
    }
    // Without a bound, the fixed tolerance, or three times the agreeing starts' spread where the
    // optimiser's own scatter is larger (a measured floor; a spread above `unique_tol` is a
    // family of minimisers, not scatter).
    let scatter = if start_spread <= settings.unique_tol { 3.0 * start_spread } else { 0.0 };
    let tol = bound_sin.unwrap_or_else(|| settings.subspace_tol.max(scatter)).max(floor);
    let outcome = if start_spread > settings.unique_tol {
        Outcome::NotUnique
    } else if rank == 0 || sin_to_fisher > tol {
        yardsticks
            .iter()
            .filter(|(_, sin)| *sin <= tol)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(Outcome::Other, |&(yardstick, _)| Outcome::Spectral { yardstick })
    } else if rank == fisher_dim {
        Outcome::Fisher
    } else if rank > fisher_dim {
        Outcome::ContainsFisher { extra: rank - fisher_dim }
    } else {
        Outcome::Collapsed { rank }
    };
    Ok(Verdict {
        outcome,
        fit,
        singular_values: s,
        rank,
        rank_ratio,
        fisher_dim,
        sin_to_fisher,
        sin_to_fisher_raw,
        max_output_correlation,
        yardsticks,
        start_spread,
        tolerance: tol,
        bounded: bound_sin.is_some(),
        held_out: None,
    })
}
