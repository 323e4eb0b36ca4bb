//! Label-free preconditioning (docs/theory.md 5.4) and one-call fits that return a certified
//! [`LinearMap`].
//!
//! Centring by the sample mean is assumption A0 (a choice of inputs); whitening by the sample
//! total covariance `Sigma_T_hat` is a change of coordinates that, by C5, leaves the minimisers
//! of InfoNCE unchanged (`A = A~ Sigma_T_hat^{-1/2}`) and removes the condition number of
//! `Sigma` from the optimisation. Both are on by default and independent; their statistics come
//! from the training sample (anchors and positives pooled), never from labels.
//!
//! ```
//! use gmm_core::{Fit, MixtureGenerator, seeded};
//! use ssl_losses::InfoNceFit;
//!
//! // Condition number 1000: a slow problem for a first-order method on raw inputs.
//! let gmm = MixtureGenerator::isotropic(3, 8).condition(1000.0).generate(&mut seeded(1))?;
//! let pairs = gmm.sample_pairs(4000, 1.0, &mut seeded(2))?;
//! let fit = InfoNceFit::new(2).fit(&pairs)?;
//! assert!(fit.certificate.converged);
//! let sin = fit.map.row_space()?.sin_theta_max(&gmm.fisher_subspace()?)?;
//! assert!(sin < 0.2, "sin theta_max {sin}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::ControlFlow;

use gmm_core::linalg::{column_means, gram_with, spd_inv_sqrt, subtract_mean, subtract_row};
use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{Fit, GmmError, LinearMap, Pairs, Transform, Validate, check_at_least, check_finite, check_positive};

use crate::contrastive::{Form, InfoNce, Score};
use crate::error::{LossError, Result};
use crate::lbfgs::{Certificate, Cost, FixedSample, FnCost, Lbfgs};
use crate::train::small_random_init;

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

/// The scale of the random initial map of the fixed-sample fits (entries `N(0, scale^2 / d)` in
/// the whitened coordinates, rows of norm about 1). The certificate is the gradient norm relative
/// to the start, so the start must not sit near the saddle at `A = 0`, where the gradient is
/// proportional to `A`: from scale 0.1 the start gradient was 1000x smaller, and a centred k = 2
/// fit stalled at rounding level with the relative gradient at 1.4e-5 (absolute 8e-8), while from
/// scale 1 the same fit certified at 7e-8.
pub const INIT_SCALE: f64 = 1.0;

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

impl<S: crate::PairSource> PreconditionedSource<S> {
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

impl<S: crate::PairSource> crate::PairSource for PreconditionedSource<S> {
    fn next_batch(&mut self, rng: &mut gmm_core::SeedRng) -> Result<crate::Batch<'_>> {
        let b = self.inner.next_batch(rng)?;
        self.buf_left = self.left.apply(b.left())?;
        self.buf_right = self.right.apply(b.right())?;
        // The transform of finite data can still overflow: checked.
        crate::Batch::new(&self.buf_left, &self.buf_right)
    }

    fn dims(&self) -> (usize, usize) {
        self.inner.dims()
    }
}

/// InfoNCE fitted to the certificate on a fixed sample of pairs (docs/theory.md 5.3): the mean
/// batch loss over a fixed partition into batches of `batch` pairs, minimised by L-BFGS from a
/// small random map, on preconditioned inputs. Defaults: `tau = 1`, one-way, dot score,
/// batches of 256, centring and whitening on, L-BFGS with relative gradient tolerance 1e-5,
/// initial scale 1, seed 0.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InfoNceFit {
    n_components: usize,
    tau: f64,
    form: Form,
    score: Score,
    batch: usize,
    centering: Centering,
    whitening: Whitening,
    solver: Lbfgs,
    init_scale: f64,
    weight_decay: f64,
    seed: u64,
}

impl InfoNceFit {
    /// `r` directions with the defaults above.
    pub fn new(n_components: usize) -> Self {
        Self {
            n_components,
            tau: 1.0,
            form: Form::OneWay,
            score: Score::Dot,
            batch: 256,
            centering: Centering::SampleMean,
            whitening: Whitening::SampleCovariance,
            solver: Lbfgs::default(),
            init_scale: INIT_SCALE,
            weight_decay: 0.0,
            seed: 0,
        }
    }

    /// A ridge penalty `(lambda / 2) ||A~||_F^2` on the map in the preconditioned coordinates
    /// (default 0). On a finite sample whose pairs can be separated perfectly in some direction
    /// (e.g. a pixel constant within one class of a small image set), the InfoNCE loss decreases
    /// without bound as the map grows along it, so there is no minimiser to certify; the penalty
    /// makes one exist. It changes the objective: state it with the result.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }

    /// Temperature `tau > 0`.
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = tau;
        self
    }

    /// Form of the loss.
    pub fn form(mut self, form: Form) -> Self {
        self.form = form;
        self
    }

    /// Score.
    pub fn score(mut self, score: Score) -> Self {
        self.score = score;
        self
    }

    /// Pairs per batch `m >= 2` of the fixed partition (the in-batch negatives).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Centring of the inputs.
    pub fn centering(mut self, centering: Centering) -> Self {
        self.centering = centering;
        self
    }

    /// Whitening of the inputs.
    pub fn whitening(mut self, whitening: Whitening) -> Self {
        self.whitening = whitening;
        self
    }

    /// The L-BFGS settings (iteration budget, certificate tolerance).
    pub fn solver(mut self, solver: Lbfgs) -> Self {
        self.solver = solver;
        self
    }

    /// Scale of the random initial map (entries `N(0, scale^2 / d)`).
    pub fn init_scale(mut self, init_scale: f64) -> Self {
        self.init_scale = init_scale;
        self
    }

    /// Seed of the initial map.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A fitted self-supervised map with its certificate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SslFitted {
    /// The map in the original coordinates (`r x d` rows, centring used).
    pub map: LinearMap,
    /// The convergence certificate, in the preconditioned coordinates.
    pub certificate: Certificate,
    /// The deterministic loss at the returned map.
    pub loss: f64,
    /// The loss after each solver iteration (the first entry is the start).
    pub losses: Vec<f64>,
    /// Solver iterations.
    pub iterations: usize,
    /// Cost evaluations.
    pub evaluations: usize,
    /// Why the solver stopped.
    pub stop: crate::LbfgsStop,
    /// The change of coordinates used.
    pub preconditioner: Preconditioner,
}

impl Transform for SslFitted {
    fn transform(&self, x: &DMatrix<f64>) -> gmm_core::Result<DMatrix<f64>> {
        self.map.transform(x)
    }
}

impl Validate for InfoNceFit {
    type Error = LossError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_components, 1, "InfoNCE n_components")?;
        check_positive(self.tau, "temperature tau")?;
        check_at_least(self.batch, 2, "pairs per batch")?;
        check_positive(self.init_scale, "initial scale")?;
        gmm_core::check_non_negative(self.weight_decay, "weight decay")?;
        self.solver.validate()
    }
}

impl Fit<&Pairs> for InfoNceFit {
    type Fitted = SslFitted;

    /// Fits on the anchors and positives of `pairs` (labels unused).
    fn fit(&self, pairs: &Pairs) -> Result<SslFitted> {
        self.fit((&pairs.x, &pairs.x_plus))
    }
}

impl Fit<(&DMatrix<f64>, &DMatrix<f64>)> for InfoNceFit {
    type Fitted = SslFitted;

    /// Fits on anchors `x` and positives `x_plus` (`n x d` each, row `i` a pair).
    ///
    /// # Errors
    /// Invalid parameters; shapes; fewer than 2 pairs; `r > d`; non-finite data; a singular
    /// sample covariance with whitening on. A run that does not reach the tolerance is not an
    /// error: its certificate says `converged: false`.
    fn fit(&self, pairs: (&DMatrix<f64>, &DMatrix<f64>)) -> Result<SslFitted> {
        self.fit_until(pairs, &mut |_| ControlFlow::Continue(()))
    }
}

impl InfoNceFit {
    /// [`Fit::fit`] with an observer of the L-BFGS iterations that may stop the run
    /// ([`Lbfgs::minimize_until`]; e.g. on a user's interrupt): the result is then the last
    /// iterate, its certificate evaluated there.
    ///
    /// # Errors
    /// As [`Fit::fit`].
    pub fn fit_until(
        &self,
        (x, x_plus): (&DMatrix<f64>, &DMatrix<f64>),
        observer: &mut dyn FnMut(&crate::LbfgsStep) -> ControlFlow<()>,
    ) -> Result<SslFitted> {
        self.validate()?;
        let (n, d) = gmm_core::check_pairs(x, x_plus, self.n_components, "InfoNCE n_components")?;
        let pre = Preconditioner::fit_pairs(x, x_plus, self.centering, self.whitening)?;
        let (xt, xpt) = (pre.apply(x)?, pre.apply(x_plus)?);
        let mut loss = InfoNce::new(self.tau, self.form, self.score)?;
        let init = vec![small_random_init(self.n_components, d, self.init_scale, self.seed)];
        let (batch, lambda) = (self.batch.min(n), self.weight_decay);
        let out = minimize_fixed(&mut loss, (&xt, &xpt), batch, lambda, init, &self.solver, observer)?;
        Ok(SslFitted {
            map: pre.map_back(&out.params[0])?,
            certificate: out.certificate,
            loss: out.loss,
            losses: out.losses,
            iterations: out.iterations,
            evaluations: out.evaluations,
            stop: out.stop,
            preconditioner: pre,
        })
    }
}

/// Minimises the mean batch loss of `objective` over a fixed partition of the pairs
/// `(left, right)` into batches of `batch`, plus `(lambda / 2) ||block||_F^2` on every block,
/// by `solver` from `init`. Without a ridge a contrastive loss that reaches its infimum 0 has
/// no minimiser, and the certificate says so ([`Certificate::escaped_to_infimum`]).
fn minimize_fixed(
    objective: &mut dyn crate::Objective,
    (left, right): (&DMatrix<f64>, &DMatrix<f64>),
    batch: usize,
    lambda: f64,
    init: Vec<DMatrix<f64>>,
    solver: &Lbfgs,
    observer: &mut dyn FnMut(&crate::LbfgsStep) -> ControlFlow<()>,
) -> Result<crate::Minimized> {
    let mut sample = FixedSample::new(objective, left, right, batch)?;
    let mut cost = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
        let value = sample.cost_grad(p, g)?;
        if lambda == 0.0 {
            return Ok(value);
        }
        let mut penalty = 0.0;
        for (gi, pi) in g.iter_mut().zip(p) {
            *gi += pi * lambda;
            penalty += 0.5 * lambda * pi.norm_squared();
        }
        Ok(value + penalty)
    });
    let mut out = solver.minimize_until(&mut cost, init, observer)?;
    if lambda == 0.0
        && let Some(&start) = out.losses.first()
    {
        out.certificate = out.certificate.escaped_to_infimum(out.loss, start);
    }
    Ok(out)
}

/// CLIP fitted to the certificate on a fixed sample of paired modalities `(x, y)`
/// (docs/theory.md 5.3): the mean batch loss over a fixed partition into batches, minimised by
/// L-BFGS over both maps from small random maps, each modality centred and whitened by its own
/// sample statistics (label-free, 5.4). Defaults: `tau = 1`, dot score, batches of 256, L-BFGS
/// with relative gradient tolerance 1e-5, initial scale 1, seed 0.
///
/// ```
/// use gmm_core::{ClipGenerator, Fit, Side, seeded};
/// use ssl_losses::ClipFit;
///
/// let clip = ClipGenerator::new(3, 2, 6, 5).generate(&mut seeded(1))?;
/// let pairs = clip.sample_pairs(4000, &mut seeded(2))?;
/// let fit = ClipFit::new(2).fit((&pairs.x, &pairs.y))?;
/// assert!(fit.certificate.converged);
/// let f = clip.shared_gmm(Side::X)?.fisher_subspace()?;
/// assert!(fit.map_x.row_space()?.sin_theta_max(&f)? < 0.2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClipFit {
    n_components: usize,
    tau: f64,
    score: Score,
    batch: usize,
    solver: Lbfgs,
    init_scale: f64,
    seed: u64,
}

impl ClipFit {
    /// `r` directions per modality with the defaults above.
    pub fn new(n_components: usize) -> Self {
        Self {
            n_components,
            tau: 1.0,
            score: Score::Dot,
            batch: 256,
            solver: Lbfgs::default(),
            init_scale: INIT_SCALE,
            seed: 0,
        }
    }

    /// Temperature `tau > 0`.
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = tau;
        self
    }

    /// Pairs per batch `m >= 2` of the fixed partition.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// The L-BFGS settings.
    pub fn solver(mut self, solver: Lbfgs) -> Self {
        self.solver = solver;
        self
    }

    /// Seed of the initial maps.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A fitted CLIP pair of maps with their joint certificate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClipFitted {
    /// The map of modality x in its original coordinates.
    pub map_x: LinearMap,
    /// The map of modality y in its original coordinates.
    pub map_y: LinearMap,
    /// The convergence certificate (both blocks), in the preconditioned coordinates.
    pub certificate: Certificate,
    /// The deterministic loss at the returned maps.
    pub loss: f64,
    /// Solver iterations.
    pub iterations: usize,
    /// Why the solver stopped.
    pub stop: crate::LbfgsStop,
}

impl Validate for ClipFit {
    type Error = LossError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_components, 1, "CLIP n_components")?;
        check_positive(self.tau, "temperature tau")?;
        check_at_least(self.batch, 2, "pairs per batch")?;
        check_positive(self.init_scale, "initial scale")?;
        self.solver.validate()
    }
}

impl Fit<(&DMatrix<f64>, &DMatrix<f64>)> for ClipFit {
    type Fitted = ClipFitted;

    /// Fits on paired rows of `x` (`n x d_x`) and `y` (`n x d_y`).
    ///
    /// # Errors
    /// Invalid parameters; row counts that differ; fewer than 2 pairs; `r` above either
    /// dimension; non-finite data; a singular sample covariance of either modality. A run that
    /// does not reach the tolerance is not an error: its certificate says `converged: false`.
    fn fit(&self, pairs: (&DMatrix<f64>, &DMatrix<f64>)) -> Result<ClipFitted> {
        self.fit_until(pairs, &mut |_| ControlFlow::Continue(()))
    }
}

impl ClipFit {
    /// [`Fit::fit`] with an observer of the L-BFGS iterations that may stop the run, as
    /// [`InfoNceFit::fit_until`].
    ///
    /// # Errors
    /// As [`Fit::fit`].
    pub fn fit_until(
        &self,
        (x, y): (&DMatrix<f64>, &DMatrix<f64>),
        observer: &mut dyn FnMut(&crate::LbfgsStep) -> ControlFlow<()>,
    ) -> Result<ClipFitted> {
        self.validate()?;
        let r = self.n_components;
        let n = x.nrows();
        if y.nrows() != n {
            return Err(
                GmmError::Shape { what: "rows of modality y against modality x", expected: n, got: y.nrows() }.into()
            );
        }
        check_at_least(n, 2, "pairs of a fixed sample")?;
        for (m, what) in [(x, "CLIP n_components against d_x"), (y, "CLIP n_components against d_y")] {
            if r > m.ncols() {
                return Err(GmmError::out_of_range(what, r as f64, format!("at most {}", m.ncols())).into());
            }
        }
        let (px, py) = (
            Preconditioner::fit(x, Centering::SampleMean, Whitening::SampleCovariance)?,
            Preconditioner::fit(y, Centering::SampleMean, Whitening::SampleCovariance)?,
        );
        let (xt, yt) = (px.apply(x)?, py.apply(y)?);
        let mut loss = crate::Clip::new(self.tau, self.score)?;
        let init = vec![
            small_random_init(r, x.ncols(), self.init_scale, self.seed),
            small_random_init(r, y.ncols(), self.init_scale, self.seed ^ 0x636c_6970),
        ];
        let out = minimize_fixed(&mut loss, (&xt, &yt), self.batch.min(n), 0.0, init, &self.solver, observer)?;
        Ok(ClipFitted {
            map_x: px.map_back(&out.params[0])?,
            map_y: py.map_back(&out.params[1])?,
            certificate: out.certificate,
            loss: out.loss,
            iterations: out.iterations,
            stop: out.stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::INFIMUM_FRACTION;
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

    #[test]
    fn bad_parameters_are_errors() {
        let g = MixtureGenerator::isotropic(3, 4).generate(&mut seeded(1)).unwrap();
        let p = g.sample_pairs(50, 1.0, &mut seeded(2)).unwrap();
        assert!(InfoNceFit::new(0).fit(&p).is_err());
        assert!(InfoNceFit::new(5).fit(&p).is_err());
        assert!(InfoNceFit::new(2).tau(0.0).fit(&p).is_err());
        assert!(InfoNceFit::new(2).batch(1).fit(&p).is_err());
    }

    /// Two pairs in 10 dimensions can be separated by scaling the map up: the loss has no
    /// minimiser, its gradient vanishes on the way to the infimum, and the certificate must not
    /// call that converged. The same mixture with many pairs (a minimiser exists) is certified,
    /// at a loss near log m, far above the threshold.
    #[test]
    fn a_sample_without_minimiser_is_not_certified() {
        let g = MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut seeded(1)).unwrap();
        let tiny = g.sample_pairs(2, 1.0, &mut seeded(2)).unwrap();
        let fit = InfoNceFit::new(2).fit(&tiny).unwrap();
        assert!(fit.certificate.no_minimiser && !fit.certificate.converged, "{:?}", fit.certificate);
        assert!(fit.loss < INFIMUM_FRACTION * fit.losses[0], "loss {} from {}", fit.loss, fit.losses[0]);
        let many = g.sample_pairs(4096, 1.0, &mut seeded(2)).unwrap();
        let fit = InfoNceFit::new(2).fit(&many).unwrap();
        assert!(fit.certificate.converged && !fit.certificate.no_minimiser, "{:?}", fit.certificate);
        assert!(fit.loss > 0.5 * fit.losses[0], "loss {} from {}", fit.loss, fit.losses[0]);
        // With a ridge the cost has a minimiser whatever the sample: no flag.
        let ridge = InfoNceFit::new(2).weight_decay(1e-3).fit(&tiny).unwrap();
        assert!(!ridge.certificate.no_minimiser, "{:?}", ridge.certificate);
    }
}
