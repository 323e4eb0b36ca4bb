//! One-call fits of InfoNCE and CLIP on a fixed sample, to the certificate (docs/theory.md
//! 5.3), on label-free preconditioned inputs ([`crate::Preconditioner`], 5.4), returning a
//! certified [`LinearMap`].
//!
//! ```
//! use gmm_core::{Fit, MixtureGenerator, seeded};
//! use ssl_losses::InfoNce;
//!
//! // Condition number 1000: a slow problem for a first-order method on raw inputs.
//! let gmm = MixtureGenerator::isotropic(3, 8).condition(1000.0).generate(&mut seeded(1))?;
//! let pairs = gmm.sample_pairs(4000, 1.0, &mut seeded(2))?;
//! let fit = InfoNce::new(2).fit(&pairs)?;
//! assert!(fit.run.converged());
//! let sin = fit.map.row_space()?.sin_theta_max(&gmm.fisher_subspace()?)?;
//! assert!(sin < 0.2, "sin theta_max {sin}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Fit, GmmError, LinearMap, Pairs, Transform, Validate, check_at_least, check_positive};

use crate::certificate::DistanceBound;
use crate::contrastive::{ClipLoss, Form, InfoNceLoss, Score};
use crate::cost::{Cost, FixedSample};
use crate::curvature::{row_rotations, smallest_curvature};
use crate::error::{LossError, Result};
use crate::init::{INIT_SCALE, small_random_init};
use crate::lbfgs::Lbfgs;
use crate::objective::Objective;
use crate::observe::Observer;
use crate::outcome::{Ending, Run, Trained};
use crate::precondition::{Centering, Preconditioner, Whitening};
use crate::streamed::scale_of;

/// InfoNCE fitted to the certificate on a fixed sample of pairs (docs/theory.md 5.3): the mean
/// batch loss over a fixed partition into batches of `batch` pairs, minimised by L-BFGS from a
/// small random map, on preconditioned inputs. Defaults: `tau = 1`, one-way, dot score,
/// batches of 256, centring and whitening on, L-BFGS with relative gradient tolerance 1e-5,
/// initial scale 1, seed 0.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InfoNce {
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
    #[cfg_attr(feature = "serde", serde(default))]
    bound_distance: bool,
}

impl InfoNce {
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
            bound_distance: false,
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

    /// The random initial map for inputs of dimension `d` (in the preconditioned coordinates).
    pub fn initial_map(&self, d: usize) -> DMatrix<f64> {
        small_random_init(self.n_components, d, self.init_scale, self.seed)
    }

    /// Also bound the distance to the local minimiser (default off: it costs up to 120 more
    /// gradient evaluations): the certificate then carries the smallest curvature across the
    /// directions the loss's symmetries leave free and the bounds it implies
    /// ([`crate::DistanceBound`]).
    pub fn bound_distance(mut self, on: bool) -> Self {
        self.bound_distance = on;
        self
    }
}

/// A fitted self-supervised map with its certificate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InfoNceFit {
    /// The map in the original coordinates (`r x d` rows, centring used).
    pub map: LinearMap,
    /// How the L-BFGS run went: its losses, its ending and its certificate (in the
    /// preconditioned coordinates).
    pub run: Run,
    /// The change of coordinates used.
    pub preconditioner: Preconditioner,
    /// The largest singular value of the initial map in the original coordinates: a learned map
    /// whose smallest singular value is not above it has not grown from its start.
    pub start_scale: f64,
}

impl Transform for InfoNceFit {
    fn transform(&self, x: &DMatrix<f64>) -> gmm_core::Result<DMatrix<f64>> {
        self.map.transform(x)
    }
}

impl Validate for InfoNce {
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

impl Fit<&Pairs> for InfoNce {
    type Fitted = InfoNceFit;

    /// Fits on the anchors and positives of `pairs` (labels unused).
    fn fit(&self, pairs: &Pairs) -> Result<InfoNceFit> {
        self.fit((&pairs.x, &pairs.x_plus))
    }
}

impl Fit<(&DMatrix<f64>, &DMatrix<f64>)> for InfoNce {
    type Fitted = InfoNceFit;

    /// Fits on anchors `x` and positives `x_plus` (`n x d` each, row `i` a pair).
    ///
    /// # Errors
    /// Invalid parameters; shapes; fewer than 2 pairs; `r > d`; non-finite data; a singular
    /// sample covariance with whitening on. A run that does not reach the tolerance is not an
    /// error: its certificate says `converged: false`.
    fn fit(&self, pairs: (&DMatrix<f64>, &DMatrix<f64>)) -> Result<InfoNceFit> {
        self.fit_with(pairs, &mut ())
    }
}

impl InfoNce {
    /// [`Fit::fit`] with an observer of the L-BFGS iterations (in the preconditioned
    /// coordinates) that may stop the run ([`Lbfgs::minimize`]; e.g. on a user's interrupt): the
    /// result is then the last iterate, its certificate evaluated there.
    ///
    /// # Errors
    /// As [`Fit::fit`].
    pub fn fit_with(
        &self,
        (x, x_plus): (&DMatrix<f64>, &DMatrix<f64>),
        observer: &mut dyn Observer,
    ) -> Result<InfoNceFit> {
        self.validate()?;
        let (n, d) = gmm_core::check_pairs(x, x_plus, self.n_components, "InfoNCE n_components")?;
        let pre = Preconditioner::fit_pairs(x, x_plus, self.centering, self.whitening)?;
        let (xt, xpt) = (pre.apply(x)?, pre.apply(x_plus)?);
        let mut loss = InfoNceLoss::new(self.tau, self.form, self.score)?;
        let init = vec![self.initial_map(d)];
        let start_scale = scale_of(&pre.map_back(&init[0])?)?;
        let (batch, lambda) = (self.batch.min(n), self.weight_decay);
        let mut out = minimize_fixed(&mut loss, (&xt, &xpt), batch, lambda, init, &self.solver, observer)?;
        let map = pre.map_back(&out.params[0])?;
        if let (true, Some(certificate)) = (self.bound_distance, out.run.certificate.as_mut()) {
            let mut cost = Ridged { sample: FixedSample::new(&mut loss, &xt, &xpt, batch)?, lambda };
            let w = pre.map_back(&DMatrix::identity(d, d))?.into_components();
            let a = &out.params[0];
            let mut symmetries: Vec<Vec<DMatrix<f64>>> = row_rotations(a).into_iter().map(|t| vec![t]).collect();
            if matches!(self.score, Score::Cosine) && lambda == 0.0 {
                symmetries.push(vec![a.clone()]);
            }
            certificate.bound = Some(distance_bound(
                &mut cost,
                &out.params,
                &symmetries,
                certificate.grad_norm,
                &[(map.components(), &w)],
            )?);
        }
        Ok(InfoNceFit { map, run: out.run, preconditioner: pre, start_scale })
    }
}

/// Minimises the mean batch loss of `objective` over a fixed partition of the pairs
/// `(left, right)` into batches of `batch`, plus `(lambda / 2) ||block||_F^2` on every block,
/// by `solver` from `init`. Without a ridge a contrastive loss that reaches its infimum 0 has
/// no minimiser, and the certificate says so ([`Certificate::escaped_to_infimum`]).
fn minimize_fixed(
    objective: &mut dyn Objective,
    (left, right): (&DMatrix<f64>, &DMatrix<f64>),
    batch: usize,
    lambda: f64,
    init: Vec<DMatrix<f64>>,
    solver: &Lbfgs,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    let mut cost = Ridged { sample: FixedSample::new(objective, left, right, batch)?, lambda };
    let mut out = solver.minimize(&mut cost, init, observer)?;
    if lambda == 0.0
        && let (Some(&start), Some(certificate)) = (out.run.losses.first(), out.run.certificate)
    {
        let certificate = certificate.escaped_to_infimum(out.run.loss(), start);
        if certificate.no_minimiser {
            out.run.ending = Ending::NoMinimiser;
        }
        out.run.certificate = Some(certificate);
    }
    Ok(out)
}

/// The mean batch loss over a fixed sample plus `(lambda / 2) ||block||_F^2` on every block.
struct Ridged<'a> {
    sample: FixedSample<'a>,
    lambda: f64,
}

impl Cost for Ridged<'_> {
    fn cost_grad(&mut self, p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]) -> Result<f64> {
        let value = self.sample.cost_grad(p, g)?;
        if self.lambda == 0.0 {
            return Ok(value);
        }
        let mut penalty = 0.0;
        for (gi, pi) in g.iter_mut().zip(p) {
            *gi += pi * self.lambda;
            penalty += 0.5 * self.lambda * pi.norm_squared();
        }
        Ok(value + penalty)
    }
}

/// The distance bound of a fixed-sample fit at `params` (the blocks in the minimisation's
/// coordinates, gradient norm `grad_norm` there), given the tangents of the cost's symmetries
/// there, and for each block its map in the original coordinates with the change of coordinates
/// `w` (`original = block w`): the curvature across the free directions, `||g|| / lambda_min`,
/// and the largest of the blocks' `sin theta_max` bounds (Wedin, the distance carried by each
/// block's `||w||_2`).
pub(crate) fn distance_bound(
    cost: &mut dyn Cost,
    params: &[DMatrix<f64>],
    symmetries: &[Vec<DMatrix<f64>>],
    grad_norm: f64,
    blocks: &[(&DMatrix<f64>, &DMatrix<f64>)],
) -> Result<DistanceBound> {
    let curvature = smallest_curvature(cost, params, symmetries)?.smallest;
    let distance = (curvature > 0.0).then(|| grad_norm / curvature);
    let sin_theta = match distance {
        Some(delta) => {
            let mut worst: f64 = 0.0;
            for (original, w) in blocks {
                let carried = delta * gmm_core::linalg::singular_values(w)?.first().copied().unwrap_or(0.0);
                let sigma_r = gmm_core::linalg::singular_values(original)?.last().copied().unwrap_or(0.0);
                worst = worst.max(if carried < sigma_r { (carried / (sigma_r - carried)).min(1.0) } else { 1.0 });
            }
            Some(worst)
        }
        None => None,
    };
    Ok(DistanceBound { curvature, distance, sin_theta })
}

/// The tangents of CLIP's symmetries at `(a, b)`: its scores `x^T A^T B y` are unchanged by
/// `(A, B) -> (Q A, Q^{-T} B)` for every invertible `Q` (tangents `(E A, -E^T B)` for the `r^2`
/// elementary `E`); with the cosine score only the joint rotations `(S A, S B)` and the scale of
/// each map remain.
fn clip_symmetries(a: &DMatrix<f64>, b: &DMatrix<f64>, score: Score) -> Vec<Vec<DMatrix<f64>>> {
    let r = a.nrows();
    match score {
        Score::Dot => {
            let mut out = Vec::new();
            for i in 0..r {
                for j in 0..r {
                    let mut e = DMatrix::zeros(r, r);
                    e[(i, j)] = 1.0;
                    out.push(vec![&e * a, -(e.transpose() * b)]);
                }
            }
            out
        }
        Score::Cosine => {
            let mut out: Vec<Vec<DMatrix<f64>>> =
                row_rotations(a).into_iter().zip(row_rotations(b)).map(|(ta, tb)| vec![ta, tb]).collect();
            out.push(vec![a.clone(), DMatrix::zeros(b.nrows(), b.ncols())]);
            out.push(vec![DMatrix::zeros(a.nrows(), a.ncols()), b.clone()]);
            out
        }
    }
}

/// CLIP fitted to the certificate on a fixed sample of paired modalities `(x, y)`
/// (docs/theory.md 5.3): the mean batch loss over a fixed partition into batches, minimised by
/// L-BFGS over both maps from small random maps, each modality centred and whitened by its own
/// sample statistics (label-free, 5.4). Defaults: `tau = 1`, dot score, batches of 256, L-BFGS
/// with relative gradient tolerance 1e-5, initial scale 1, seed 0.
///
/// ```
/// use gmm_core::{ClipGenerator, Fit, Side, seeded};
/// use ssl_losses::Clip;
///
/// let clip = ClipGenerator::new(3, 2, 6, 5).generate(&mut seeded(1))?;
/// let pairs = clip.sample_pairs(4000, &mut seeded(2))?;
/// let fit = Clip::new(2).fit((&pairs.x, &pairs.y))?;
/// assert!(fit.run.converged());
/// let f = clip.shared_gmm(Side::X)?.fisher_subspace()?;
/// assert!(fit.map_x.row_space()?.sin_theta_max(&f)? < 0.2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Clip {
    n_components: usize,
    tau: f64,
    score: Score,
    batch: usize,
    solver: Lbfgs,
    init_scale: f64,
    seed: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    bound_distance: bool,
}

impl Clip {
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
            bound_distance: false,
        }
    }

    /// Temperature `tau > 0`.
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = tau;
        self
    }

    /// Similarity score (default dot).
    pub fn score(mut self, score: Score) -> Self {
        self.score = score;
        self
    }

    /// Scale of the small random initial maps (entries `N(0, init_scale^2 / d)`).
    pub fn init_scale(mut self, init_scale: f64) -> Self {
        self.init_scale = init_scale;
        self
    }

    /// Also bound the distance to the local minimiser, as [`InfoNce::bound_distance`]: the
    /// free directions are those CLIP's symmetries leave (`(A, B) -> (Q A, Q^{-T} B)` for the
    /// dot score, joint rotations and each map's scale for the cosine score), and the bound on
    /// `sin theta_max` is the larger of the two maps'.
    pub fn bound_distance(mut self, on: bool) -> Self {
        self.bound_distance = on;
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
pub struct ClipFit {
    /// The map of modality x in its original coordinates.
    pub map_x: LinearMap,
    /// The map of modality y in its original coordinates.
    pub map_y: LinearMap,
    /// The largest singular value of each initial map (x, y) in the original coordinates: a
    /// learned map whose smallest singular value is not above it has not grown from its start.
    pub start_scales: [f64; 2],
    /// How the L-BFGS run over both maps went: its losses, its ending and its certificate (both
    /// blocks, in the preconditioned coordinates).
    pub run: Run,
}

impl Validate for Clip {
    type Error = LossError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_components, 1, "CLIP n_components")?;
        check_positive(self.tau, "temperature tau")?;
        check_at_least(self.batch, 2, "pairs per batch")?;
        check_positive(self.init_scale, "initial scale")?;
        self.solver.validate()
    }
}

impl Fit<(&DMatrix<f64>, &DMatrix<f64>)> for Clip {
    type Fitted = ClipFit;

    /// Fits on paired rows of `x` (`n x d_x`) and `y` (`n x d_y`).
    ///
    /// # Errors
    /// Invalid parameters; row counts that differ; fewer than 2 pairs; `r` above either
    /// dimension; non-finite data; a singular sample covariance of either modality. A run that
    /// does not reach the tolerance is not an error: its certificate says `converged: false`.
    fn fit(&self, pairs: (&DMatrix<f64>, &DMatrix<f64>)) -> Result<ClipFit> {
        self.fit_with(pairs, &mut ())
    }
}

impl Clip {
    /// [`Fit::fit`] with an observer of the L-BFGS iterations that may stop the run, as
    /// [`InfoNce::fit_with`].
    ///
    /// # Errors
    /// As [`Fit::fit`].
    pub fn fit_with(&self, (x, y): (&DMatrix<f64>, &DMatrix<f64>), observer: &mut dyn Observer) -> Result<ClipFit> {
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
        let mut loss = ClipLoss::new(self.tau, self.score)?;
        let init = vec![
            small_random_init(r, x.ncols(), self.init_scale, self.seed),
            small_random_init(r, y.ncols(), self.init_scale, self.seed ^ 0x636c_6970),
        ];
        let batch = self.batch.min(n);
        let mut out = minimize_fixed(&mut loss, (&xt, &yt), batch, 0.0, init.clone(), &self.solver, observer)?;
        let start_scales = [scale_of(&px.map_back(&init[0])?)?, scale_of(&py.map_back(&init[1])?)?];
        let (map_x, map_y) = (px.map_back(&out.params[0])?, py.map_back(&out.params[1])?);
        if let (true, Some(certificate)) = (self.bound_distance, out.run.certificate.as_mut()) {
            let mut cost = FixedSample::new(&mut loss, &xt, &yt, batch)?;
            let wx = px.map_back(&DMatrix::identity(x.ncols(), x.ncols()))?.into_components();
            let wy = py.map_back(&DMatrix::identity(y.ncols(), y.ncols()))?.into_components();
            let symmetries = clip_symmetries(&out.params[0], &out.params[1], self.score);
            certificate.bound = Some(distance_bound(
                &mut cost,
                &out.params,
                &symmetries,
                certificate.grad_norm,
                &[(map_x.components(), &wx), (map_y.components(), &wy)],
            )?);
        }
        Ok(ClipFit { map_x, map_y, start_scales, run: out.run })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::INFIMUM_FRACTION;
    use gmm_core::{MixtureGenerator, seeded};

    #[test]
    fn bad_parameters_are_errors() {
        let g = MixtureGenerator::isotropic(3, 4).generate(&mut seeded(1)).unwrap();
        let p = g.sample_pairs(50, 1.0, &mut seeded(2)).unwrap();
        assert!(InfoNce::new(0).fit(&p).is_err());
        assert!(InfoNce::new(5).fit(&p).is_err());
        assert!(InfoNce::new(2).tau(0.0).fit(&p).is_err());
        assert!(InfoNce::new(2).batch(1).fit(&p).is_err());
    }

    /// Two pairs in 10 dimensions can be separated by scaling the map up: the loss has no
    /// minimiser, its gradient vanishes on the way to the infimum, and the certificate must not
    /// call that converged. The same mixture with many pairs (a minimiser exists) is certified,
    /// at a loss near log m, far above the threshold.
    #[test]
    fn a_sample_without_minimiser_is_not_certified() {
        let g = MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut seeded(1)).unwrap();
        let tiny = g.sample_pairs(2, 1.0, &mut seeded(2)).unwrap();
        let fit = InfoNce::new(2).fit(&tiny).unwrap();
        let cert = fit.run.certificate.unwrap();
        assert!(cert.no_minimiser && !cert.converged && fit.run.ending == Ending::NoMinimiser, "{:?}", fit.run);
        let (loss, start) = (fit.run.loss(), fit.run.losses[0]);
        assert!(loss < INFIMUM_FRACTION * start, "loss {loss} from {start}");
        let many = g.sample_pairs(4096, 1.0, &mut seeded(2)).unwrap();
        let fit = InfoNce::new(2).fit(&many).unwrap();
        let cert = fit.run.certificate.unwrap();
        assert!(cert.converged && !cert.no_minimiser && fit.run.ending == Ending::GradTol, "{:?}", fit.run);
        let (loss, start) = (fit.run.loss(), fit.run.losses[0]);
        assert!(loss > 0.5 * start, "loss {loss} from {start}");
        // With a ridge the cost has a minimiser whatever the sample: no flag.
        let ridge = InfoNce::new(2).weight_decay(1e-3).fit(&tiny).unwrap();
        assert!(!ridge.run.certificate.unwrap().no_minimiser, "{:?}", ridge.run);
    }
}
