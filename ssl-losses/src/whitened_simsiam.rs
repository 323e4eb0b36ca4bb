//! Whitened SimSiam by its recipe (docs/theory.md 3 and 6, claim C11): the one place the recipe
//! lives. [`train_whitened_simsiam`] is one run of it from a given map; the estimator
//! [`WhitenedSimSiam`] sets its budget and its predictor's rate from the problem, restarts from a
//! new random map when a start ends uncertified, and returns a [`WhitenedSimSiamFit`] with the
//! map's certificate (its distance to the optimum, [`WhitenedCertificate`]).
//!
//! ```
//! use gmm_core::{MixtureGenerator, seeded};
//! use ssl_losses::{GmmStream, PairSource, WhitenedSimSiam};
//!
//! let gmm = MixtureGenerator::isotropic(3, 6).generate(&mut seeded(1))?;
//! let (m, c) = (gmm.second_moment(), gmm.cross_moment(1.0)?);
//! let mut pairs = || -> ssl_losses::Result<Box<dyn PairSource + '_>> { Ok(Box::new(GmmStream::new(&gmm, 1.0, 256)?)) };
//! let fit = WhitenedSimSiam::new(2).seed(3).fit(&mut pairs, (&m, &c), &mut ())?;
//! let certificate = fit.certificate.expect("delta = 1 has an eigengap");
//! assert!(certificate.converged, "{certificate:?}");
//! # Ok::<(), ssl_losses::LossError>(())
//! ```

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Gmm, GmmError, Validate, check_at_least, check_positive, check_shape};

use crate::data::{GmmStream, PairSource};
use crate::error::{LossError, Result};
use crate::executor::{TrainConfig, train_with};
use crate::init::small_random_init;
use crate::observe::Observer;
use crate::optim::OptimizerKind;
use crate::outcome::{Run, Trained};
use crate::precondition::{Centering, Sides, Whitening};
use crate::simsiam::{Directions, SimSiamForm, SimSiamLoss};
use crate::streamed::{Preconditioning, scale_of};
use crate::whitened::{RECIPE_MOMENTUM, RunningWhitening, WHITENED_TOL, WhitenedCertificate, WhitenedSpectrum};

/// One run of the recipe for whitened SimSiam as docs/theory.md analyses it (claim C11): the MSE
/// loss, symmetrised, with stop-gradient and a linear predictor starting at `I`; the whitening
/// constraint `A M A^T = I` after every step ([`crate::RunningWhitening`], momentum 0.9); and
/// SGD with momentum 0.9 whatever `config.optimizer` says (Adam's per-coordinate scaling moves
/// the fixed points of projected steps off the Fisher subspace), the predictor at
/// `predictor_rate` times the map's learning rate (in `(0, 1]`; 1 is the plain recipe, weak
/// signals need less: [`crate::whitened_predictor_rate`]). `init_map` (`r x d`) is the starting
/// map; the outcome's block 0 is the learned map, block 1 the predictor. [`WhitenedSimSiam`]
/// chooses the rate, the budget and the starts from the problem.
///
/// # Errors
/// As [`crate::train_with`]; `predictor_rate` outside `(0, 1]`.
pub fn train_whitened_simsiam(
    source: &mut dyn PairSource,
    init_map: DMatrix<f64>,
    config: &TrainConfig,
    predictor_rate: f64,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    if !(predictor_rate > 0.0 && predictor_rate <= 1.0) {
        return Err(GmmError::out_of_range("predictor rate", predictor_rate, "in (0, 1]").into());
    }
    let r = init_map.nrows();
    let init = vec![init_map, DMatrix::identity(r, r)];
    let shapes: Vec<(usize, usize)> = init.iter().map(|p| p.shape()).collect();
    let mut optimizer =
        OptimizerKind::Sgd { momentum: RECIPE_MOMENTUM }.build(&shapes)?.block_rates(&[1.0, predictor_rate])?;
    let mut whitening = RunningWhitening::new(0.9)?;
    let mut loss = SimSiamLoss::new(SimSiamForm::Mse, Directions::Symmetric);
    train_with(&mut loss, source, init, config, &mut optimizer, Some(&mut whitening), observer)
}

/// The budgets of the starts of [`WhitenedSimSiam`], in multiples of the first start's.
const START_BUDGETS: [usize; 4] = [1, 2, 4, 4];

/// The first start's step budget of [`WhitenedSimSiam`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum RecipeSteps {
    /// This many steps, whatever the problem.
    Fixed(usize),
    /// From the problem's eigenvalues ([`crate::whitened_budget`]), at least `at_least` and at
    /// most `at_most` steps; `at_least` when the problem has no eigengap (no optimum to reach).
    FromSpectrum {
        /// The fewest steps.
        at_least: usize,
        /// The most steps.
        at_most: usize,
    },
}

/// Whitened SimSiam by its recipe ([`train_whitened_simsiam`]), run until its certificate holds:
/// the estimator. Defaults: batches of 256 pairs, the budget from the problem's spectrum
/// (between 10000 and 320000 steps), learning rate 0.01 (cosine schedule), initial scale 0.1,
/// tolerance [`WHITENED_TOL`] on `sin theta_max` to the optimum, up to 4 starts, seed 0.
///
/// Start `i` begins at a random map ([`WhitenedSimSiam::initial_map`]: scale `init_scale`, seed
/// `seed + 1 + 7919 i`) on a fresh
/// source (stream seed `seed + i`), with the predictor rate [`crate::whitened_predictor_rate`]
/// of the problem, runs `[1, 2, 4, 4][i]` times the first start's budget (its own cosine
/// schedule; not stopped early: the map reported is the recipe's endpoint), and its map is then
/// certified against the optimum of the problem with moments `(m, c)` ([`WhitenedCertificate`]).
/// Every start is reproducible on its own. The fit is the first certified start, or the last
/// start, uncertified.
///
/// Why several starts: the recipe approaches the optimum at a rate of about
/// `lambda_s (lambda_s - lambda_{s+1})` (eigenvalues of `M^{-1/2} C M^{-1/2}`), which sets the
/// budget; and from some starts a row of `A` settles in a direction with no signal, where the
/// predictor's eigenvalue decays to 0 and with it the row's gradient (the dead eigenmode of
/// non-contrastive dynamics): a saddle that more steps do not leave, but a new start does
/// (docs/theory.md 6).
///
/// Without an eigengap (no signal, e.g. coupling 0) the problem has no unique optimum: one start
/// of the plain recipe (predictor rate 1), with no certificate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WhitenedSimSiam {
    n_components: usize,
    batch: usize,
    steps: RecipeSteps,
    lr: f64,
    init_scale: f64,
    tol: f64,
    max_starts: usize,
    seed: u64,
}

impl WhitenedSimSiam {
    /// The first start's fewest steps: the fixed budget, or the spectrum's lower bound.
    pub fn fewest_steps(&self) -> usize {
        match self.steps {
            RecipeSteps::Fixed(steps) => steps,
            RecipeSteps::FromSpectrum { at_least, .. } => at_least,
        }
    }

    /// `r` directions with the defaults above.
    pub fn new(n_components: usize) -> Self {
        Self {
            n_components,
            batch: 256,
            steps: RecipeSteps::FromSpectrum { at_least: 10_000, at_most: 320_000 },
            lr: 0.01,
            init_scale: 0.1,
            tol: WHITENED_TOL,
            max_starts: START_BUDGETS.len(),
            seed: 0,
        }
    }

    /// Pairs per batch of the sources (for the predictor's rate; the sources draw them).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// The first start's step budget.
    pub fn steps(mut self, steps: RecipeSteps) -> Self {
        self.steps = steps;
        self
    }

    /// Base learning rate of the map (the cosine schedule of [`TrainConfig::default`]).
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Scale of the random initial maps (entries `N(0, scale^2 / d)`).
    pub fn init_scale(mut self, init_scale: f64) -> Self {
        self.init_scale = init_scale;
        self
    }

    /// Tolerance on `sin theta_max` to the optimum.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// At most this many starts, 1 to 4.
    pub fn max_starts(mut self, max_starts: usize) -> Self {
        self.max_starts = max_starts;
        self
    }

    /// Seed of the streams and the initial maps.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The random initial map of start `i` for inputs of dimension `d`.
    pub fn initial_map(&self, start: usize, d: usize) -> DMatrix<f64> {
        small_random_init(self.n_components, d, self.init_scale, self.seed.wrapping_add(1 + 7919 * start as u64))
    }

    /// Runs the recipe on batches from `source` (called once per start for a fresh source) of
    /// the problem with second moment `m` and cross moment `c` (in the sources' coordinates:
    /// for centred pairs the total covariance and `Cov(x+, x)`), reporting every start's steps to
    /// `observer`.
    ///
    /// # Errors
    /// Invalid parameters; `m` or `c` not `d x d` for the source's `d`, `r` above `d`, `M` not
    /// positive definite; as [`train_whitened_simsiam`]. A run that does not reach the tolerance
    /// is not an error: its certificate says `converged: false`.
    pub fn fit<'a>(
        &self,
        source: &mut dyn FnMut() -> Result<Box<dyn PairSource + 'a>>,
        (m, c): (&DMatrix<f64>, &DMatrix<f64>),
        observer: &mut dyn Observer,
    ) -> Result<WhitenedSimSiamFit> {
        self.validate()?;
        let (r, d) = (self.n_components, m.nrows());
        let spectrum = WhitenedSpectrum::new(m, c, r)?;
        let has_optimum = spectrum.signal_rows(r).is_ok();
        let first = match self.steps {
            RecipeSteps::Fixed(steps) => steps,
            RecipeSteps::FromSpectrum { at_least, .. } if !has_optimum => at_least,
            RecipeSteps::FromSpectrum { at_least, at_most } => spectrum.budget(r, at_least)?.min(at_most),
        };
        let config = TrainConfig { steps: first, lr: self.lr, seed: self.seed, ..TrainConfig::default() };
        // The rate depends on the learning rate and the batch, the same for every start.
        let predictor_rate = if has_optimum { spectrum.predictor_rate(r, self.batch, &config)? } else { 1.0 };
        let mut run_start = |start: usize, total_steps: usize| -> Result<WhitenedSimSiamFit> {
            let init = self.initial_map(start, d);
            let mut source = source()?;
            check_shape(&init, r, source.dims().0, "initial map against the source")?;
            let run = TrainConfig {
                steps: START_BUDGETS[start].saturating_mul(first),
                seed: config.seed.wrapping_add(start as u64),
                ..config.clone()
            };
            let Trained { mut params, run } =
                train_whitened_simsiam(source.as_mut(), init, &run, predictor_rate, observer)?;
            let certificate = if has_optimum { Some(spectrum.certify(&params[0], m, self.tol)?) } else { None };
            // The recipe trains two blocks, the map and the predictor, and returns both.
            let predictor = params.swap_remove(1);
            Ok(WhitenedSimSiamFit {
                map: params.swap_remove(0),
                predictor,
                total_steps: total_steps + run.iterations,
                run,
                certificate,
                predictor_rate,
                start,
                first_budget: first,
            })
        };
        let mut fit = run_start(0, 0)?;
        let starts = if has_optimum { self.max_starts } else { 1 };
        for start in 1..starts {
            if fit.converged() {
                break;
            }
            fit = run_start(start, fit.total_steps)?;
        }
        Ok(fit)
    }
}

/// A whitened-SimSiam fit on augmentation pairs of a mixture ([`WhitenedSimSiam::fit_gmm`]).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WhitenedMixtureFit {
    /// The fit in the stream's (centred) coordinates, with its certificate.
    pub fit: WhitenedSimSiamFit,
    /// The learned map in the input coordinates (`r x d`).
    pub map: DMatrix<f64>,
    /// The largest singular value of the first start's map in the input coordinates.
    pub start_scale: f64,
}

impl WhitenedSimSiam {
    /// Fits on a stream of augmentation pairs of `gmm` with coupling `delta`, centred by a
    /// warm-up sample's mean (or raw, [`Centering::None`]; never whitened: the recipe whitens
    /// the outputs), against the moments of the problem the stream poses: the total covariance
    /// and `Cov(x+, x) = delta S_B` for centred inputs, the raw second and cross moments without
    /// centring.
    ///
    /// # Errors
    /// As [`WhitenedSimSiam::fit`] and [`GmmStream::new`].
    pub fn fit_gmm(
        &self,
        gmm: &Gmm,
        delta: f64,
        centering: Centering,
        observer: &mut dyn Observer,
    ) -> Result<WhitenedMixtureFit> {
        let (m, c) = match centering {
            Centering::None => (gmm.second_moment(), gmm.cross_moment(delta)?),
            Centering::SampleMean => (gmm.total_covariance(), gmm.pair_covariance(delta)?),
        };
        let preconditioning = Preconditioning::new(centering, Whitening::None);
        let stream = || GmmStream::new(gmm, delta, self.batch);
        let mut sources = || -> Result<Box<dyn PairSource + '_>> {
            Ok(Box::new(preconditioning.source(stream()?, Sides::Shared, self.seed)?))
        };
        let fit = self.fit(&mut sources, (&m, &c), observer)?;
        let back = preconditioning.source(stream()?, Sides::Shared, self.seed)?;
        let start_scale = scale_of(&back.map_back(&self.initial_map(0, gmm.dim()), false)?)?;
        let map = back.map_back(&fit.map, false)?.into_components();
        Ok(WhitenedMixtureFit { fit, map, start_scale })
    }
}

impl Validate for WhitenedSimSiam {
    type Error = LossError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_components, 1, "whitened SimSiam n_components")?;
        check_at_least(self.batch, 1, "pairs per batch")?;
        check_positive(self.lr, "learning rate")?;
        check_positive(self.init_scale, "initial scale")?;
        gmm_core::check_non_negative(self.tol, "certificate tolerance")?;
        if !(1..=START_BUDGETS.len()).contains(&self.max_starts) {
            return Err(GmmError::out_of_range("starts", self.max_starts as f64, "between 1 and 4").into());
        }
        if let RecipeSteps::FromSpectrum { at_least, at_most } = self.steps
            && at_most < at_least
        {
            return Err(GmmError::out_of_range(
                "most steps",
                at_most as f64,
                format!("at least the fewest, {at_least}"),
            )
            .into());
        }
        check_at_least(self.fewest_steps(), 1, "steps")?;
        Ok(())
    }
}

/// A whitened-SimSiam map fitted by [`WhitenedSimSiam`]: the last start's map, predictor, run
/// and certificate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WhitenedSimSiamFit {
    /// The learned map (`r x d`, in the sources' coordinates).
    pub map: DMatrix<f64>,
    /// The learned predictor (`r x r`).
    pub predictor: DMatrix<f64>,
    /// The last start's run (its losses, steps and ending; a stream has no gradient
    /// certificate: the map's is [`WhitenedSimSiamFit::certificate`]).
    pub run: Run,
    /// The map's distance to the optimum of the problem; `None` when the problem has no
    /// eigengap (no unique optimum, e.g. coupling 0).
    pub certificate: Option<WhitenedCertificate>,
    /// The predictor's learning rate over the map's.
    pub predictor_rate: f64,
    /// Which start it was (0-based).
    pub start: usize,
    /// Steps over all starts.
    pub total_steps: usize,
    /// The first start's step budget.
    pub first_budget: usize,
}

impl WhitenedSimSiamFit {
    /// Whether the map is certified.
    pub fn converged(&self) -> bool {
        self.certificate.is_some_and(|c| c.converged)
    }
}
