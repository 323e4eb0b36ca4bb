//! Augmentation models: how the two views of a positive pair are made from a mixture, with the
//! sampler of view pairs and their population moments (`../shared/spec/zoo/zoo.md`, items 4
//! and 5; docs/theory.md section 1).
//!
//! An [`Augmentation`] is a **base pair** followed by **view transforms** on each side:
//!
//! * base pair: [`Base::Coupled`] (today's model: `x+` is redrawn from the same component with
//!   probability `delta`, [`crate::PairSampler`]) or [`Base::Identical`] (`x+ = x`, the input
//!   of label-free augmentations);
//! * transforms, applied in order and independently on each side: [`ViewTransform::Noise`]
//!   (`v + xi`, `xi ~ N(0, Sigma_aug)`: isotropic, shaped like `Sigma`, or given) and
//!   [`ViewTransform::Mask`] (`D v`, `D = diag(m)`, `m_i ~ Bernoulli(keep)` independently).
//!
//! Their moments ([`ViewMoments`]) follow exactly through the transforms on the raw moments
//! `(E[v], E[v v^T])` of each side and the raw cross moment `E[v1 v2^T]`: noise adds `Sigma_aug`
//! to its side's second moment; a mask maps `m -> p m`, `R -> p^2 R + p (1 - p) diag(R)` and
//! multiplies the cross moment by `p` (independent masks on both sides multiply by `p1 p2`).
//!
//! ```
//! use gmm_core::{Augmentation, MixtureGenerator, NoiseShape, seeded};
//! let g = MixtureGenerator::isotropic(3, 5).generate(&mut seeded(1))?;
//! // x+ = x + xi with xi ~ N(0, I): Cov(x, x+) = Sigma_T, Cov(x+) = Sigma_T + I.
//! let noise = Augmentation::additive_noise(NoiseShape::Isotropic(1.0))?;
//! let m = noise.moments(&g)?;
//! assert!((m.cross_covariance() - g.total_covariance()).amax() < 1e-12);
//! let pairs = noise.sample(&g, 100, &mut seeded(2))?;
//! assert_eq!(pairs.x_plus.shape(), (100, 5));
//! # Ok::<(), gmm_core::GmmError>(())
//! ```

use std::fmt;

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::error::{GmmError, Result, check_positive, check_shape};
use crate::gmm::Gmm;
use crate::linalg::{checked_symmetric, sym_eig_desc};
use crate::sample::{PairSampler, Pairs, check_delta};

/// The covariance of additive noise `xi ~ N(0, Sigma_aug)`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum NoiseShape {
    /// `s2 I` (the variance `s2 > 0` per coordinate).
    Isotropic(f64),
    /// `c Sigma`, shaped like the mixture's within-component covariance (`c > 0`).
    LikeCovariance(f64),
    /// A given `d x d` symmetric positive semi-definite matrix.
    Given(DMatrix<f64>),
}

impl NoiseShape {
    /// Checks the scale of the isotropic and the `Sigma`-shaped noise (positive, finite).
    fn check_scale(&self) -> Result<()> {
        match self {
            Self::Isotropic(s2) => check_positive(*s2, "isotropic noise variance"),
            Self::LikeCovariance(c) => check_positive(*c, "scale of the noise shaped like Sigma"),
            Self::Given(_) => Ok(()),
        }
    }

    /// `Sigma_aug` for the mixture `gmm`.
    ///
    /// # Errors
    /// A non-positive or non-finite scale; a given matrix of the wrong shape, not symmetric,
    /// non-finite or with a negative eigenvalue (below `-1e-12` of its largest).
    pub fn covariance(&self, gmm: &Gmm) -> Result<DMatrix<f64>> {
        let d = gmm.dim();
        self.check_scale()?;
        match self {
            Self::Isotropic(s2) => Ok(DMatrix::identity(d, d) * *s2),
            Self::LikeCovariance(c) => Ok(gmm.covariance() * *c),
            Self::Given(s) => {
                check_shape(s, d, d, "noise covariance against the mixture's dimension")?;
                let s = checked_symmetric(s, "noise covariance")?;
                let (w, _) = sym_eig_desc(&s)?;
                let lowest = w.min();
                if lowest < -1e-12 * w.amax().max(f64::MIN_POSITIVE) {
                    let expected = "a positive semi-definite noise covariance (its eigenvalues >= 0)";
                    return Err(GmmError::out_of_range(
                        "smallest eigenvalue of the noise covariance",
                        lowest,
                        expected,
                    ));
                }
                Ok(s)
            }
        }
    }
}

/// A transform applied to one view, independently of everything else.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ViewTransform {
    /// `v + xi`, `xi ~ N(0, Sigma_aug)`.
    Noise(NoiseShape),
    /// `D v` with `D = diag(m)`, `m_i ~ Bernoulli(keep)` independently, `keep` in `(0, 1]`.
    Mask {
        /// The probability of keeping a coordinate.
        keep: f64,
    },
}

/// The base pair before the view transforms.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Base {
    /// `x+` redrawn from the same component with probability `delta` ([`PairSampler`]).
    Coupled {
        /// The coupling `delta` in `[0, 1]`.
        delta: f64,
    },
    /// `x+ = x`.
    Identical,
}

/// An augmentation model: a base pair, then transforms on the left (`x`) and the right (`x+`)
/// view; see the module docs.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Augmentation {
    base: Base,
    left: Vec<ViewTransform>,
    right: Vec<ViewTransform>,
}

/// The population moments of a pair of views `(v1, v2)`: each side's mean and raw second moment
/// and the raw cross moment `E[v1 v2^T]`; covariances follow by subtracting the means.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewMoments {
    /// `E[v1]`.
    pub mean_left: DVector<f64>,
    /// `E[v2]`.
    pub mean_right: DVector<f64>,
    /// `E[v1 v1^T]`.
    pub second_left: DMatrix<f64>,
    /// `E[v2 v2^T]`.
    pub second_right: DMatrix<f64>,
    /// `E[v1 v2^T]`.
    pub cross: DMatrix<f64>,
}

impl ViewMoments {
    /// `Cov(v1)`.
    pub fn cov_left(&self) -> DMatrix<f64> {
        &self.second_left - &self.mean_left * self.mean_left.transpose()
    }

    /// `Cov(v2)`.
    pub fn cov_right(&self) -> DMatrix<f64> {
        &self.second_right - &self.mean_right * self.mean_right.transpose()
    }

    /// `Cov(v1, v2) = E[(v1 - E v1)(v2 - E v2)^T]`.
    pub fn cross_covariance(&self) -> DMatrix<f64> {
        &self.cross - &self.mean_left * self.mean_right.transpose()
    }

    /// `E[(v1 - v2)(v1 - v2)^T]` (raw: the means do not cancel unless they are equal).
    pub fn difference_second_moment(&self) -> DMatrix<f64> {
        &self.second_left + &self.second_right - &self.cross - self.cross.transpose()
    }

    fn apply(&mut self, t: &ViewTransform, noise: &DMatrix<f64>, left: bool) {
        let (mean, second) = if left {
            (&mut self.mean_left, &mut self.second_left)
        } else {
            (&mut self.mean_right, &mut self.second_right)
        };
        match t {
            ViewTransform::Noise(_) => *second += noise,
            &ViewTransform::Mask { keep } => {
                *mean *= keep;
                let diag = second.diagonal();
                *second *= keep * keep;
                for (i, v) in diag.iter().enumerate() {
                    second[(i, i)] += keep * (1.0 - keep) * v;
                }
                self.cross *= keep;
            }
        }
    }
}

impl Augmentation {
    /// Today's pairs: `x+` redrawn from the same component with probability `delta`.
    ///
    /// # Errors
    /// `delta` outside `[0, 1]`.
    pub fn coupled(delta: f64) -> Result<Self> {
        check_delta(delta)?;
        Ok(Self { base: Base::Coupled { delta }, left: Vec::new(), right: Vec::new() })
    }

    /// `x+ = x` before any transform (add transforms with [`Augmentation::then_left`] and
    /// [`Augmentation::then_right`]).
    pub fn identical() -> Self {
        Self { base: Base::Identical, left: Vec::new(), right: Vec::new() }
    }

    /// `x+ = x + xi`, `xi ~ N(0, Sigma_aug)`, the anchor clean.
    ///
    /// # Errors
    /// A non-positive scale (the matrix of [`NoiseShape::Given`] is checked against a mixture).
    pub fn additive_noise(noise: NoiseShape) -> Result<Self> {
        Self::identical().then_right(ViewTransform::Noise(noise))
    }

    /// `x+ = D x`, `D` a Bernoulli(`keep`) mask, the anchor unmasked.
    ///
    /// # Errors
    /// `keep` outside `(0, 1]`.
    pub fn masking(keep: f64) -> Result<Self> {
        Self::identical().then_right(ViewTransform::Mask { keep })
    }

    /// Adds a transform to the left view (after the ones it has).
    ///
    /// # Errors
    /// A mask's `keep` outside `(0, 1]`; a non-positive noise scale.
    pub fn then_left(mut self, t: ViewTransform) -> Result<Self> {
        check_transform(&t)?;
        self.left.push(t);
        Ok(self)
    }

    /// Adds a transform to the right view (after the ones it has).
    ///
    /// # Errors
    /// As [`Augmentation::then_left`].
    pub fn then_right(mut self, t: ViewTransform) -> Result<Self> {
        check_transform(&t)?;
        self.right.push(t);
        Ok(self)
    }

    /// The same transform, drawn independently, on both views.
    ///
    /// # Errors
    /// As [`Augmentation::then_left`].
    pub fn then_both(self, t: ViewTransform) -> Result<Self> {
        self.then_left(t.clone())?.then_right(t)
    }

    /// The base pair.
    pub fn base(&self) -> Base {
        self.base
    }

    /// True when the two views are exchangeable with a common marginal (no transforms, or the
    /// same transforms on both sides): the only case where the one-matrix "CCA on pairs"
    /// (`GEV(sym Cov(x+, x), Cov(x))`) is meaningful (zoo.md item 5).
    pub fn is_exchangeable(&self) -> bool {
        self.left == self.right
    }

    /// Each view's within-component covariance when no view is masked: then each view is a
    /// mixture with `gmm`'s weights and means and the covariance `Sigma + Sigma_side` (`Sigma_side`
    /// the sum of that side's noise covariances), and `Some((Sigma_left, Sigma_right))` is
    /// returned; `None` when a mask makes a view non-Gaussian.
    ///
    /// # Errors
    /// A given noise covariance that does not fit `gmm` ([`NoiseShape::covariance`]).
    pub fn gaussian_view_covariances(&self, gmm: &Gmm) -> Result<Option<(DMatrix<f64>, DMatrix<f64>)>> {
        let side = |ts: &[ViewTransform]| -> Result<Option<DMatrix<f64>>> {
            let mut s = gmm.covariance().clone();
            for t in ts {
                match t {
                    ViewTransform::Noise(shape) => s += shape.covariance(gmm)?,
                    ViewTransform::Mask { .. } => return Ok(None),
                }
            }
            Ok(Some(s))
        };
        Ok(side(&self.left)?.zip(side(&self.right)?))
    }

    /// The exact population moments of the views for the mixture `gmm`.
    ///
    /// # Errors
    /// A given noise covariance that does not fit `gmm` ([`NoiseShape::covariance`]).
    pub fn moments(&self, gmm: &Gmm) -> Result<ViewMoments> {
        let mean = gmm.mean();
        let second = gmm.second_moment();
        let cross = match self.base {
            Base::Coupled { delta } => gmm.cross_moment(delta)?,
            Base::Identical => second.clone(),
        };
        let mut m = ViewMoments {
            mean_left: mean.clone(),
            mean_right: mean,
            second_left: second.clone(),
            second_right: second,
            cross,
        };
        for (ts, left) in [(&self.left, true), (&self.right, false)] {
            for t in ts {
                let noise = match t {
                    ViewTransform::Noise(shape) => shape.covariance(gmm)?,
                    ViewTransform::Mask { .. } => DMatrix::zeros(0, 0),
                };
                m.apply(t, &noise, left);
            }
        }
        Ok(m)
    }

    /// `n` view pairs from `gmm`: the base pair, then each side's transforms in order. `z` and
    /// `z_plus` are the base pair's components.
    ///
    /// # Errors
    /// A given noise covariance that does not fit `gmm`.
    pub fn sample<R: Rng + ?Sized>(&self, gmm: &Gmm, n: usize, rng: &mut R) -> Result<Pairs> {
        let mut pairs = match self.base {
            Base::Coupled { delta } => PairSampler::new(gmm, delta)?.sample(n, rng),
            Base::Identical => {
                let s = gmm.sample(n, rng);
                Pairs { x_plus: s.x.clone(), z_plus: s.z.clone(), x: s.x, z: s.z }
            }
        };
        for t in &self.left {
            transform_rows(t, gmm, &mut pairs.x, rng)?;
        }
        for t in &self.right {
            transform_rows(t, gmm, &mut pairs.x_plus, rng)?;
        }
        Ok(pairs)
    }
}

fn check_transform(t: &ViewTransform) -> Result<()> {
    match t {
        &ViewTransform::Mask { keep } if !(keep > 0.0 && keep <= 1.0) => {
            Err(GmmError::out_of_range("mask keep probability", keep, "in (0, 1]"))
        }
        ViewTransform::Noise(shape) => shape.check_scale(),
        ViewTransform::Mask { .. } => Ok(()),
    }
}

/// Applies one transform to the rows of `x` (`n x d`), drawing from `rng` row by row.
fn transform_rows<R: Rng + ?Sized>(t: &ViewTransform, gmm: &Gmm, x: &mut DMatrix<f64>, rng: &mut R) -> Result<()> {
    let (n, d) = x.shape();
    match t {
        ViewTransform::Noise(shape) => {
            // A square root of the (possibly singular) noise covariance: V diag(sqrt(w)).
            let (w, v) = sym_eig_desc(&shape.covariance(gmm)?)?;
            let root = v * DMatrix::from_diagonal(&w.map(|l| l.max(0.0).sqrt()));
            let normals = DMatrix::from_fn(n, d, |_, _| rng.sample::<f64, _>(StandardNormal));
            *x += normals * root.transpose();
        }
        &ViewTransform::Mask { keep } => {
            for i in 0..n {
                for j in 0..d {
                    if rng.random::<f64>() >= keep {
                        x[(i, j)] = 0.0;
                    }
                }
            }
        }
    }
    Ok(())
}

impl fmt::Display for NoiseShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Isotropic(s2) => write!(f, "N(0, {s2} I)"),
            Self::LikeCovariance(c) => write!(f, "N(0, {c} Sigma)"),
            Self::Given(_) => write!(f, "N(0, given)"),
        }
    }
}

impl fmt::Display for ViewTransform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Noise(shape) => write!(f, "+ {shape}"),
            Self::Mask { keep } => write!(f, "mask({keep})"),
        }
    }
}

impl fmt::Display for Augmentation {
    /// E.g. `coupled(delta 1)`, `x+ = x, then x+: + N(0, 1 I)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.base {
            Base::Coupled { delta } => write!(f, "coupled(delta {delta})")?,
            Base::Identical => write!(f, "x+ = x")?,
        }
        for (side, ts) in [("x", &self.left), ("x+", &self.right)] {
            if !ts.is_empty() {
                let list: Vec<String> = ts.iter().map(ToString::to_string).collect();
                write!(f, ", then {side}: {}", list.join(", "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MixtureGenerator, seeded};

    /// The moments of a sample of view pairs agree with the exact moments to a few standard
    /// errors (n = 200 000, so the relative error is ~ n^{-1/2} ~ 2e-3; the bound 2e-2 is ten of
    /// them) for every model, on a non-centred, anisotropic mixture; and a wrong model (the
    /// mask's moments without its diagonal term) is off by more than the bound.
    #[test]
    fn sampled_moments_match_the_exact_ones() {
        let g = MixtureGenerator::isotropic(3, 4).condition(10.0).generate(&mut seeded(3)).unwrap();
        let shifted = Gmm::new(g.weights().as_slice(), g.means().map(|v| v + 1.0), g.covariance().clone()).unwrap();
        let models = [
            Augmentation::coupled(0.5).unwrap(),
            Augmentation::additive_noise(NoiseShape::Isotropic(0.5)).unwrap(),
            Augmentation::additive_noise(NoiseShape::LikeCovariance(1.0)).unwrap(),
            Augmentation::masking(0.5).unwrap(),
            Augmentation::identical().then_both(ViewTransform::Mask { keep: 0.7 }).unwrap(),
            Augmentation::coupled(1.0)
                .unwrap()
                .then_right(ViewTransform::Mask { keep: 0.6 })
                .unwrap()
                .then_left(ViewTransform::Noise(NoiseShape::Isotropic(0.3)))
                .unwrap(),
        ];
        let n = 200_000;
        for model in &models {
            let exact = model.moments(&shifted).unwrap();
            let p = model.sample(&shifted, n, &mut seeded(11)).unwrap();
            let scale = exact.second_left.amax().max(exact.second_right.amax());
            let gap = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).amax() / scale;
            let nf = n as f64;
            let second_left = p.x.tr_mul(&p.x) / nf;
            let second_right = p.x_plus.tr_mul(&p.x_plus) / nf;
            let cross = p.x.tr_mul(&p.x_plus) / nf;
            let worst = gap(&second_left, &exact.second_left)
                .max(gap(&second_right, &exact.second_right))
                .max(gap(&cross, &exact.cross));
            assert!(worst < 2e-2, "{model}: {worst}");
        }
        // The bound can fail: dropping the mask's diagonal term p (1 - p) diag(R).
        let exact = Augmentation::masking(0.5).unwrap().moments(&shifted).unwrap();
        let p = Augmentation::masking(0.5).unwrap().sample(&shifted, n, &mut seeded(11)).unwrap();
        let wrong = shifted.second_moment() * 0.25;
        let sampled = p.x_plus.tr_mul(&p.x_plus) / n as f64;
        assert!((sampled - wrong).amax() / exact.second_right.amax() > 2e-2);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let g = MixtureGenerator::isotropic(3, 4).generate(&mut seeded(1)).unwrap();
        assert!(Augmentation::masking(0.0).is_err());
        assert!(Augmentation::masking(f64::NAN).is_err());
        assert!(Augmentation::coupled(1.5).is_err());
        assert!(Augmentation::additive_noise(NoiseShape::Isotropic(-1.0)).is_err());
        let wrong_shape = Augmentation::additive_noise(NoiseShape::Given(DMatrix::identity(3, 3))).unwrap();
        assert!(wrong_shape.moments(&g).is_err() && wrong_shape.sample(&g, 4, &mut seeded(1)).is_err());
        let indefinite = Augmentation::additive_noise(NoiseShape::Given(DMatrix::from_diagonal_element(4, 4, -1.0)));
        assert!(indefinite.unwrap().moments(&g).is_err());
    }

    #[test]
    fn exchangeable_views_and_names() {
        assert!(Augmentation::coupled(1.0).unwrap().is_exchangeable());
        assert!(!Augmentation::masking(0.5).unwrap().is_exchangeable());
        let both = Augmentation::identical().then_both(ViewTransform::Mask { keep: 0.5 }).unwrap();
        assert!(both.is_exchangeable());
        assert_eq!(both.to_string(), "x+ = x, then x: mask(0.5), then x+: mask(0.5)");
    }
}
