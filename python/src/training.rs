//! `train`: every loss the command line trains (InfoNCE and CLIP on a fixed sample to their
//! certificate or on a stream, SimSiam on a stream, whitened SimSiam by its recipe), through the
//! same library calls, and its `TrainResult`, whose names are those of `ssl-gmm train --json`.

use std::ops::ControlFlow;

use gmm_core::{ClipGmm, Gmm, Side, Validate, seeded};
use nalgebra::DMatrix;
use pyo3::exceptions::{PyAttributeError, PyFutureWarning, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use ssl_losses::{
    Centering, Clip, Directions, InfoNce, Lbfgs, LossError, Observer, OptimizerKind, Preconditioning, Progress,
    RecipeSteps, Run, SimSiamForm, StreamLoss, Streamed, TrainConfig, WhitenedSimSiam, Whitening,
};

use crate::convert::{array1, array2, matrix, parse, seed_of};
use crate::errors::{OrRaise, budget};
use crate::models::{PyClipGmm, PyGmm};

/// The result of `train`, with the key names of `ssl-gmm train --json`: ``components`` (and
/// ``components_y`` for CLIP), ``losses``, ``final_loss``, ``steps``, ``stop``, ``converged``,
/// ``certificate``, ``whitened_certificate``, ``predictor_rate``, ``method``, ``solver``,
/// ``hyperparameters``. It pickles and compares with ``==`` (arrays element by element).
///
/// Parameters
/// ----------
/// state : dict
///     Every field by its name (what ``train`` builds and pickling stores).
#[pyclass(name = "TrainResult", module = "ssl_gmm", frozen)]
pub(crate) struct TrainResult {
    /// Every field by its name.
    state: Py<PyDict>,
}

/// Old attribute names and the new ones (deprecated in 0.1: the CLI's vocabulary).
const RENAMED: [(&str, &str); 3] = [("loss_curve", "losses"), ("loss", "final_loss"), ("iterations", "steps")];

#[pymethods]
impl TrainResult {
    /// A result from its fields (what pickling stores).
    #[new]
    fn new(state: Bound<'_, PyDict>) -> Self {
        Self { state: state.unbind() }
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.bind(py);
        if let Some(value) = state.get_item(name)? {
            return Ok(value);
        }
        if let Some((old, new)) = RENAMED.iter().find(|(old, _)| *old == name) {
            PyErr::warn(
                py,
                &py.get_type::<PyFutureWarning>(),
                &std::ffi::CString::new(format!("TrainResult.{old} is deprecated; use .{new} (the CLI's name)"))?,
                1,
            )?;
            return state.get_item(new)?.ok_or_else(|| PyAttributeError::new_err((*new).to_string()));
        }
        Err(PyAttributeError::new_err(format!("'TrainResult' object has no attribute '{name}'")))
    }

    fn __dir__(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.state.bind(py).keys().extract()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let state = slf.get().state.bind(py).copy()?;
        PyTuple::new(py, [slf.get_type().into_any(), PyTuple::new(py, [state])?.into_any()])
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<TrainResult>() else { return Ok(false) };
        let (a, b) = (self.state.bind(py), other.get().state.bind(py));
        if a.len() != b.len() {
            return Ok(false);
        }
        let array_equal = py.import("numpy")?.getattr("array_equal")?;
        for (key, value) in a.iter() {
            let Some(theirs) = b.get_item(&key)? else { return Ok(false) };
            let same = if value.hasattr("shape")? {
                array_equal.call1((&value, &theirs))?.is_truthy()?
            } else {
                value.eq(&theirs)?
            };
            if !same {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = self.state.bind(py);
        let get = |k: &str| -> PyResult<String> {
            Ok(s.get_item(k)?.map(|v| v.repr().map(|r| r.to_string())).transpose()?.unwrap_or_default())
        };
        Ok(format!(
            "TrainResult(method={}, solver={}, converged={}, steps={}, stop={}, final_loss={})",
            get("method")?,
            get("solver")?,
            get("converged")?,
            get("steps")?,
            get("stop")?,
            get("final_loss")?
        ))
    }
}

/// What `train` trains on: a mixture or CLIP-GMM to sample from, or given pairs.
enum TrainData {
    Gmm(Gmm),
    Clip(Box<ClipGmm>),
    Pairs(DMatrix<f64>, DMatrix<f64>),
}

fn train_data(data: &Bound<'_, PyAny>) -> PyResult<TrainData> {
    if let Ok(g) = data.cast::<PyGmm>() {
        return Ok(TrainData::Gmm(g.get().inner.clone()));
    }
    if let Ok(c) = data.cast::<PyClipGmm>() {
        return Ok(TrainData::Clip(Box::new(c.get().inner.clone())));
    }
    if let Ok((x, y)) = data.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>() {
        return Ok(TrainData::Pairs(matrix(&x, "pairs[0]")?, matrix(&y, "pairs[1]")?));
    }
    Err(PyTypeError::new_err("train: expected a Gmm, a ClipGmm, or a pair (x, x_plus) / (x, y) of 2-d arrays"))
}

/// Runs a fit without the GIL, giving every iteration or step to `callback(step, loss)` (a
/// return of `False` stops the run: it ends `interrupted`) and looking for Ctrl-C: an interrupt,
/// or an exception in the callback, stops the run at its last iterate and is raised.
fn observed<T: Send>(
    py: Python<'_>,
    callback: Option<&Bound<'_, PyAny>>,
    run: impl FnOnce(&mut dyn Observer) -> Result<T, LossError> + Send,
) -> PyResult<T> {
    let callback = callback.filter(|c| !c.is_none()).map(|c| c.clone().unbind());
    let mut raised: Option<PyErr> = None;
    let out = py.detach(|| {
        run(&mut |info: &Progress, _: &[DMatrix<f64>]| {
            let verdict = Python::attach(|py| -> PyResult<bool> {
                py.check_signals()?;
                match &callback {
                    Some(f) => {
                        let answer = f.call1(py, (info.iteration, info.loss))?;
                        // None (no answer) continues; False stops.
                        Ok(answer.is_none(py) || answer.is_truthy(py)?)
                    }
                    None => Ok(true),
                }
            });
            match verdict {
                Ok(true) => ControlFlow::Continue(()),
                Ok(false) => ControlFlow::Break(()),
                Err(e) => {
                    raised = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
    });
    match raised {
        Some(e) => Err(e),
        None => out.or_raise(),
    }
}

/// A serialisable value as the Python object `json.loads` makes of it (so its names are the
/// CLI's JSON names).
fn json_object<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The settings of `train` as the Python call spells them.
struct Options<'a> {
    method: &'a str,
    dim: Option<usize>,
    delta: f64,
    samples: Option<usize>,
    batch: usize,
    tau: f64,
    form: &'a str,
    score: &'a str,
    center: bool,
    whiten: Option<bool>,
    tol: Option<f64>,
    max_iters: Option<usize>,
    stream: bool,
    steps: Option<usize>,
    lr: Option<f64>,
    optimizer: Option<&'a str>,
    init_scale: f64,
    seed: u64,
}

/// What a run produced, before it becomes a `TrainResult`.
struct Outcome {
    maps: Vec<DMatrix<f64>>,
    run: Run,
    solver: &'static str,
    whitened: Option<ssl_losses::WhitenedSimSiamFit>,
    settings: serde_json::Value,
}

fn settings_of<T: serde::Serialize>(value: &T) -> PyResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Options of the other solver are errors, as on the command line.
fn check_options(o: &Options<'_>, fixed_sample: bool, simsiam: bool) -> PyResult<()> {
    let refuse = |msg: &str| Err(PyValueError::new_err(format!("train: {msg}")));
    if fixed_sample && (o.steps.is_some() || o.lr.is_some() || o.optimizer.is_some()) {
        return refuse(
            "a fixed sample is minimised by L-BFGS to its certificate: steps, lr and optimizer apply with stream=True (and to simsiam)",
        );
    }
    if !fixed_sample && (o.samples.is_some() || o.tol.is_some() || o.max_iters.is_some()) {
        return refuse("samples, tol and max_iters apply to a fixed sample (stream=False), not to streaming runs");
    }
    if simsiam && o.whiten.is_some() {
        return refuse(
            "whiten does not apply to SimSiam: its inputs are never whitened (the recipe whitens the outputs)",
        );
    }
    if fixed_sample && o.method == "clip" && (!o.center || o.whiten == Some(false)) {
        return refuse(
            "CLIP on a fixed sample is always centred and whitened per modality; center and whiten apply with stream=True",
        );
    }
    if o.method == "simsiam-whitened" && o.optimizer.is_some() {
        return refuse(
            "simsiam-whitened trains by its recipe (SGD with momentum 0.9); optimizer applies to the others",
        );
    }
    Ok(())
}

fn run_train(
    py: Python<'_>,
    o: &Options<'_>,
    data: TrainData,
    callback: Option<&Bound<'_, PyAny>>,
) -> PyResult<Outcome> {
    let simsiam = matches!(o.method, "simsiam" | "simsiam-whitened");
    let fixed_sample = matches!(o.method, "infonce" | "clip") && !o.stream;
    if !matches!(o.method, "infonce" | "clip" | "simsiam" | "simsiam-whitened") {
        return Err(PyValueError::new_err(format!(
            "train: unknown method '{}' (infonce, clip, simsiam or simsiam-whitened)",
            o.method
        )));
    }
    check_options(o, fixed_sample, simsiam)?;
    match (o.method, &data) {
        ("clip", TrainData::Gmm(_)) => return Err(PyValueError::new_err(ssl_losses::CLIP_ON_MIXTURE)),
        (_, TrainData::Clip(_)) if o.method != "clip" => {
            return Err(PyValueError::new_err(ssl_losses::MIXTURE_LOSS_ON_CLIP));
        }
        (_, TrainData::Pairs(..)) if !fixed_sample => {
            return Err(PyValueError::new_err(
                "train: streaming runs draw fresh pairs from a model: pass a Gmm or a ClipGmm, or stream=False",
            ));
        }
        _ => {}
    }
    let (form, score): (ssl_losses::Form, ssl_losses::Score) = (parse(o.form)?, parse(o.score)?);
    let centering = if o.center { Centering::SampleMean } else { Centering::None };
    let whitening = if simsiam || o.whiten == Some(false) { Whitening::None } else { Whitening::SampleCovariance };
    let (k, d) = match &data {
        TrainData::Gmm(g) => (g.k(), g.dim()),
        TrainData::Clip(c) => (c.weights().len(), c.modality(Side::X).dim().min(c.modality(Side::Y).dim())),
        TrainData::Pairs(x, y) => (2, x.ncols().min(y.ncols())),
    };
    let r = o.dim.unwrap_or(k.saturating_sub(1).max(1));
    if r == 0 || r > d {
        return Err(PyValueError::new_err(format!(
            "train: dim must be between 1 and the input dimension {d}, got {r}"
        )));
    }
    let seed = o.seed;
    if fixed_sample {
        let samples = o.samples.unwrap_or(8192);
        let solver =
            Lbfgs { grad_rtol: o.tol.unwrap_or(1e-5), max_iters: o.max_iters.unwrap_or(1000), ..Lbfgs::default() };
        gmm_core::budget::check_work("train max_iters", solver.max_iters as u64, gmm_core::budget::MAX_STEPS)
            .or_raise()?;
        if !matches!(data, TrainData::Pairs(..)) {
            // The pairs, their preconditioned copies and the solver's buffers.
            let width = match &data {
                TrainData::Gmm(g) => 2 * g.dim(),
                TrainData::Clip(c) => c.modality(Side::X).dim() + c.modality(Side::Y).dim(),
                TrainData::Pairs(..) => 0,
            };
            budget(&format!("train(samples={samples})"), &[samples, width, 4])?;
        }
        let pairs_seed = seed.wrapping_add(1);
        let (x, y) = match data {
            TrainData::Gmm(g) => {
                let p = py.detach(|| g.sample_pairs(samples, o.delta, &mut seeded(pairs_seed))).or_raise()?;
                (p.x, p.x_plus)
            }
            TrainData::Clip(c) => {
                let p = py.detach(|| c.sample_pairs(samples, &mut seeded(pairs_seed))).or_raise()?;
                (p.x, p.y)
            }
            TrainData::Pairs(x, y) => (x, y),
        };
        let with_samples = |mut v: serde_json::Value| {
            v["samples"] = serde_json::json!(x.nrows());
            v
        };
        if o.method == "infonce" {
            let fit = InfoNce::new(r)
                .tau(o.tau)
                .form(form)
                .score(score)
                .batch(o.batch)
                .centering(centering)
                .whitening(whitening)
                .solver(solver)
                .init_scale(o.init_scale)
                .seed(seed);
            let settings = with_samples(settings_of(&fit)?);
            let fitted = observed(py, callback, |observer| fit.fit_with((&x, &y), observer))?;
            return Ok(Outcome {
                maps: vec![fitted.map.components().clone()],
                run: fitted.run,
                solver: "lbfgs",
                whitened: None,
                settings,
            });
        }
        let fit =
            Clip::new(r).tau(o.tau).score(score).batch(o.batch).solver(solver).init_scale(o.init_scale).seed(seed);
        let settings = with_samples(settings_of(&fit)?);
        let fitted = observed(py, callback, |observer| fit.fit_with((&x, &y), observer))?;
        return Ok(Outcome {
            maps: vec![fitted.map_x.components().clone(), fitted.map_y.components().clone()],
            run: fitted.run,
            solver: "lbfgs",
            whitened: None,
            settings,
        });
    }
    gmm_core::budget::check_work("train steps", o.steps.unwrap_or(0) as u64, gmm_core::budget::MAX_STEPS).or_raise()?;
    let lr = o.lr.unwrap_or(0.01);
    if o.method == "simsiam-whitened" {
        let TrainData::Gmm(g) = data else { unreachable!("models checked above") };
        let estimator = WhitenedSimSiam::new(r).batch(o.batch).lr(lr).init_scale(o.init_scale).seed(seed);
        // Given steps: one start of them, the caller's budget (as `ssl-gmm train --steps`);
        // otherwise the recipe's budget from the problem's spectrum and up to 4 starts.
        let estimator = match o.steps {
            Some(steps) => estimator.steps(RecipeSteps::Fixed(steps)).max_starts(1),
            None => estimator,
        };
        estimator.validate().or_raise()?;
        // As the command line records it: the estimator and the stream's preconditioning.
        let mut settings = settings_of(&estimator)?;
        if let (Some(all), serde_json::Value::Object(p)) =
            (settings.as_object_mut(), settings_of(&Preconditioning::new(centering, Whitening::None))?)
        {
            all.extend(p);
        }
        let fit = observed(py, callback, |observer| estimator.fit_gmm(&g, o.delta, centering, observer))?;
        return Ok(Outcome {
            maps: vec![fit.map],
            run: fit.fit.run.clone(),
            solver: "stream",
            whitened: Some(fit.fit),
            settings,
        });
    }
    let steps = o.steps.unwrap_or(2000);
    let loss = match o.method {
        "infonce" => StreamLoss::Infonce { tau: o.tau, form, score },
        "simsiam" => StreamLoss::Simsiam { form: SimSiamForm::Mse, directions: Directions::Symmetric },
        _ => StreamLoss::Clip { tau: o.tau, score },
    };
    let optimizer: OptimizerKind = match o.optimizer {
        Some(name) => parse(name)?,
        None => OptimizerKind::ADAM,
    };
    let config = TrainConfig { steps, lr, seed, optimizer, ..TrainConfig::default() };
    let streamed = Streamed {
        n_components: r,
        loss,
        config,
        batch: o.batch,
        init_scale: o.init_scale,
        preconditioning: Preconditioning::new(centering, whitening),
    };
    streamed.validate().or_raise()?;
    let settings = settings_of(&streamed)?;
    let fit = match data {
        TrainData::Gmm(g) => observed(py, callback, |observer| streamed.fit_gmm(&g, o.delta, observer))?,
        TrainData::Clip(c) => observed(py, callback, |observer| streamed.fit_clip(&c, observer))?,
        TrainData::Pairs(..) => unreachable!("refused above"),
    };
    Ok(Outcome { maps: fit.maps, run: fit.run, solver: "stream", whitened: None, settings })
}

/// Trains a loss as ``ssl-gmm train`` does, with the same defaults and the same numbers for
/// the same seed.
///
/// InfoNCE and CLIP fit a fixed sample of pairs by L-BFGS to the certificate
/// ``||grad|| <= tol ||grad_0||`` or, with ``stream=True``, train on fresh batches; SimSiam
/// trains on a stream; whitened SimSiam by its recipe to its certificate. Options of the other
/// solver are a ``ValueError``, never ignored.
///
/// Parameters
/// ----------
/// data : Gmm, ClipGmm or (array-like, array-like)
///     A model to draw pairs from, or fixed pairs ``(x, x_plus)`` / ``(x, y)``.
/// method : str
///     ``"infonce"``, ``"clip"``, ``"simsiam"`` or ``"simsiam-whitened"``.
/// dim : int or None
///     Output dimension r (default ``k - 1``).
/// delta : float
///     Coupling of a mixture's pairs.
/// samples : int or None
///     Pairs of the fixed sample (default 8192; drawn with ``seed + 1``).
/// batch : int
///     Pairs per batch (of the fixed partition, or of the stream).
/// tau : float
///     Temperature of InfoNCE and CLIP.
/// form : str
///     InfoNCE's form: ``"one-way"``, ``"symmetric"`` or ``"simclr"``.
/// score : str
///     ``"dot"`` or ``"cosine"``.
/// center : bool
///     Centre the inputs by their sample mean (False: raw inputs, claim C15).
/// whiten : bool or None
///     Whiten InfoNCE's and CLIP's inputs (default True; SimSiam never whitens its inputs).
/// tol : float or None
///     The certificate's relative gradient tolerance (default 1e-5).
/// max_iters : int or None
///     L-BFGS iterations (default 1000).
/// stream : bool
///     Train InfoNCE or CLIP on fresh batches instead (no certificate).
/// steps : int or None
///     Streaming steps (default 2000; whitened SimSiam: the recipe's budget and up to 4 starts).
/// lr : float or None
///     Base learning rate of streams (default 0.01).
/// optimizer : str or None
///     ``"adam"`` (default) or ``"sgd"`` (momentum 0.9) for streams.
/// init_scale : float
///     Scale of the small random initial map.
/// callback : callable or None
///     ``callback(step, loss)`` after every iteration or step; returning False stops the run.
/// seed : None, int or numpy.random.Generator
///     None draws fresh entropy; the resolved seed is in ``hyperparameters["seed"]``.
///
/// Returns
/// -------
/// TrainResult
#[pyfunction]
#[pyo3(signature = (data, method = "infonce", dim = None, delta = 1.0, samples = None, batch = 256, tau = 1.0,
    form = "one-way", score = "dot", center = true, whiten = None, tol = None, max_iters = None, stream = false,
    steps = None, lr = None, optimizer = None, init_scale = 0.1, callback = None, seed = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn train<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    method: &str,
    dim: Option<usize>,
    delta: f64,
    samples: Option<usize>,
    batch: usize,
    tau: f64,
    form: &str,
    score: &str,
    center: bool,
    whiten: Option<bool>,
    tol: Option<f64>,
    max_iters: Option<usize>,
    stream: bool,
    steps: Option<usize>,
    lr: Option<f64>,
    optimizer: Option<&str>,
    init_scale: f64,
    callback: Option<&Bound<'py, PyAny>>,
    seed: Option<&Bound<'py, PyAny>>,
) -> PyResult<TrainResult> {
    if let Some(f) = callback
        && !f.is_none()
        && !f.is_callable()
    {
        return Err(PyTypeError::new_err("train: callback must be callable as callback(step, loss), or None"));
    }
    let seed = seed_of(py, seed, "seed")?;
    let options = Options {
        method,
        dim,
        delta,
        samples,
        batch,
        tau,
        form,
        score,
        center,
        whiten,
        tol,
        max_iters,
        stream,
        steps,
        lr,
        optimizer,
        init_scale,
        seed,
    };
    let out = run_train(py, &options, train_data(data)?, callback)?;
    let state = PyDict::new(py);
    let mut maps = out.maps.iter().map(|m| array2(py, m));
    state.set_item("method", method)?;
    state.set_item("solver", out.solver)?;
    state.set_item("components", maps.next())?;
    state.set_item("components_y", maps.next())?;
    let whitened_certificate = out.whitened.as_ref().and_then(|w| w.certificate);
    let converged = out.run.converged() || whitened_certificate.is_some_and(|c| c.converged);
    state.set_item("converged", converged)?;
    state.set_item("certificate", out.run.certificate.map(|c| json_object(py, &c)).transpose()?)?;
    state.set_item("whitened_certificate", whitened_certificate.map(|c| json_object(py, &c)).transpose()?)?;
    state.set_item("predictor_rate", out.whitened.as_ref().map(|w| w.predictor_rate))?;
    state.set_item("grad_norm", out.run.certificate.map(|c| c.grad_norm))?;
    state.set_item("relative_grad_norm", out.run.certificate.map(|c| c.relative))?;
    state.set_item("steps", out.run.iterations)?;
    state.set_item("stop", out.run.ending.name())?;
    let window = if out.solver == "stream" { ssl_losses::FINAL_LOSS_WINDOW } else { 1 };
    state.set_item("final_loss", out.run.mean_last(window))?;
    let mut settings = out.settings;
    settings["method"] = serde_json::json!(method);
    settings["delta"] = serde_json::json!(delta);
    settings["seed"] = serde_json::json!(seed);
    state.set_item("hyperparameters", json_object(py, &settings)?)?;
    state.set_item("losses", array1(py, out.run.losses))?;
    Ok(TrainResult { state: state.unbind() })
}
