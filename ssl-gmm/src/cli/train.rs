//! `ssl-gmm train`: trains a loss on pairs of a mixture (InfoNCE on a fixed sample by L-BFGS to
//! its certificate by default; the other losses, or InfoNCE with `--stream`, on streams) and
//! reports how close the learned row space is to the Fisher subspace (and to PCA's).

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::bail;
use clap::ValueEnum;
use gmm_core::{Fit, Gmm, LinearMap, Model, Side, Sig3, Subspace, Validate};
use nalgebra::DMatrix;
use serde::Serialize;
use ssl_losses::{
    Centering, Certificate, Clip, Directions, DistanceBound, Ending, Form, InfoNce, Lbfgs, MAX_INIT_SCALE, Observer,
    OptimizerKind, Preconditioning, Progress, RecipeSteps, Run, Score, SimSiamForm, StreamLoss, Streamed, TrainConfig,
    WhitenedCertificate, WhitenedSimSiam, Whitening,
};

use super::io::write_atomic;
use super::model::ModelArgs;

#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Method {
    Infonce,
    Simsiam,
    SimsiamWhitened,
    Clip,
}

impl Method {
    /// The method as the papers write it.
    fn name(self) -> &'static str {
        match self {
            Method::Infonce => "InfoNCE",
            Method::Simsiam => "SimSiam",
            Method::SimsiamWhitened => "whitened SimSiam",
            Method::Clip => "CLIP",
        }
    }
}

/// Arguments of `train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The loss.
    #[arg(long, value_enum, default_value_t = Method::Infonce)]
    method: Method,
    #[command(flatten)]
    model: ModelArgs,
    /// Output dimension r (default: k - 1).
    #[arg(long)]
    dim: Option<usize>,
    /// Coupling of the augmentation pairs (mixtures only).
    #[arg(long, default_value_t = 1.0)]
    delta: f64,
    /// Pairs per batch (on a fixed sample: per batch of its fixed partition).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// InfoNCE and CLIP: pairs of the fixed sample, trained by L-BFGS to the certificate
    /// [default: 8192].
    #[arg(long)]
    samples: Option<usize>,
    /// InfoNCE and CLIP: train on streaming pairs with --optimizer for --steps instead (no
    /// certificate).
    #[arg(long)]
    stream: bool,
    /// Raw inputs, not centred by the sample mean (claim C15). Streaming runs take their
    /// statistics from a warm-up sample of 16 batches.
    #[arg(long)]
    no_center: bool,
    /// No whitening by the sample total covariance (InfoNCE, CLIP; SimSiam never whitens its
    /// inputs: its recipe whitens the outputs).
    #[arg(long)]
    no_whiten: bool,
    /// InfoNCE and CLIP on a fixed sample: the certificate's tolerance on the gradient norm relative to
    /// its start [default: 1e-5].
    #[arg(long)]
    tol: Option<f64>,
    /// InfoNCE and CLIP on a fixed sample: L-BFGS iteration budget [default: 1000].
    #[arg(long)]
    max_iters: Option<usize>,
    /// Training steps of streaming runs (simsiam, infonce --stream, clip --stream) [default: 2000];
    /// simsiam-whitened: one start of this many steps [default: the recipe's budget from the
    /// problem's spectrum, at least 10000, and up to 4 starts, to its certificate].
    #[arg(long)]
    steps: Option<usize>,
    /// Base learning rate of streaming runs (cosine schedule with 100 warm-up steps down to 1%)
    /// [default: 0.01].
    #[arg(long)]
    lr: Option<f64>,
    /// Temperature of InfoNCE and CLIP.
    #[arg(long, default_value_t = 1.0)]
    tau: f64,
    /// Score of InfoNCE and CLIP.
    #[arg(long, default_value = "dot", value_name = "dot|cosine")]
    score: Score,
    /// Form of InfoNCE.
    #[arg(long, default_value = "one-way", value_name = "one-way|symmetric|simclr")]
    form: Form,
    /// Optimizer of infonce, simsiam and clip (default adam; sgd is SGD with momentum 0.9).
    /// simsiam-whitened always trains by its recipe (SGD with momentum 0.9, the predictor slowed
    /// for weak signals and reported as predictor_rate; Adam's per-coordinate scaling moves the
    /// fixed points of projected steps off the Fisher subspace).
    #[arg(long, value_name = "adam|sgd")]
    optimizer: Option<OptimizerKind>,
    /// Scale of the small random initial map (entries N(0, scale^2 / d)).
    #[arg(long, default_value_t = 0.1)]
    init_scale: f64,
    /// Seed of the data stream and the initial map.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
    /// Also write the JSON result (with the loss curve) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The size of a learned map against its start: an angle is a result only for a map that grew.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum MapState {
    /// Every singular value is above the start's scale.
    Grown,
    /// Some singular value is still at or below the start's largest: the map is dominated by its
    /// random start, and its angles say little yet.
    NotGrown,
    /// Some singular value fell below 1e-6 of the start's largest: the map (or a row of it) has
    /// collapsed to zero, so it has no row space to measure (unconstrained SimSiam's trivial
    /// minimiser, docs/theory.md section 3).
    Collapsed,
}

/// A singular value below this fraction of the start's largest is a collapsed direction.
const COLLAPSE_FRACTION: f64 = 1e-6;

impl MapState {
    /// The state of a map with singular values `sv` (descending) from a start whose largest
    /// singular value is `start`.
    fn of(sv: &[f64], start: f64) -> Self {
        let smallest = sv.last().copied().unwrap_or(0.0);
        if smallest.is_nan() || smallest <= COLLAPSE_FRACTION * start {
            MapState::Collapsed
        } else if smallest <= start {
            MapState::NotGrown
        } else {
            MapState::Grown
        }
    }
}

/// How a learned map compares with the truth of one mixture (or one modality).
#[derive(Debug, Serialize)]
struct MapReport {
    /// Whether the map grew from its start, has not yet, or collapsed (then no angles).
    map_state: MapState,
    /// The largest singular value of the initial map, for reference.
    start_scale: f64,
    /// sin theta_max between the learned subspace and the Fisher subspace.
    sin_theta_max_fisher: Option<f64>,
    /// sin theta_max between the learned subspace and the top principal subspace.
    sin_theta_max_pca: Option<f64>,
    /// Share of ||A Sigma^{1/2}||_F^2 outside the Fisher coordinates.
    share_outside_fisher: Option<f64>,
    /// Singular values of the learned map, descending.
    singular_values: Vec<f64>,
    /// The learned map, one row per direction.
    components: Vec<Vec<f64>>,
}

/// Compares `a` (`r x d`) with the mixture `g` by containment (docs/theory.md 5.6): sin
/// theta_max between the smaller and the larger of row(A) and the reference subspace, so for
/// `r > dim F` it measures how far F is from lying in row(A).
/// `start` is the largest singular value of the initial map: a map with a singular value below
/// [`COLLAPSE_FRACTION`] of it is reported as collapsed, without angles.
fn map_report(a: &DMatrix<f64>, g: &Gmm, start: f64) -> anyhow::Result<MapReport> {
    let map = LinearMap::new(a.clone());
    let singular_values = map.singular_values()?;
    let map_state = MapState::of(&singular_values, start);
    let (mut fisher_sin, mut pca_sin, mut share) = (None, None, None);
    if map_state != MapState::Collapsed {
        let fisher = g.fisher_subspace()?;
        let learned: Subspace = map.row_space()?;
        fisher_sin = Some(learned.sin_theta_max(&fisher)?);
        pca_sin = Some(learned.sin_theta_max(&g.pca_subspace(fisher.dim())?)?);
        share = Some(g.share_outside_fisher(a)?);
    }
    Ok(MapReport {
        map_state,
        start_scale: start,
        sin_theta_max_fisher: fisher_sin,
        sin_theta_max_pca: pca_sin,
        share_outside_fisher: share,
        singular_values,
        components: gmm_core::matrix_to_rows(a),
    })
}

/// What `train` runs, validated: the estimator or the streaming run, serialised as the result's
/// `hyperparameters` (so a result file describes itself).
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Settings {
    /// InfoNCE on a fixed sample of `samples` pairs, by L-BFGS to its certificate.
    FixedSample {
        #[serde(flatten)]
        estimator: InfoNce,
        samples: usize,
    },
    /// CLIP on a fixed sample of `samples` pairs, by L-BFGS to its certificate.
    FixedClip {
        #[serde(flatten)]
        estimator: Clip,
        samples: usize,
    },
    /// Whitened SimSiam by its recipe on a stream.
    Whitened {
        #[serde(flatten)]
        estimator: WhitenedSimSiam,
        #[serde(flatten)]
        preconditioning: Preconditioning,
        /// The steps of its one start (for the progress bar; the estimator has them).
        #[serde(skip)]
        steps: usize,
    },
    /// A loss on a stream, by a first-order optimizer.
    Stream(Streamed),
}

/// A validated run: the model, the output dimension, the coupling and the settings.
struct Plan {
    model: Model,
    r: usize,
    settings: Settings,
}

/// Parses and validates the arguments into a [`Plan`]: options of another solver, a model the
/// method cannot train on, and out-of-range values are errors here, before anything runs.
fn plan(args: &Args) -> anyhow::Result<Plan> {
    let model = args.model.load()?;
    if let (Method::SimsiamWhitened, Some(_)) = (args.method, args.optimizer) {
        bail!(
            "simsiam-whitened trains by its recipe (SGD with momentum 0.9 under the whitening constraint: Adam's \
             per-coordinate scaling moves the fixed points of projected steps); --optimizer applies to infonce, simsiam and clip"
        );
    }
    let fixed_sample = matches!(args.method, Method::Infonce | Method::Clip) && !args.stream;
    let name = args.method.name();
    if fixed_sample && args.optimizer.is_some() {
        bail!("{name} on a fixed sample is minimised by L-BFGS to its certificate; --optimizer applies with --stream");
    }
    if fixed_sample && matches!(args.method, Method::Clip) && (args.no_center || args.no_whiten) {
        bail!(
            "CLIP on a fixed sample is always centred and whitened per modality; --no-center and --no-whiten apply with --stream"
        );
    }
    // Options of the other solver are errors, not silently ignored.
    let (stream_opts, fixed_opts) = (
        args.steps.is_some() || args.lr.is_some(),
        args.samples.is_some() || args.tol.is_some() || args.max_iters.is_some(),
    );
    if fixed_sample && stream_opts {
        bail!(
            "{name} on a fixed sample is minimised by L-BFGS to its certificate: --steps and --lr apply with --stream (or to simsiam)"
        );
    }
    if !fixed_sample && fixed_opts {
        bail!(
            "--samples, --tol and --max-iters apply to InfoNCE and CLIP on a fixed sample (without --stream), not to streaming runs"
        );
    }
    if args.init_scale.is_nan() || args.init_scale <= 0.0 || args.init_scale > MAX_INIT_SCALE {
        bail!(
            "--init-scale must be in (0, {MAX_INIT_SCALE:e}], got {:e}: the losses start from a small map (default 0.1), \
             and a larger one overflows the scores",
            args.init_scale
        );
    }
    let (steps, lr) = (args.steps.unwrap_or(2000), args.lr.unwrap_or(0.01));
    gmm_core::budget::check_work("--steps", steps as u64, gmm_core::budget::MAX_STEPS)?;
    gmm_core::budget::check_work("--max-iters", args.max_iters.unwrap_or(0) as u64, gmm_core::budget::MAX_STEPS)?;
    // The loss curve grows by one value a step (it is not preallocated).
    super::memory::check("the loss curve of --steps", &[steps])?;
    let simsiam = matches!(args.method, Method::Simsiam | Method::SimsiamWhitened);
    if simsiam && args.no_whiten {
        bail!(
            "--no-whiten does not apply to SimSiam: its inputs are never whitened (the recipe whitens the outputs, and \
             input whitening slows the stop-gradient dynamics: sin theta_max 0.999 against 0.031 after 2000 steps on \
             the anisotropic preset)"
        );
    }
    let preconditioning = Preconditioning::new(
        if args.no_center { Centering::None } else { Centering::SampleMean },
        if args.no_whiten || simsiam { Whitening::None } else { Whitening::SampleCovariance },
    );
    let r = match (&model, args.method) {
        (Model::Clip(c), Method::Clip) => {
            if args.delta != 1.0 {
                bail!("--delta applies to mixtures only; CLIP pairs always share z");
            }
            let (dx, dy) = (c.modality(Side::X).dim(), c.modality(Side::Y).dim());
            check_dim(args.dim.unwrap_or(c.weights().len() - 1), dx.min(dy))?
        }
        (Model::Clip(_), _) => bail!("a CLIP-GMM model needs --method clip"),
        (Model::Gmm(_), Method::Clip) => bail!("--method clip needs a two-modality model (e.g. --preset clip)"),
        (Model::Gmm(g), _) => check_dim(args.dim.unwrap_or(g.k() - 1), g.dim())?,
    };
    let batch = check_batch(args.batch)?;
    let config = TrainConfig {
        steps,
        lr,
        seed: args.seed,
        optimizer: args.optimizer.unwrap_or(OptimizerKind::ADAM),
        ..TrainConfig::default()
    };
    let stream = |loss| {
        let streamed = Streamed {
            n_components: r,
            loss,
            config: config.clone(),
            batch,
            init_scale: args.init_scale,
            preconditioning,
        };
        streamed.validate()?;
        anyhow::Ok(Settings::Stream(streamed))
    };
    // The sample size and the solver of a fixed-sample fit.
    let fixed = |model: &Model| -> anyhow::Result<(usize, Lbfgs)> {
        let samples = args.samples.unwrap_or(8192);
        let width = match model {
            Model::Gmm(g) => 2 * g.dim(),
            Model::Clip(c) => c.modality(Side::X).dim() + c.modality(Side::Y).dim(),
        };
        super::memory::check("--samples pairs", &[samples, width])?;
        let solver = Lbfgs {
            grad_rtol: args.tol.unwrap_or(1e-5),
            max_iters: args.max_iters.unwrap_or(1000),
            ..Lbfgs::default()
        };
        Ok((samples, solver))
    };
    let settings = match args.method {
        Method::Clip if fixed_sample => {
            let (samples, solver) = fixed(&model)?;
            let estimator = Clip::new(r)
                .tau(args.tau)
                .score(args.score)
                .batch(batch)
                .solver(solver)
                .init_scale(args.init_scale)
                .seed(args.seed);
            estimator.validate()?;
            Settings::FixedClip { estimator, samples }
        }
        Method::Infonce if fixed_sample => {
            let (samples, solver) = fixed(&model)?;
            let estimator = InfoNce::new(r)
                .tau(args.tau)
                .form(args.form)
                .score(args.score)
                .batch(batch)
                .centering(preconditioning.centering)
                .whitening(preconditioning.whitening)
                .solver(solver)
                .init_scale(args.init_scale)
                .seed(args.seed)
                .bound_distance(true);
            estimator.validate()?;
            Settings::FixedSample { estimator, samples }
        }
        Method::Infonce => stream(StreamLoss::Infonce { tau: args.tau, form: args.form, score: args.score })?,
        Method::Simsiam => stream(StreamLoss::Simsiam { form: SimSiamForm::Mse, directions: Directions::Symmetric })?,
        Method::Clip => stream(StreamLoss::Clip { tau: args.tau, score: args.score })?,
        Method::SimsiamWhitened => {
            let estimator = WhitenedSimSiam::new(r).batch(batch).lr(lr).init_scale(args.init_scale).seed(args.seed);
            // With --steps, one start of them: the flag is the run's budget. Without, the
            // recipe's own budget from the problem's spectrum and up to 4 starts, to its
            // certificate (as Python's train).
            let estimator = match args.steps {
                Some(steps) => estimator.steps(RecipeSteps::Fixed(steps)).max_starts(1),
                None => estimator,
            };
            estimator.validate()?;
            let steps = estimator.fewest_steps();
            Settings::Whitened { estimator, preconditioning, steps }
        }
    };
    Ok(Plan { model, r, settings })
}

/// What a run produced: its run record, the maps against the truth, and the certificates.
struct Executed {
    run: Run,
    /// For a mixture: the learned map against its Fisher and PCA subspaces, and PCA's own angle.
    single: Option<(MapReport, f64)>,
    /// For a CLIP-GMM: each map against its modality's shared Fisher subspace.
    clip: Option<(MapReport, MapReport)>,
    /// Whitened SimSiam: its certificate, or why there is none.
    whitened: Option<Result<WhitenedCertificate, &'static str>>,
    /// Whitened SimSiam: the predictor's learning rate over the map's.
    predictor_rate: Option<f64>,
}

/// Runs a plan (a progress bar unless `quiet`).
fn execute(plan: &Plan, args: &Args, quiet: bool) -> anyhow::Result<Executed> {
    let executed = |run, single, clip| Executed { run, single, clip, whitened: None, predictor_rate: None };
    match (&plan.model, &plan.settings) {
        (Model::Clip(c), Settings::Stream(streamed)) => {
            let fit = with_progress(streamed.config.steps, quiet, |observer| streamed.fit_clip(c, observer))?;
            let x = map_report(&fit.maps[0], &c.shared_gmm(Side::X)?, fit.start_scales[0])?;
            let y = map_report(&fit.maps[1], &c.shared_gmm(Side::Y)?, fit.start_scales[1])?;
            Ok(executed(fit.run, None, Some((x, y))))
        }
        (Model::Clip(c), Settings::FixedClip { estimator, samples }) => {
            let pairs = c.sample_pairs(*samples, &mut gmm_core::seeded(args.seed.wrapping_add(1)))?;
            let start = std::time::Instant::now();
            let fit = estimator.fit((&pairs.x, &pairs.y))?;
            refuse_stationary_start(&fit.run, args)?;
            let x = map_report(fit.map_x.components(), &c.shared_gmm(Side::X)?, fit.start_scales[0])?;
            let y = map_report(fit.map_y.components(), &c.shared_gmm(Side::Y)?, fit.start_scales[1])?;
            let run = Run { seconds: start.elapsed().as_secs_f64(), ..fit.run };
            Ok(executed(run, None, Some((x, y))))
        }
        (Model::Gmm(g), Settings::FixedSample { estimator, samples }) => {
            let pairs = g.sample_pairs(*samples, args.delta, &mut gmm_core::seeded(args.seed.wrapping_add(1)))?;
            let start = std::time::Instant::now();
            let fit = estimator.fit(&pairs)?;
            refuse_stationary_start(&fit.run, args)?;
            // The whole fit's time: preconditioning and L-BFGS.
            let run = Run { seconds: start.elapsed().as_secs_f64(), ..fit.run };
            Ok(executed(run, Some(mixture_report(fit.map.components(), g, fit.start_scale)?), None))
        }
        (Model::Gmm(g), Settings::Whitened { estimator, preconditioning, steps }) => {
            let fit = with_progress(*steps, quiet, |observer| {
                estimator.fit_gmm(g, args.delta, preconditioning.centering, observer)
            })?;
            Ok(Executed {
                single: Some(mixture_report(&fit.map, g, fit.start_scale)?),
                whitened: Some(
                    fit.fit
                        .certificate
                        .ok_or("the problem has no eigengap (no signal at delta = 0), so its optimum is not unique"),
                ),
                predictor_rate: Some(fit.fit.predictor_rate),
                ..executed(fit.fit.run, None, None)
            })
        }
        (Model::Gmm(g), Settings::Stream(streamed)) => {
            let fit =
                with_progress(streamed.config.steps, quiet, |observer| streamed.fit_gmm(g, args.delta, observer))?;
            Ok(executed(fit.run, Some(mixture_report(&fit.maps[0], g, fit.start_scales[0])?), None))
        }
        _ => bail!("{} does not train on this model", args.method.name()),
    }
}

/// A fixed-sample fit that could not move from its start is an error, never a certificate.
fn refuse_stationary_start(run: &Run, args: &Args) -> anyhow::Result<()> {
    if run.ending == Ending::StationaryStart {
        bail!(
            "the gradient of the fixed-sample loss is zero at the random start (tau = {:e}, --init-scale {:e}), so \
             L-BFGS cannot move and nothing is certified; {}",
            args.tau,
            args.init_scale,
            Ending::StationaryStart.advice()
        );
    }
    Ok(())
}

/// A mixture's learned map against its Fisher subspace, with PCA's own angle to it.
fn mixture_report(a: &DMatrix<f64>, g: &Gmm, start_scale: f64) -> anyhow::Result<(MapReport, f64)> {
    let fisher = g.fisher_subspace()?;
    let pca = g.pca_subspace(fisher.dim())?.sin_theta_max(&fisher)?;
    Ok((map_report(a, g, start_scale)?, pca))
}

#[derive(Debug, Serialize)]
struct Report<'p> {
    method: Method,
    /// `lbfgs` (fixed sample, certified) or `stream`.
    solver: &'static str,
    /// Whether the certificate holds (always false for streaming runs: they have none).
    converged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<Certificate>,
    /// simsiam-whitened: its distance to the optimum of the problem its recipe solves.
    #[serde(skip_serializing_if = "Option::is_none")]
    whitened_certificate: Option<WhitenedCertificate>,
    /// The estimator or the streaming run, serialised.
    hyperparameters: &'p Settings,
    /// simsiam-whitened: the predictor's learning rate over the map's.
    #[serde(skip_serializing_if = "Option::is_none")]
    predictor_rate: Option<f64>,
    model: String,
    dim: usize,
    delta: f64,
    batch: usize,
    final_loss: f64,
    steps: usize,
    steps_per_sec: f64,
    seconds: f64,
    /// Streaming runs: how the run ended (fixed-sample runs say it in `lbfgs_stop`).
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<Ending>,
    /// Fixed-sample runs: how the L-BFGS run ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    lbfgs_stop: Option<Ending>,
    /// For a mixture: the learned map against its Fisher and PCA subspaces.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    single: Option<MapReport>,
    /// For a CLIP-GMM: each map against its modality's shared Fisher subspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<MapReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<MapReport>,
    /// PCA's own sin theta_max to the Fisher subspace, for reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pca_sin_theta_max_fisher: Option<f64>,
    /// Loss of every step (written to `--out` only).
    #[serde(skip_serializing)]
    losses: Vec<f64>,
    /// Why a whitened-SimSiam map has no certificate (for the warning).
    #[serde(skip_serializing)]
    no_certificate: Option<&'static str>,
}

/// The result of an executed plan.
fn report<'p>(plan: &'p Plan, args: &Args, executed: Executed) -> Report<'p> {
    let Executed { run, single, clip, whitened, predictor_rate } = executed;
    let fixed_sample = matches!(plan.settings, Settings::FixedSample { .. } | Settings::FixedClip { .. });
    // A streaming loss is noisy: the mean of the last 50 steps; a fixed sample's is exact.
    let final_loss = run.mean_last(if fixed_sample { 1 } else { ssl_losses::FINAL_LOSS_WINDOW });
    let whitened_certificate = whitened.and_then(Result::ok);
    let converged = run.converged() || whitened_certificate.is_some_and(|c| c.converged);
    let (single, pca) = single.map_or((None, None), |(m, pca)| (Some(m), Some(pca)));
    let (x, y) = clip.map_or((None, None), |(x, y)| (Some(x), Some(y)));
    Report {
        method: args.method,
        solver: if fixed_sample { "lbfgs" } else { "stream" },
        converged,
        certificate: run.certificate,
        whitened_certificate,
        hyperparameters: &plan.settings,
        predictor_rate,
        model: args.model.label(),
        dim: plan.r,
        delta: args.delta,
        batch: args.batch,
        final_loss,
        steps: run.iterations,
        steps_per_sec: run.iterations as f64 / run.seconds,
        seconds: run.seconds,
        stop: (!fixed_sample).then_some(run.ending),
        lbfgs_stop: fixed_sample.then_some(run.ending),
        single,
        x,
        y,
        pca_sin_theta_max_fisher: pca,
        losses: run.losses,
        no_certificate: whitened.and_then(Result::err),
    }
}

fn progress(steps: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {per_sec}, eta {eta} {msg}")
            .expect("static template"),
    );
    bar
}

/// Runs `run` with an observer that draws a progress bar (none when `quiet`).
fn with_progress<T>(
    steps: usize,
    quiet: bool,
    run: impl FnOnce(&mut dyn Observer) -> ssl_losses::Result<T>,
) -> anyhow::Result<T> {
    let bar = progress(steps, quiet);
    let mut observer = |info: &Progress, _: &[DMatrix<f64>]| {
        bar.inc(1);
        if info.iteration.is_multiple_of(50) {
            bar.set_message(format!("loss {:.4}", info.loss));
        }
        ControlFlow::Continue(())
    };
    let outcome = run(&mut observer);
    bar.finish_and_clear();
    Ok(outcome?)
}

/// Runs `train`: parse and validate ([`plan`]), run ([`execute`]), then report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let plan = plan(args)?;
    let executed = execute(&plan, args, args.json)?;
    let report = report(&plan, args, executed);
    warn_unless_certified(&report, args);
    emit(&report, args)
}

/// A warning on standard error for a map whose certificate does not hold, with why and what to do.
fn warn_unless_certified(report: &Report<'_>, args: &Args) {
    if let Some(why) = report.no_certificate {
        eprintln!("warning: not converged: no certificate: {why}");
        return;
    }
    if let Some(w) = report.whitened_certificate {
        if !w.converged {
            eprintln!(
                "warning: not converged: the map is {} (sin theta_max) from the optimum of the problem the recipe \
                 solves, above the tolerance {}; the recipe approaches it at a rate set by the eigengap {}: \
                 raise --steps (or lower --lr if the distance does not fall, or try another --seed)",
                Sig3(w.sin_to_optimum),
                Sig3(w.tol),
                Sig3(w.eigengap)
            );
        }
        return;
    }
    match (report.certificate, report.lbfgs_stop) {
        (Some(c), _) if c.no_minimiser => eprintln!(
            "warning: not converged: the loss fell to {}, below {} of its start: its infimum 0, which \
             InfoNCE approaches only as the map grows without bound, so this fixed sample of {} pairs has no \
             minimiser; use more pairs (--samples)",
            Sig3(report.final_loss),
            Sig3(ssl_losses::INFIMUM_FRACTION),
            args.samples.unwrap_or(8192)
        ),
        (Some(c), stop) if !c.converged => eprintln!(
            "warning: not converged: the gradient norm is {} of its start after {} L-BFGS iterations (tolerance {}), \
             stopped by {}: {}",
            Sig3(c.relative),
            report.steps,
            Sig3(c.tol),
            match stop {
                Some(Ending::BudgetSpent) => "its iteration budget",
                Some(Ending::NoDecrease) => "a line search that found no decrease",
                _ => "its observer",
            },
            stop.unwrap_or(Ending::BudgetSpent).advice()
        ),
        (Some(_), _) => {}
        (None, _) => eprintln!(
            "warning: not converged: a streaming run has no certificate (its loss is stochastic){}",
            // The way to a certificate for this method.
            match args.method {
                Method::Infonce | Method::Clip => format!("; for a certified {} map drop --stream", args.method.name()),
                Method::Simsiam => "; --method simsiam-whitened trains SimSiam to a certificate".to_string(),
                Method::SimsiamWhitened => String::new(),
            }
        ),
    }
}

fn check_dim(r: usize, d: usize) -> anyhow::Result<usize> {
    if r == 0 || r > d {
        bail!("--dim must be between 1 and the input dimension {d}, got {r}");
    }
    Ok(r)
}

fn check_batch(n: usize) -> anyhow::Result<usize> {
    if n < 2 {
        bail!("--batch must be at least 2 (the other pairs of a batch are the negatives), got {n}");
    }
    // The scores of a batch are n x n (twice for the symmetric forms).
    super::memory::check("the scores of a --batch", &[n, n, 2])?;
    Ok(n)
}

fn emit(report: &Report<'_>, args: &Args) -> anyhow::Result<()> {
    if let Some(path) = &args.out {
        let mut value = serde_json::to_value(report)?;
        value["losses"] = serde_json::to_value(&report.losses)?;
        write_atomic(path, |w| Ok(serde_json::to_writer_pretty(w, &value)?))?;
    }
    if args.json {
        outln!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    let samples = match report.hyperparameters {
        Settings::FixedSample { samples, .. } | Settings::FixedClip { samples, .. } => Some(*samples),
        _ => None,
    };
    let (how, verdict) = match (&report.certificate, samples) {
        (Some(c), Some(n)) => (
            format!("a fixed sample of {n} pairs in batches of {}, {} L-BFGS iterations", report.batch, report.steps),
            format!(
                "{} (gradient norm {} of its start, tolerance {}){}",
                match (c.converged, c.no_minimiser) {
                    (true, _) => "certified",
                    (false, true) => "not certified, no minimiser: the loss reached its infimum",
                    (false, false) => "not certified",
                },
                Sig3(c.relative),
                Sig3(c.tol),
                match c.bound {
                    Some(DistanceBound { curvature, sin_theta: Some(sin), .. }) => format!(
                        "; within sin theta_max {} of the local minimiser (smallest free curvature {})",
                        Sig3(sin),
                        Sig3(curvature)
                    ),
                    Some(DistanceBound { curvature, .. }) => format!(
                        "; no distance bound: the smallest free curvature is {} (a saddle or a flat direction)",
                        Sig3(curvature)
                    ),
                    None => String::new(),
                }
            ),
        ),
        _ => (
            format!(
                "batches of {}, {} streaming steps ({:.0} steps/s)",
                report.batch, report.steps, report.steps_per_sec
            ),
            match &report.whitened_certificate {
                Some(w) => format!(
                    "{} (sin theta_max {} to the optimum of its problem, tolerance {})",
                    if w.converged { "certified" } else { "not certified" },
                    Sig3(w.sin_to_optimum),
                    Sig3(w.tol)
                ),
                None => "no certificate".to_string(),
            },
        ),
    };
    outln!(
        "{} on {}: r = {}, delta = {}, {how} in {} s, loss {}; {verdict}",
        report.method.name(),
        report.model,
        report.dim,
        report.delta,
        Sig3(report.seconds),
        Sig3(report.final_loss)
    );
    for (label, m) in [("", &report.single), ("x: ", &report.x), ("y: ", &report.y)] {
        let Some(m) = m else { continue };
        let largest = m.singular_values.first().copied().unwrap_or(0.0);
        let smallest = m.singular_values.last().copied().unwrap_or(0.0);
        match (m.map_state, m.sin_theta_max_fisher, m.sin_theta_max_pca, m.share_outside_fisher) {
            (MapState::Collapsed, ..) => outln!(
                "  {label}COLLAPSED: singular values {} to {} against {} at the start, so the \
                 map has no row space to compare (unconstrained SimSiam is minimised by A = 0); use --method \
                 simsiam-whitened, or more --steps (it can grow again from near zero)",
                Sig3(largest),
                Sig3(smallest),
                Sig3(m.start_scale)
            ),
            (state, Some(f), Some(p), Some(share)) => {
                outln!(
                    "  {label}sin theta_max to Fisher {}, to PCA {}; share of weight outside Fisher {}",
                    Sig3(f),
                    Sig3(p),
                    Sig3(share)
                );
                if state == MapState::NotGrown {
                    outln!(
                        "  {label}NOT GROWN: its smallest singular value {} is at most the start's {}, so \
                         these angles still reflect the random start; train longer (--steps)",
                        Sig3(smallest),
                        Sig3(m.start_scale)
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(p) = report.pca_sin_theta_max_fisher {
        outln!("  (PCA itself: sin theta_max to Fisher {})", Sig3(p));
    }
    Ok(())
}
