//! Shared [proptest] strategies (feature `proptest`): random mixtures, CLIP mixtures,
//! augmentation pairs and linear maps over ranges the caller chooses, for the property tests of
//! every crate of the workspace and for your own.
//!
//! Defaults are the ranges of docs/theory.md ("Random parameters"): `k in 2..=6`,
//! `d in k..=40`, condition number of `Sigma_0` up to `1e3` (log-uniform), sometimes a dominant
//! noise direction orthogonal to the means (factor 4), sometimes unbalanced weights, centred
//! means. Every mixture is drawn by [`MixtureGenerator`] from a seed that proptest draws too, so
//! a failing case shrinks towards small, isotropic, centred mixtures and replays exactly.
//!
//! The strategies never panic: a range that cannot produce a mixture is an error of
//! [`MixtureRanges::strategy`], before any case runs.
//!
//! ```
//! use gmm_core::strategies::MixtureRanges;
//! use proptest::prelude::*;
//!
//! // Every mixture with 2 or 3 components, centred or not, has a Fisher subspace of dimension
//! // k - 1. (`#[test]` goes before `fn` in a test file; a doctest calls the function.)
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     fn fisher_dimension(g in MixtureRanges::default().k(2..=3).mean_offset(0.0..=3.0).strategy().unwrap()) {
//!         prop_assert_eq!(g.fisher_subspace().unwrap().dim(), g.k() - 1);
//!     }
//! }
//! fisher_dimension();
//! ```

use std::ops::RangeInclusive;

use proptest::prelude::*;

use crate::clip::{ClipGenerator, ClipGmm};
use crate::error::{GmmError, Result};
use crate::generate::{MixtureGenerator, gaussian_matrix};
use crate::gmm::Gmm;
use crate::rng::seeded;
use crate::sample::Pairs;
use crate::subspace::LinearMap;

/// How often a yes/no property of the drawn mixtures holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sometimes {
    /// In no case.
    Never,
    /// In about half of the cases (proptest shrinks towards "no").
    Sometimes,
    /// In every case.
    Always,
}

impl Sometimes {
    fn strategy(self) -> BoxedStrategy<bool> {
        match self {
            Self::Never => Just(false).boxed(),
            Self::Sometimes => any::<bool>().boxed(),
            Self::Always => Just(true).boxed(),
        }
    }
}

/// Ranges of the random mixtures drawn by [`MixtureRanges::strategy`]; a builder whose
/// defaults are docs/theory.md's ranges (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct MixtureRanges {
    k: RangeInclusive<usize>,
    d: RangeInclusive<usize>,
    log10_condition: RangeInclusive<f64>,
    noise: Sometimes,
    unbalanced: Sometimes,
    mean_offset: RangeInclusive<f64>,
}

impl Default for MixtureRanges {
    fn default() -> Self {
        Self {
            k: 2..=6,
            d: 2..=40,
            log10_condition: 0.0..=3.0,
            noise: Sometimes::Sometimes,
            unbalanced: Sometimes::Sometimes,
            mean_offset: 0.0..=0.0,
        }
    }
}

impl MixtureRanges {
    /// Number of components (`>= 2`).
    pub fn k(mut self, k: RangeInclusive<usize>) -> Self {
        self.k = k;
        self
    }

    /// Dimension; raised to `k` (to `k - 1` without a noise direction) where it is smaller.
    pub fn d(mut self, d: RangeInclusive<usize>) -> Self {
        self.d = d;
        self
    }

    /// `log10` of the condition number of `Sigma_0` (`>= 0`).
    pub fn log10_condition(mut self, range: RangeInclusive<f64>) -> Self {
        self.log10_condition = range;
        self
    }

    /// Isotropic `Sigma = I`: no anisotropy, no noise direction (claim C3's family).
    pub fn isotropic(self) -> Self {
        self.log10_condition(0.0..=0.0).noise(Sometimes::Never)
    }

    /// Whether a dominant noise direction orthogonal to the means is added (the PCA trap).
    pub fn noise(mut self, noise: Sometimes) -> Self {
        self.noise = noise;
        self
    }

    /// Whether the weights are unequal.
    pub fn unbalanced(mut self, unbalanced: Sometimes) -> Self {
        self.unbalanced = unbalanced;
        self
    }

    /// `||Sigma^{-1/2} mu_bar||` (`0..=0`, the default: centred means, assumption A0).
    pub fn mean_offset(mut self, range: RangeInclusive<f64>) -> Self {
        self.mean_offset = range;
        self
    }

    /// Checks the ranges: non-empty, `k >= 2`, `d >= 1`, finite non-negative condition and
    /// offset ranges.
    ///
    /// # Errors
    /// [`GmmError::OutOfRange`] naming the first bad range.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |name, lo: f64, hi: f64| GmmError::out_of_range(name, lo, format!("a non-empty range, got {lo}..={hi}"));
        if self.k.is_empty() || *self.k.start() < 2 {
            return Err(bad("range of k (needs k >= 2)", *self.k.start() as f64, *self.k.end() as f64));
        }
        if self.d.is_empty() || *self.d.start() < 1 {
            return Err(bad("range of d (needs d >= 1)", *self.d.start() as f64, *self.d.end() as f64));
        }
        for (name, r) in
            [("range of log10 condition", &self.log10_condition), ("range of the mean offset", &self.mean_offset)]
        {
            let (lo, hi) = (*r.start(), *r.end());
            if !(lo >= 0.0 && hi >= lo && hi.is_finite()) {
                return Err(bad(name, lo, hi));
            }
        }
        Ok(())
    }

    /// The generator of each case, with the seed to draw it from.
    ///
    /// # Errors
    /// As [`MixtureRanges::validate`].
    pub fn generators(&self) -> Result<impl Strategy<Value = (MixtureGenerator, u64)> + use<>> {
        self.validate()?;
        let (d_lo, d_hi) = (*self.d.start(), *self.d.end());
        Ok((
            self.k.clone(),
            d_lo..=d_hi,
            float_range(&self.log10_condition),
            self.noise.strategy(),
            self.unbalanced.strategy(),
            float_range(&self.mean_offset),
            any::<u64>(),
        )
            .prop_map(|(k, d, log_condition, noise, unbalanced, offset, seed)| {
                let d = d.max(if noise { k } else { k - 1 });
                let mut g = MixtureGenerator::isotropic(k, d).condition(10f64.powf(log_condition)).mean_offset(offset);
                if noise {
                    g = g.noise_direction(4.0);
                }
                if unbalanced {
                    g = g.unbalanced();
                }
                (g, seed)
            }))
    }

    /// Random mixtures over the ranges.
    ///
    /// # Errors
    /// As [`MixtureRanges::validate`].
    pub fn strategy(&self) -> Result<impl Strategy<Value = Gmm> + use<>> {
        Ok(self.generators()?.prop_filter_map("the generator rejected the drawn parameters", |(g, seed)| {
            g.generate(&mut seeded(seed)).ok()
        }))
    }
}

/// A proptest range over `[lo, hi]` (a single value when `lo == hi`).
fn float_range(r: &RangeInclusive<f64>) -> BoxedStrategy<f64> {
    let (lo, hi) = (*r.start(), *r.end());
    if lo == hi { Just(lo).boxed() } else { (lo..=hi).boxed() }
}

/// Random mixtures over docs/theory.md's default ranges ([`MixtureRanges::default`]).
pub fn mixtures() -> impl Strategy<Value = Gmm> {
    MixtureRanges::default().strategy().unwrap_or_else(|_| unreachable!("the default ranges are valid"))
}

/// One drawn batch of augmentation pairs with the mixture and coupling it came from.
#[derive(Clone, Debug)]
pub struct PairsCase {
    /// The mixture.
    pub gmm: Gmm,
    /// The coupling `delta`.
    pub delta: f64,
    /// The pairs (`n x d` each).
    pub pairs: Pairs,
}

/// Augmentation pairs of mixtures drawn over `ranges`: `n` pairs with coupling `delta`.
///
/// # Errors
/// As [`MixtureRanges::validate`]; an empty `n` range, `n = 0`, or `delta` outside `[0, 1]`.
pub fn pairs(
    ranges: &MixtureRanges,
    n: RangeInclusive<usize>,
    delta: RangeInclusive<f64>,
) -> Result<impl Strategy<Value = PairsCase> + use<>> {
    if n.is_empty() || *n.start() == 0 {
        return Err(GmmError::out_of_range("number of pairs", *n.start() as f64, "a non-empty range of n >= 1"));
    }
    crate::sample::check_delta(*delta.start())?;
    crate::sample::check_delta(*delta.end())?;
    let delta = float_range(&delta);
    Ok((ranges.strategy()?, n, delta, any::<u64>()).prop_filter_map(
        "the sampler rejected the drawn parameters",
        |(gmm, n, delta, seed)| {
            let pairs = gmm.sample_pairs(n, delta, &mut seeded(seed)).ok()?;
            Some(PairsCase { gmm, delta, pairs })
        },
    ))
}

/// Random CLIP mixtures: `k in k`, `k_private in k_private`, modality dimensions in `d`
/// (raised to what the generator needs), with or without the `Sigma`-orthogonality of claim
/// C10.
///
/// # Errors
/// Empty ranges, `k < 2`, `k_private < 1` or `d < 1`.
pub fn clip_mixtures(
    k: RangeInclusive<usize>,
    k_private: RangeInclusive<usize>,
    d: RangeInclusive<usize>,
    orthogonal: Sometimes,
) -> Result<impl Strategy<Value = ClipGmm> + use<>> {
    for (name, r, min) in [
        ("range of shared components k", &k, 2),
        ("range of private components", &k_private, 1),
        ("range of modality dimensions", &d, 1),
    ] {
        if r.is_empty() || *r.start() < min {
            return Err(GmmError::out_of_range(
                name,
                *r.start() as f64,
                format!("a non-empty range starting at >= {min}"),
            ));
        }
    }
    Ok((k, k_private, d.clone(), d, orthogonal.strategy(), any::<u64>()).prop_filter_map(
        "the generator rejected the drawn parameters",
        |(k, kp, dx, dy, orthogonal, seed)| {
            // Room for the shared and the private mean directions (ClipGenerator::validate).
            let need = (k + kp - 2).max(1);
            ClipGenerator::new(k, kp, dx.max(need), dy.max(need))
                .orthogonal(orthogonal)
                .generate(&mut seeded(seed))
                .ok()
        },
    ))
}

/// Random linear maps `r x d` (`r in rows`) with independent `N(0, scale^2 / d)` entries (full
/// rank with probability one) and no centring.
///
/// # Errors
/// An empty `rows` range, `rows` starting at 0, `d = 0`, or a scale that is not positive.
pub fn linear_maps(
    rows: RangeInclusive<usize>,
    d: usize,
    scale: f64,
) -> Result<impl Strategy<Value = LinearMap> + use<>> {
    if rows.is_empty() || *rows.start() == 0 {
        return Err(GmmError::out_of_range("range of map rows", *rows.start() as f64, "a non-empty range of r >= 1"));
    }
    crate::error::check_at_least(d, 1, "input dimension of the maps")?;
    crate::error::check_positive(scale, "scale of the maps")?;
    Ok((rows, any::<u64>()).prop_map(move |(r, seed)| {
        LinearMap::new(gaussian_matrix(r, d, &mut seeded(seed)) * (scale / (d as f64).sqrt()))
    }))
}

/// A hostile `f64` for no-panic tests: NaN, the infinities, signed zeros, a subnormal, or a value
/// near either end of the `f64` range.
pub fn hostile_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 4.0),
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(1e-300),
        Just(1e300),
    ]
    .boxed()
}

/// An `r x c` matrix for no-panic tests: ordinary entries in `[-10, 10]`, or all on a few
/// integers (so that ties, duplicated rows and rank deficiency occur); in half of the cases
/// spoiled, either one entry replaced by a [`hostile_f64`] or every entry scaled by one.
pub fn spoiled_matrix(r: usize, c: usize) -> BoxedStrategy<nalgebra::DMatrix<f64>> {
    let value = prop_oneof![-10.0..10.0f64, (0i32..3).prop_map(f64::from)];
    (proptest::collection::vec(value, r * c), proptest::option::of((any::<usize>(), hostile_f64(), any::<bool>())))
        .prop_map(move |(mut v, spoil)| {
            if let Some((i, h, all)) = spoil.filter(|_| !v.is_empty()) {
                if all {
                    v.iter_mut().for_each(|x| *x *= h);
                } else {
                    let at = i % v.len();
                    v[at] = h;
                }
            }
            nalgebra::DMatrix::from_vec(r, c, v)
        })
        .boxed()
}

/// [`spoiled_matrix`] with its shape drawn from `rows x cols`.
pub fn spoiled_matrices(
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> BoxedStrategy<nalgebra::DMatrix<f64>> {
    (rows, cols).prop_flat_map(|(r, c)| spoiled_matrix(r, c)).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn bad_ranges_are_errors() {
        assert!(MixtureRanges::default().k(1..=3).strategy().is_err());
        assert!(MixtureRanges::default().log10_condition(-1.0..=1.0).strategy().is_err());
        assert!(MixtureRanges::default().mean_offset(0.0..=f64::INFINITY).strategy().is_err());
        assert!(pairs(&MixtureRanges::default(), 0..=4, 0.5..=0.5).is_err());
        assert!(pairs(&MixtureRanges::default(), 4..=4, 0.5..=1.5).is_err());
        assert!(clip_mixtures(1..=2, 1..=2, 4..=8, Sometimes::Always).is_err());
        assert!(linear_maps(0..=2, 3, 1.0).is_err());
    }

    #[test]
    fn drawn_values_respect_the_ranges() {
        let mut runner = TestRunner::deterministic();
        let ranges = MixtureRanges::default().k(3..=4).d(5..=9).mean_offset(2.0..=2.0).noise(Sometimes::Always);
        let strategy = pairs(&ranges, 10..=20, 0.3..=0.9).unwrap();
        let clips = clip_mixtures(2..=3, 1..=2, 3..=6, Sometimes::Sometimes).unwrap();
        let maps = linear_maps(1..=3, 7, 0.5).unwrap();
        for _ in 0..20 {
            let case = strategy.new_tree(&mut runner).unwrap().current();
            let g = &case.gmm;
            assert!((3..=4).contains(&g.k()) && (5..=9).contains(&g.dim()));
            assert!((0.3..=0.9).contains(&case.delta) && (10..=20).contains(&case.pairs.len()));
            // The offset is ||Sigma^{-1/2} mu_bar|| = ||L^{-1} mu_bar||.
            let mu_bar = g.means().tr_mul(g.weights());
            let whitened = g.cholesky_factor().solve_lower_triangular(&mu_bar).unwrap();
            assert!((whitened.norm() - 2.0).abs() < 1e-9, "offset {}", whitened.norm());
            let clip = clips.new_tree(&mut runner).unwrap().current();
            assert!((2..=3).contains(&clip.weights().len()));
            let map = maps.new_tree(&mut runner).unwrap().current();
            assert!((1..=3).contains(&map.out_dim()) && map.in_dim() == 7);
        }
    }
}
