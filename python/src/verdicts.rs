//! `verdict`: a loss the user writes (a Python callable `(A, X, X_plus) -> (loss, grad)`) or a
//! built-in batch loss by name, through the harness's verdict from samples
//! ([`verdict::sample_verdict`]), one mixture after another.

use gmm_core::Gmm;
use nalgebra::DMatrix;
use numpy::PyUntypedArrayMethods;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use ssl_losses::{Batch, Form, InfoNceLoss, LossError, Objective, Score, SpectralContrastiveLoss};
use verdict::{SampleSettings, SampleVerdict, Scenario, View, sample_family_mixture, sample_verdict};

use crate::augmentation::PyAugmentation;
use crate::convert::{array2, describe, matrix};
use crate::errors::OrRaise;
use crate::models::PyGmm;

/// A Python callable as a batch objective. The GIL is taken for the call only; the first
/// exception it raises is kept, so that the verdict's error carries it as its cause (and a
/// `KeyboardInterrupt` stays one).
struct Callable {
    function: Py<PyAny>,
    /// NumPy, imported once (every call converts the returns with `numpy.asarray`).
    numpy: Py<PyModule>,
    raised: Option<PyErr>,
}

impl Callable {
    /// The call's loss and gradient, or why they cannot be used.
    fn call<'py>(
        &mut self,
        py: Python<'py>,
        params: &[DMatrix<f64>],
        batch: Batch<'_>,
    ) -> Result<(f64, DMatrix<f64>), String> {
        let a = &params[0];
        let args = (array2(py, a), array2(py, batch.left()), array2(py, batch.right()));
        let out = match self.function.bind(py).call1(args) {
            Ok(out) => out,
            Err(e) => {
                let why = format!("raised {e}");
                self.raised = Some(e);
                return Err(why);
            }
        };
        let Ok((loss, grad)) = out.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>() else {
            return Err(format!("returned {}: expected a pair (loss, grad)", describe(&out)));
        };
        let numpy = self.numpy.bind(py);
        let as_array = |v: &Bound<'py, PyAny>| numpy.call_method1("asarray", (v,)).map_err(|e| e.to_string());
        let (loss_array, grad_array) = (as_array(&loss)?, as_array(&grad)?);
        for (what, v) in [("loss", &loss_array), ("gradient", &grad_array)] {
            let dtype = v.getattr("dtype").map_err(|e| e.to_string())?;
            let kind: String = dtype.getattr("kind").and_then(|k| k.extract()).unwrap_or_default();
            let size: usize = dtype.getattr("itemsize").and_then(|k| k.extract()).unwrap_or(0);
            if (kind.as_str(), size) != ("f", 8) {
                let hint = if (kind.as_str(), size) == ("f", 4) {
                    " (float32 cannot pass the gradient check or the certificate: with JAX, call jax.config.update(\"jax_enable_x64\", True) before building the arrays)"
                } else {
                    ""
                };
                return Err(format!("returned a {what} of dtype {dtype}: expected float64{hint}"));
            }
        }
        let scalar = loss_array.getattr("ndim").and_then(|n| n.extract::<usize>()).map_err(|e| e.to_string())? == 0;
        let value: f64 = match loss_array.call_method0("item").and_then(|v| v.extract()) {
            Ok(v) if scalar => v,
            _ => return Err(format!("returned a loss {}: expected a float64 scalar", describe(&loss))),
        };
        let shape_ok =
            grad_array.cast::<numpy::PyUntypedArray>().map(|g| g.shape() == [a.nrows(), a.ncols()]).unwrap_or(false);
        if !shape_ok {
            return Err(format!(
                "returned a gradient {}: expected shape ({}, {}), the map's",
                describe(&grad),
                a.nrows(),
                a.ncols()
            ));
        }
        let g = matrix(&grad_array, "gradient").map_err(|e| e.to_string())?;
        Ok((value, g))
    }
}

impl Objective for Callable {
    fn name(&self) -> &'static str {
        "python callable"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(
        &mut self,
        params: &[DMatrix<f64>],
        batch: Batch<'_>,
        grads: &mut [DMatrix<f64>],
    ) -> ssl_losses::Result<f64> {
        let (value, g) = Python::attach(|py| self.call(py, params, batch)).map_err(LossError::Objective)?;
        grads[0] = g;
        Ok(value)
    }
}

/// The loss of a verdict: a built-in by name, or a callable.
enum Loss {
    Builtin(Box<dyn Objective + Send>),
    Callable(Callable),
}

impl Loss {
    fn objective(&mut self) -> &mut (dyn Objective + Send) {
        match self {
            Self::Builtin(o) => o.as_mut(),
            Self::Callable(c) => c,
        }
    }

    fn name(&self, given: &Bound<'_, PyAny>) -> String {
        match self {
            Self::Builtin(o) => o.name().to_string(),
            Self::Callable(_) => given
                .getattr("__name__")
                .and_then(|n| n.extract::<String>())
                .unwrap_or_else(|_| "python callable".to_string()),
        }
    }
}

fn loss_of(loss: &Bound<'_, PyAny>, tau: f64) -> PyResult<Loss> {
    if let Ok(name) = loss.extract::<String>() {
        return Ok(Loss::Builtin(match name.as_str() {
            "infonce" => Box::new(InfoNceLoss::<f64>::new(tau, Form::OneWay, Score::Dot).or_raise()?),
            "spectral" => Box::new(SpectralContrastiveLoss::<f64>::new()),
            other => {
                return Err(PyValueError::new_err(format!(
                    "verdict: unknown built-in loss '{other}' (infonce, spectral), or pass a callable (A, X, X_plus) -> (loss, grad)"
                )));
            }
        }));
    }
    if !loss.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "verdict: loss must be a callable (A, X, X_plus) -> (loss, grad) or a built-in's name, got {}",
            describe(loss)
        )));
    }
    let numpy = loss.py().import("numpy")?.unbind();
    Ok(Loss::Callable(Callable { function: loss.clone().unbind(), numpy, raised: None }))
}

/// The mixtures: a count (the family of verdicts from samples at `seed`) or a sequence of `Gmm`.
fn mixtures_of(mixtures: &Bound<'_, PyAny>, seed: u64) -> PyResult<Vec<Gmm>> {
    if let Ok(n) = mixtures.extract::<usize>() {
        if n == 0 {
            return Err(PyValueError::new_err("verdict: mixtures must be at least 1"));
        }
        return (0..n).map(|i| sample_family_mixture(seed, i).or_raise()).collect();
    }
    if let Ok(g) = mixtures.cast::<PyGmm>() {
        return Ok(vec![g.get().inner.clone()]);
    }
    let list = mixtures.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "verdict: mixtures must be a count, a Gmm or a sequence of Gmm, got {}",
            describe(mixtures)
        ))
    })?;
    let mut out = Vec::new();
    for item in list {
        let item = item?;
        let g = item.cast::<PyGmm>().map_err(|_| {
            PyTypeError::new_err(format!("verdict: mixtures must hold Gmm objects, got {}", describe(&item)))
        })?;
        out.push(g.get().inner.clone());
    }
    if out.is_empty() {
        return Err(PyValueError::new_err("verdict: mixtures is empty"));
    }
    Ok(out)
}

/// The augmentation of a verdict.
enum Augment {
    /// The zoo's, by name (noise scaled to each mixture).
    Named(View),
    /// The user's.
    Given(gmm_core::Augmentation),
}

/// One case's record (JSON object) for the Python result.
fn record(case: usize, g: &Gmm, v: &SampleVerdict, settings: &SampleSettings, seconds: f64) -> serde_json::Value {
    let verdict = &v.verdict;
    let yardsticks: serde_json::Map<String, serde_json::Value> =
        verdict.yardsticks.iter().map(|(y, sin)| (y.name().to_string(), (*sin).into())).collect();
    serde_json::json!({
        "case": case,
        "k": g.k(),
        "d": g.dim(),
        "r": verdict.fit.map.nrows(),
        "loss": v.loss,
        "outcome": v.outcome_name(),
        "resolved": v.resolved(&settings.classify),
        "certified": verdict.fit.certified,
        "separated": v.separated,
        "rank": verdict.rank,
        "fisher_dim": verdict.fisher_dim,
        "sin_to_fisher": verdict.sin_to_fisher,
        "tolerance": verdict.tolerance,
        "runner_up": v.runner_up.as_ref().map(|(n, _)| n.clone()),
        "runner_up_sin": v.runner_up.as_ref().map(|(_, s)| *s),
        "yardsticks": yardsticks,
        "singular_values": verdict.singular_values,
        "value": verdict.fit.value,
        "relative_gradient": verdict.fit.relative_gradient,
        "agreeing_starts": verdict.fit.agreeing_starts,
        "gradient_error_start": v.gradient_check.at_start,
        "gradient_error_fit": v.gradient_check.at_fit,
        "gradient_tolerance": v.gradient_check.tolerance,
        "pairs": v.pairs,
        "evaluations": v.evaluations,
        "calls": v.calls,
        "seconds": seconds,
    })
}

/// Runs the verdict on each mixture (one after another) and returns each case as JSON text.
#[pyfunction]
#[pyo3(signature = (loss, augmentation = None, mixtures = None, r = None, pairs = 8192, batch = 256,
    tau = 1.0, check_rtol = 1e-4, bound_max = 0.5, seed = 20_241_105, progress = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn verdict_json(
    py: Python<'_>,
    loss: &Bound<'_, PyAny>,
    augmentation: Option<&Bound<'_, PyAny>>,
    mixtures: Option<&Bound<'_, PyAny>>,
    r: Option<usize>,
    pairs: usize,
    batch: usize,
    tau: f64,
    check_rtol: f64,
    bound_max: f64,
    seed: u64,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<String>> {
    let views = match augmentation.filter(|a| !a.is_none()) {
        None => Augment::Named(View::Coupled),
        Some(a) => match (a.cast::<PyAugmentation>(), a.extract::<String>()) {
            (Ok(given), _) => Augment::Given(given.get().inner.clone()),
            (_, Ok(name)) => Augment::Named(name.parse::<View>().or_raise()?),
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "verdict: augmentation must be a name (coupled, noise-iso, noise-sigma, noise-both, mask) or an Augmentation, got {}",
                    describe(a)
                )));
            }
        },
    };
    // A name: the zoo's augmentation, its noise scaled to each mixture; or an `Augmentation`.
    let augment = |g: &Gmm| -> ssl_losses::Result<gmm_core::Augmentation> {
        match &views {
            Augment::Named(view) => view.augmentation(g),
            Augment::Given(a) => Ok(a.clone()),
        }
    };
    let gmms = match mixtures {
        Some(m) if !m.is_none() => mixtures_of(m, seed)?,
        _ => mixtures_of(&4usize.into_pyobject(py)?.into_any(), seed)?,
    };
    let mut objective = loss_of(loss, tau)?;
    let name = objective.name(loss);
    crate::errors::budget("verdict(pairs)", &[pairs, 4 * gmms.iter().map(Gmm::dim).max().unwrap_or(1)])?;
    let mut settings = SampleSettings { pairs, batch, check_rtol, ..SampleSettings::default() };
    settings.classify.bound_max = bound_max;
    let mut out = Vec::with_capacity(gmms.len());
    for (case, g) in gmms.iter().enumerate() {
        let rank = r.unwrap_or(g.k().saturating_sub(1).max(1));
        let started = std::time::Instant::now();
        let result = py.detach(|| {
            let scenario = Scenario::new(g.clone(), augment(g)?, rank)?;
            sample_verdict(objective.objective(), &scenario, &settings, seed ^ case as u64)
        });
        let v = match result {
            Ok(mut v) => {
                v.loss.clone_from(&name);
                v
            }
            Err(e) => {
                let message = format!("verdict on mixture {case} ({name}): {e}");
                let raised = match &mut objective {
                    Loss::Callable(c) => c.raised.take(),
                    Loss::Builtin(_) => None,
                };
                return Err(match raised {
                    Some(cause) if cause.is_instance_of::<PyKeyboardInterrupt>(py) => cause,
                    Some(cause) => {
                        let err = PyRuntimeError::new_err(message);
                        err.set_cause(py, Some(cause));
                        err
                    }
                    // The user's loss (its gradient, its returns) or the input is at fault: a
                    // ValueError; a solver's failure: a RuntimeError.
                    None if matches!(
                        e,
                        LossError::GradientMismatch { .. } | LossError::Objective(_) | LossError::Core(_)
                    ) =>
                    {
                        PyValueError::new_err(message)
                    }
                    None => PyRuntimeError::new_err(message),
                });
            }
        };
        let text = record(case, g, &v, &settings, started.elapsed().as_secs_f64()).to_string();
        if let Some(f) = progress.filter(|f| !f.is_none()) {
            f.call1((text.clone(),))?;
        }
        py.check_signals()?;
        out.push(text);
    }
    Ok(out)
}
