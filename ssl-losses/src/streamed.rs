//! A loss trained on a stream of fresh pairs of a model by a first-order optimizer: the one
//! streaming run of the command line's `train` and of Python's `train(stream=True)`.
//!
//! The stream is preconditioned (centred, and whitened for the contrastive losses) by statistics
//! of a warm-up sample drawn from its own seed, so the training stream is the same with or
//! without preconditioning; the learned maps are mapped back to the input coordinates. A
//! streaming run has no certificate (its loss is stochastic); [`crate::InfoNce`] and
//! [`crate::Clip`] fit a fixed sample to one, and [`crate::WhitenedSimSiam`] certifies its map
//! against the optimum of its problem.

use gmm_core::nalgebra::DMatrix;
use gmm_core::{ClipGmm, Gmm, GmmError, LinearMap, Side, Validate, check_at_least};

use crate::data::{ClipStream, GmmStream, PairSource};
use crate::error::{LossError, Result};
use crate::executor::{TrainConfig, train_with};
use crate::init::small_random_init;
use crate::objective::Objective;
use crate::observe::Observer;
use crate::outcome::Run;
use crate::precondition::{Centering, PreconditionedSource, Sides, Whitening};
use crate::{ClipLoss, Directions, Form, InfoNceLoss, Score, SimSiamForm, SimSiamLoss};

/// The loss of a streaming run, with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "loss", rename_all = "kebab-case"))]
pub enum StreamLoss {
    /// InfoNCE on a mixture's augmentation pairs.
    Infonce {
        /// Temperature.
        tau: f64,
        /// Which cross-entropies.
        form: Form,
        /// Similarity score.
        score: Score,
    },
    /// SimSiam (stop-gradient, linear predictor started at the identity), unconstrained.
    Simsiam {
        /// The per-pair loss.
        form: SimSiamForm,
        /// One or both directions of a pair.
        directions: Directions,
    },
    /// CLIP on a CLIP-GMM's paired modalities.
    Clip {
        /// Temperature.
        tau: f64,
        /// Similarity score.
        score: Score,
    },
}

/// Steps whose mean loss is a stream's final loss ([`Run::mean_last`]).
pub const FINAL_LOSS_WINDOW: usize = 50;

/// Batches of a streaming run's warm-up sample for the preconditioner (docs/theory.md 5.4).
pub const WARMUP_BATCHES: usize = 16;

/// How a stream's inputs are preconditioned: statistics from a warm-up sample of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Preconditioning {
    /// Centring by the warm-up sample's mean (or raw inputs, claim C15).
    pub centering: Centering,
    /// Whitening by its total covariance (or none).
    pub whitening: Whitening,
    /// Batches of the warm-up sample the preconditioner is fitted on.
    pub warmup_batches: usize,
}

impl Preconditioning {
    /// Centred and whitened on [`WARMUP_BATCHES`] batches.
    pub fn new(centering: Centering, whitening: Whitening) -> Self {
        Self { centering, whitening, warmup_batches: WARMUP_BATCHES }
    }

    /// `stream` preconditioned as this says, its warm-up sample drawn from its own seed (derived
    /// from `seed`), so that the training stream is the same with or without preconditioning.
    ///
    /// # Errors
    /// As [`PreconditionedSource::new`].
    pub fn source<S: PairSource>(&self, stream: S, sides: Sides, seed: u64) -> Result<PreconditionedSource<S>> {
        PreconditionedSource::new(
            stream,
            self.warmup_batches,
            seed ^ 0x5741_524d,
            sides,
            self.centering,
            self.whitening,
        )
    }
}

/// A loss trained on a stream (the estimator): `n_components` output directions, the loss, the
/// run's settings (`config.seed` seeds the stream, the initial map and the warm-up sample), the
/// pairs per batch, the initial map's scale (entries `N(0, init_scale^2 / d)`) and the
/// preconditioning. Serialised flat, as `ssl-gmm train --json` records it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Streamed {
    /// Output dimension r.
    pub n_components: usize,
    /// The loss.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub loss: StreamLoss,
    /// Steps, learning rate, optimizer, schedule, seed.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub config: TrainConfig,
    /// Pairs per batch.
    pub batch: usize,
    /// Scale of the small random initial map.
    pub init_scale: f64,
    /// Centring and whitening of the inputs.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub preconditioning: Preconditioning,
}

/// A streaming run's result, in the input coordinates.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StreamedFit {
    /// The learned map(s), `r x d` each: one for a mixture, `[x, y]` for a CLIP-GMM.
    pub maps: Vec<DMatrix<f64>>,
    /// The largest singular value of each initial map in the input coordinates: a learned map
    /// whose smallest singular value is not above it has not grown from its start.
    pub start_scales: Vec<f64>,
    /// The run: losses of every step, steps, how it ended (never certified).
    pub run: Run,
}

/// The largest singular value of a map.
pub(crate) fn scale_of(a: &LinearMap) -> Result<f64> {
    Ok(a.singular_values()?.first().copied().unwrap_or(0.0))
}

impl Streamed {
    /// Trains on augmentation pairs of `gmm` with coupling `delta` (InfoNCE or SimSiam),
    /// reporting every step to `observer`, which may stop the run.
    ///
    /// # Errors
    /// Invalid settings, CLIP (it needs a [`ClipGmm`]: [`Streamed::fit_clip`]), and the errors of
    /// the stream, the preconditioner and [`train_with`] (a diverging run among them).
    pub fn fit_gmm(&self, gmm: &Gmm, delta: f64, observer: &mut dyn Observer) -> Result<StreamedFit> {
        self.validate()?;
        let (r, d, seed) = (self.n_components, gmm.dim(), self.config.seed);
        check_at_most(r, d)?;
        let mut source = self.preconditioning.source(GmmStream::new(gmm, delta, self.batch)?, Sides::Shared, seed)?;
        let a0 = small_random_init(r, d, self.init_scale, seed);
        let start = scale_of(&source.map_back(&a0, false)?)?;
        let (mut objective, init): (Box<dyn Objective>, _) = match self.loss {
            StreamLoss::Infonce { tau, form, score } => (Box::new(InfoNceLoss::new(tau, form, score)?), vec![a0]),
            StreamLoss::Simsiam { form, directions } => {
                (Box::new(SimSiamLoss::new(form, directions)), vec![a0, DMatrix::identity(r, r)])
            }
            StreamLoss::Clip { .. } => {
                return Err(LossError::WrongModel(CLIP_ON_MIXTURE));
            }
        };
        let trained = self.train(objective.as_mut(), &mut source, init, observer)?;
        let map = source.map_back(&trained.params[0], false)?.into_components();
        Ok(StreamedFit { maps: vec![map], start_scales: vec![start], run: trained.run })
    }

    /// Trains CLIP on paired draws of `clip`, reporting every step to `observer`.
    ///
    /// # Errors
    /// As [`Streamed::fit_gmm`]; a loss other than CLIP.
    pub fn fit_clip(&self, clip: &ClipGmm, observer: &mut dyn Observer) -> Result<StreamedFit> {
        self.validate()?;
        let StreamLoss::Clip { tau, score } = self.loss else {
            return Err(LossError::WrongModel(MIXTURE_LOSS_ON_CLIP));
        };
        let (r, seed) = (self.n_components, self.config.seed);
        let (dx, dy) = (clip.modality(Side::X).dim(), clip.modality(Side::Y).dim());
        check_at_most(r, dx.min(dy))?;
        let mut objective = ClipLoss::new(tau, score)?;
        let mut source = self.preconditioning.source(ClipStream::new(clip, self.batch)?, Sides::Separate, seed)?;
        let init = vec![
            small_random_init(r, dx, self.init_scale, seed),
            small_random_init(r, dy, self.init_scale, seed.wrapping_add(1)),
        ];
        // The start's scale in the input coordinates, where the learned maps are compared.
        let start_scales =
            vec![scale_of(&source.map_back(&init[0], false)?)?, scale_of(&source.map_back(&init[1], true)?)?];
        let trained = self.train(&mut objective, &mut source, init, observer)?;
        let maps = vec![
            source.map_back(&trained.params[0], false)?.into_components(),
            source.map_back(&trained.params[1], true)?.into_components(),
        ];
        Ok(StreamedFit { maps, start_scales, run: trained.run })
    }

    fn train(
        &self,
        objective: &mut dyn Objective,
        source: &mut dyn PairSource,
        init: Vec<DMatrix<f64>>,
        observer: &mut dyn Observer,
    ) -> Result<crate::Trained> {
        let shapes: Vec<(usize, usize)> = init.iter().map(|p| p.shape()).collect();
        let mut optimizer = self.config.optimizer.build(&shapes)?;
        train_with(objective, source, init, &self.config, &mut optimizer, None, observer)
    }
}

/// The error of CLIP given a mixture.
pub const CLIP_ON_MIXTURE: &str =
    "CLIP trains on a two-modality model (a CLIP-GMM, e.g. the preset clip), not a mixture";
/// The error of InfoNCE or SimSiam given a two-modality model.
pub const MIXTURE_LOSS_ON_CLIP: &str =
    "a two-modality model (CLIP-GMM) trains CLIP only; InfoNCE and SimSiam train on a mixture";

/// The largest initial map: entries beyond it overflow the scores.
pub const MAX_INIT_SCALE: f64 = 1e3;

fn check_at_most(r: usize, d: usize) -> Result<()> {
    if r > d {
        return Err(GmmError::out_of_range("n_components", r as f64, format!("at most the input dimension {d}")).into());
    }
    Ok(())
}

impl Validate for Streamed {
    type Error = LossError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_components, 1, "streamed n_components")?;
        // The other pairs of a batch are the negatives of the contrastive losses.
        check_at_least(self.batch, 2, "pairs per batch")?;
        check_at_least(self.preconditioning.warmup_batches, 1, "warm-up batches")?;
        if !(self.init_scale > 0.0 && self.init_scale <= MAX_INIT_SCALE) {
            return Err(GmmError::out_of_range(
                "initial scale",
                self.init_scale,
                format!("in (0, {MAX_INIT_SCALE:e}]: a larger start overflows the scores"),
            )
            .into());
        }
        self.config.validate()
    }
}
