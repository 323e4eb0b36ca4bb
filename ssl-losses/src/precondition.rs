//! Label-free preconditioning (docs/theory.md 5.4).
//!
//! Centring by the sample mean is assumption A0 (a choice of inputs); whitening by the sample
//! total covariance `Sigma_T_hat` is a change of coordinates that, by C5, leaves the minimisers
//! of InfoNCE unchanged (`A = A~ Sigma_T_hat^{-1/2}`) and removes the condition number of
//! `Sigma` from the optimisation. Both are on by default and independent; their statistics come
//! from the training sample (anchors and positives pooled), never from labels.

use gmm_core::linalg::{column_means, gram_with, spd_inv_sqrt, subtract_mean, subtract_row};
use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{GmmError, LinearMap, check_at_least, check_finite};

use crate::data::PairSource;
use crate::error::{LossError, Result};
use crate::objective::Batch;

/// Whether inputs are centred before training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Centering {
    /// Subtract the sample mean (assumption A0).
    #[default]
    SampleMean,
    /// Raw inputs (claim C15's setting).
    None,
}

/// Whether inputs are whitened before training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Whitening {
    /// Multiply by `(Sigma_T_hat + lambda I)^{-1/2}`, `Sigma_T_hat` the sample total covariance
    /// (around the mean that centring uses: the sample mean, or 0 without centring) and
    /// `lambda = 1e-9 tr(Sigma_T_hat) / d` a relative ridge that keeps the map invertible when a
    /// feature is constant. By C5 any invertible change of coordinates leaves the minimisers of
    /// InfoNCE unchanged, so the ridge changes the conditioning, not the answer.
    #[default]
    SampleCovariance,
    /// Keep the coordinates.
    None,
}

/// Relative ridge of [`Whitening::SampleCovariance`].
pub const WHITENING_RIDGE: f64 = 1e-9;

/// A label-free change of coordinates `x~ = W (x - m)`, `W` symmetric (`I` without whitening,
/// `m = 0` without centring).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Preconditioner {
    mean: DVector<f64>,
    w: DMatrix<f64>,
}

impl Preconditioner {
    /// From the rows of `sample` (`n x d`).
    ///
    /// # Errors
    /// Fewer than 2 rows, non-finite values, or (with whitening) a singular sample covariance,
    /// e.g. fewer samples than dimensions or a constant feature.
    pub fn fit(sample: &DMatrix<f64>, centering: Centering, whitening: Whitening) -> Result<Self> {
        let (n, d) = sample.shape();
        check_at_least(n, 2, "samples for the preconditioner")?;
        check_finite(sample, "samples for the preconditioner")?;
        let mean = match centering {
            Centering::SampleMean => column_means(sample),
            Centering::None => DVector::zeros(d),
        };
        let w = match whitening {
            Whitening::None => DMatrix::identity(d, d),
            Whitening::SampleCovariance => {
                let mut cov = gram_with(sample, subtract_mean(&mean)) / n as f64;
                let ridge = WHITENING_RIDGE * cov.trace() / d as f64;
                for i in 0..d {
                    cov[(i, i)] += ridge;
                }
                spd_inv_sqrt(&cov).map_err(|e| match e {
                    GmmError::Singular { .. } => LossError::Core(GmmError::Singular {
                        what: "the sample covariance used for whitening (every feature is constant)",
                        fix: "the data carry no variance to learn from; check the input, or turn whitening off",
                    }),
                    other => LossError::Core(other),
                })?
            }
        };
        Ok(Self { mean, w })
    }

    /// From the two sides of pairs pooled (anchors `x` and positives `x_plus`, `n x d` each, the
    /// same marginal): the statistics of the `2n` rows.
    ///
    /// # Errors
    /// Sides of different widths; as [`Preconditioner::fit`].
    pub fn fit_pairs(
        x: &DMatrix<f64>,
        x_plus: &DMatrix<f64>,
        centering: Centering,
        whitening: Whitening,
    ) -> Result<Self> {
        let (n, d) = x.shape();
        gmm_core::check_shape(x_plus, x_plus.nrows(), d, "columns of the two sides of a shared preconditioner")?;
        let m = x_plus.nrows();
        let pooled = DMatrix::from_fn(n + m, d, |i, j| if i < n { x[(i, j)] } else { x_plus[(i - n, j)] });
        Self::fit(&pooled, centering, whitening)
    }

    /// `(X - 1 m^T) W` (`n x d`, rows are samples).
    ///
    /// # Errors
    /// `x` of another width.
    pub fn apply(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        gmm_core::check_shape(x, x.nrows(), self.mean.len(), "columns of the data against the preconditioner")?;
        let mut c = x.clone();
        subtract_row(&mut c, &self.mean);
        Ok(c * &self.w)
    }

    /// The map in the original coordinates of a map `A~` learned on preconditioned inputs:
    /// `f(x) = A~ W (x - m)`, i.e. components `A~ W` and centring `m`.
    ///
    /// # Errors
    /// `A~` without one column per input dimension, or with a non-finite entry.
    pub fn map_back(&self, a_tilde: &DMatrix<f64>) -> Result<LinearMap> {
        gmm_core::check_shape(a_tilde, a_tilde.nrows(), self.w.nrows(), "map against the preconditioner")?;
        Ok(LinearMap::with_mean(a_tilde * &self.w, self.mean.clone())?)
    }
}

/// Whether the two sides of the pairs share one preconditioner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sides {
    /// One preconditioner from both sides pooled (augmentation pairs: both sides have the same
    /// marginal).
    Shared,
    /// One preconditioner per side (CLIP: two modalities).
    Separate,
}

/// A stream of pairs preconditioned on the fly (docs/theory.md 5.4): the statistics come from a
/// warm-up sample of the stream itself (label-free), drawn with its own generator so that the
/// training stream is the same with or without preconditioning; every later batch is mapped by
/// `x~ = W (x - m)`. A map `A~` learned on it acts in the original coordinates as
/// [`PreconditionedSource::map_back`] says.
pub struct PreconditionedSource<S> {
    inner: S,
    left: Preconditioner,
    right: Preconditioner,
    buf_left: DMatrix<f64>,
    buf_right: DMatrix<f64>,
}

impl<S: PairSource> PreconditionedSource<S> {
    /// Draws `warmup_batches` batches from `inner` with a generator seeded by `seed` and fits the
    /// preconditioners (`Sides::Shared`: one from both sides pooled).
    ///
    /// # Errors
    /// `warmup_batches = 0`; the source's errors; a warm-up sample the preconditioner refuses
    /// (e.g. constant data with whitening on).
    pub fn new(
        mut inner: S,
        warmup_batches: usize,
        seed: u64,
        sides: Sides,
        centering: Centering,
        whitening: Whitening,
    ) -> Result<Self> {
        check_at_least(warmup_batches, 1, "warm-up batches of a preconditioned stream")?;
        let mut rng = gmm_core::seeded(seed);
        let (mut lefts, mut rights) = (Vec::new(), Vec::new());
        for _ in 0..warmup_batches {
            let b = inner.next_batch(&mut rng)?;
            lefts.push(b.left().clone());
            rights.push(b.right().clone());
        }
        let stack = |blocks: &[DMatrix<f64>]| {
            let n: usize = blocks.iter().map(|b| b.nrows()).sum();
            let d = blocks[0].ncols();
            let mut out = DMatrix::zeros(n, d);
            let mut at = 0;
            for b in blocks {
                out.rows_mut(at, b.nrows()).copy_from(b);
                at += b.nrows();
            }
            out
        };
        let (l, r) = (stack(&lefts), stack(&rights));
        let (left, right) = match sides {
            Sides::Shared => {
                let p = Preconditioner::fit_pairs(&l, &r, centering, whitening)?;
                (p.clone(), p)
            }
            Sides::Separate => {
                (Preconditioner::fit(&l, centering, whitening)?, Preconditioner::fit(&r, centering, whitening)?)
            }
        };
        Ok(Self { inner, left, right, buf_left: DMatrix::zeros(0, 0), buf_right: DMatrix::zeros(0, 0) })
    }

    /// The map of a block learned on one side, in that side's original coordinates
    /// (`right = false`: the left side, e.g. InfoNCE's `A` or CLIP's `A`; `true`: CLIP's `B`).
    ///
    /// # Errors
    /// As [`Preconditioner::map_back`].
    pub fn map_back(&self, a_tilde: &DMatrix<f64>, right: bool) -> Result<LinearMap> {
        if right { self.right.map_back(a_tilde) } else { self.left.map_back(a_tilde) }
    }
}

impl<S: PairSource> PairSource for PreconditionedSource<S> {
    fn next_batch(&mut self, rng: &mut gmm_core::SeedRng) -> Result<Batch<'_>> {
        let b = self.inner.next_batch(rng)?;
        self.buf_left = self.left.apply(b.left())?;
        self.buf_right = self.right.apply(b.right())?;
        // The transform of finite data can still overflow: checked.
        Batch::new(&self.buf_left, &self.buf_right)
    }

    fn dims(&self) -> (usize, usize) {
        self.inner.dims()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmm_core::{MixtureGenerator, seeded};

    #[test]
    fn preconditioner_whitens_and_maps_back() {
        let g = MixtureGenerator::isotropic(3, 5).condition(100.0).generate(&mut seeded(1)).unwrap();
        let x = g.sample(2000, &mut seeded(2)).x;
        let pre = Preconditioner::fit(&x, Centering::SampleMean, Whitening::SampleCovariance).unwrap();
        let xt = pre.apply(&x).unwrap();
        let cov = xt.transpose() * &xt / 2000.0;
        // Whitened up to the relative ridge 1e-9.
        assert!((cov - DMatrix::identity(5, 5)).amax() < 1e-8);
        // f(x) = A~ x~ = (A~ W)(x - m).
        let a = DMatrix::from_fn(2, 5, |i, j| (i + 2 * j) as f64 * 0.1);
        let direct = &xt * a.transpose();
        let mapped = pre.map_back(&a).unwrap().transform(&x).unwrap();
        assert!((direct - mapped).amax() < 1e-10);
        // Fewer samples than dimensions: the ridge keeps W invertible; constant data has nothing.
        let short = DMatrix::from_fn(4, 5, |i, j| (i * j) as f64);
        assert!(Preconditioner::fit(&short, Centering::SampleMean, Whitening::SampleCovariance).is_ok());
        let constant = DMatrix::from_element(4, 5, 2.0);
        assert!(Preconditioner::fit(&constant, Centering::SampleMean, Whitening::SampleCovariance).is_err());
    }

    #[test]
    fn a_preconditioned_stream_whitens_its_batches() {
        let g = MixtureGenerator::isotropic(3, 5).condition(100.0).generate(&mut seeded(1)).unwrap();
        let stream = crate::GmmStream::new(&g, 1.0, 512).unwrap();
        let mut pre =
            PreconditionedSource::new(stream, 8, 7, Sides::Shared, Centering::SampleMean, Whitening::SampleCovariance)
                .unwrap();
        let b = crate::PairSource::next_batch(&mut pre, &mut seeded(2)).unwrap();
        let cov = b.left().transpose() * b.left() / 512.0;
        // A fresh batch of 512 against warm-up statistics of 4096 pairs: identity up to sampling
        // error, about sqrt(2 / 512) ~ 0.06 per entry; the raw covariance has entries up to 100.
        assert!((cov - DMatrix::identity(5, 5)).amax() < 0.3);
        assert!(
            PreconditionedSource::new(
                crate::GmmStream::new(&g, 1.0, 8).unwrap(),
                0,
                1,
                Sides::Shared,
                Centering::None,
                Whitening::None
            )
            .is_err()
        );
    }
}
