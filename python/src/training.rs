//! `train`: a loss trained to its certificate, and its `TrainResult`.

use std::ops::ControlFlow;

use gmm_core::{ClipGmm, Gmm, Side, seeded};
use nalgebra::DMatrix;
use numpy::{PyArray1, PyArray2};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ssl_losses::LossError;

use crate::convert::{array1, array2, matrix, parse, seed_of};
use crate::errors::{OrRaise, budget};
use crate::models::{PyClipGmm, PyGmm};

/// The result of `train`: the learned map(s), the loss curve and the convergence certificate.
#[pyclass(name = "TrainResult", module = "ssl_gmm", frozen, get_all)]
pub(crate) struct TrainResult {
    /// The learned map, `r x d` (rows are directions), in the input coordinates.
    components: Py<PyArray2<f64>>,
    /// CLIP: the map of modality y (`None` otherwise).
    components_y: Option<Py<PyArray2<f64>>>,
    /// The loss at the start and after every solver iteration.
    loss_curve: Py<PyArray1<f64>>,
    /// Whether the convergence certificate holds.
    converged: bool,
    /// The gradient norm at the returned point, and relative to its start.
    grad_norm: f64,
    relative_grad_norm: f64,
    /// Solver iterations.
    iterations: usize,
    /// How the run ended: `grad-tol`, `budget-spent`, `no-decrease`, `stationary-start` (the
    /// gradient is zero at the start: nothing is certified), `no-minimiser` or `interrupted`.
    stop: &'static str,
    /// The final (deterministic) loss.
    loss: f64,
    /// Every setting of the run.
    hyperparameters: Py<PyDict>,
}

#[pymethods]
impl TrainResult {
    fn __repr__(&self) -> String {
        format!(
            "TrainResult(converged={}, iterations={}, stop='{}', loss={:.6}, relative_grad_norm={:.2e})",
            if self.converged { "True" } else { "False" },
            self.iterations,
            self.stop,
            self.loss,
            self.relative_grad_norm
        )
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
    Err(PyTypeError::new_err("train: expected a Gmm, a ClipGmm, or a pair (x, x_plus) / (x, y) of 2-d float64 arrays"))
}

/// Runs an L-BFGS fit without the GIL, looking for Ctrl-C after every iteration: an interrupt
/// stops the solver at its last iterate and raises `KeyboardInterrupt`.
fn interruptible<T: Send>(
    py: Python<'_>,
    run: impl FnOnce(&mut dyn ssl_losses::Observer) -> Result<T, LossError> + Send,
) -> PyResult<T> {
    let mut interrupt: Option<PyErr> = None;
    let out = py.detach(|| {
        run(&mut |_: &ssl_losses::Progress, _: &[DMatrix<f64>]| match Python::attach(|py| py.check_signals()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                interrupt = Some(e);
                ControlFlow::Break(())
            }
        })
    });
    match interrupt {
        Some(e) => Err(e),
        None => out.or_raise(),
    }
}

/// The result of an L-BFGS fit from its map(s) and the record of its run.
fn train_result(
    py: Python<'_>,
    components: Py<PyArray2<f64>>,
    components_y: Option<Py<PyArray2<f64>>>,
    run: ssl_losses::Run,
    hyper: Bound<'_, PyDict>,
) -> PyResult<TrainResult> {
    let c =
        run.certificate.ok_or_else(|| PyRuntimeError::new_err("an L-BFGS fit came back without its certificate"))?;
    Ok(TrainResult {
        components,
        components_y,
        converged: run.converged(),
        grad_norm: c.grad_norm,
        relative_grad_norm: c.relative,
        iterations: run.iterations,
        stop: run.ending.name(),
        loss: run.loss(),
        loss_curve: array1(py, run.losses).unbind(),
        hyperparameters: hyper.unbind(),
    })
}

/// Trains a loss to its convergence certificate (L-BFGS on a fixed sample of pairs).
#[pyfunction]
#[pyo3(signature = (data, method = "infonce", dim = None, delta = 1.0, samples = 8192, batch = 256, tau = 1.0,
    form = "one-way", score = "dot", center = true, whiten = true, tol = 1e-5, max_iters = 1000, seed = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn train(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    method: &str,
    dim: Option<usize>,
    delta: f64,
    samples: usize,
    batch: usize,
    tau: f64,
    form: &str,
    score: &str,
    center: bool,
    whiten: bool,
    tol: f64,
    max_iters: usize,
    seed: Option<&Bound<'_, PyAny>>,
) -> PyResult<TrainResult> {
    let seed = seed_of(py, seed, "seed")?;
    use ssl_losses::{Centering, Clip, InfoNce, Lbfgs, Whitening};
    let data = train_data(data)?;
    let (form, score): (ssl_losses::Form, ssl_losses::Score) = (parse(form)?, parse(score)?);
    let solver = Lbfgs { grad_rtol: tol, max_iters, ..Lbfgs::default() };
    let centering = if center { Centering::SampleMean } else { Centering::None };
    let whitening = if whiten { Whitening::SampleCovariance } else { Whitening::None };
    let hyper = PyDict::new(py);
    for (key, value) in [("method", method.to_string()), ("form", format!("{form:?}")), ("score", format!("{score:?}"))]
    {
        hyper.set_item(key, value)?;
    }
    for (key, value) in [("delta", delta), ("tau", tau), ("tol", tol)] {
        hyper.set_item(key, value)?;
    }
    for (key, value) in [("samples", samples), ("batch", batch), ("max_iters", max_iters)] {
        hyper.set_item(key, value)?;
    }
    hyper.set_item("seed", seed)?;
    hyper.set_item("center", center)?;
    hyper.set_item("whiten", whiten)?;
    let pairs_seed = seed.wrapping_add(1);
    gmm_core::budget::check_work("train max_iters", max_iters as u64, gmm_core::budget::MAX_STEPS).or_raise()?;
    let width = match &data {
        TrainData::Gmm(g) => 2 * g.dim(),
        TrainData::Clip(c) => c.modality(Side::X).dim() + c.modality(Side::Y).dim(),
        TrainData::Pairs(x, y) => x.ncols() + y.ncols(),
    };
    if !matches!(data, TrainData::Pairs(..)) {
        // The pairs, their preconditioned copies and the solver's buffers.
        budget(&format!("train(samples={samples})"), &[samples, width, 4])?;
    }
    match (method, data) {
        ("infonce", TrainData::Clip(_)) | ("clip", TrainData::Gmm(_)) => Err(PyValueError::new_err(
            "train: method 'infonce' takes a Gmm or pairs; method 'clip' takes a ClipGmm or pairs (x, y)",
        )),
        ("infonce", data) => {
            let (x, x_plus, default_dim) = match data {
                TrainData::Gmm(g) => {
                    let p = py.detach(|| g.sample_pairs(samples, delta, &mut seeded(pairs_seed))).or_raise()?;
                    (p.x, p.x_plus, g.k().saturating_sub(1).max(1))
                }
                TrainData::Pairs(x, y) => (x, y, 1),
                TrainData::Clip(_) => unreachable!("rejected above"),
            };
            let r = dim.unwrap_or(default_dim);
            hyper.set_item("dim", r)?;
            let fit = InfoNce::new(r)
                .tau(tau)
                .form(form)
                .score(score)
                .batch(batch)
                .centering(centering)
                .whitening(whitening)
                .solver(solver)
                .seed(seed);
            let fitted = interruptible(py, |observer| fit.fit_with((&x, &x_plus), observer))?;
            train_result(py, array2(py, fitted.map.components()).unbind(), None, fitted.run, hyper)
        }
        ("clip", data) => {
            let (x, y, default_dim) = match data {
                TrainData::Clip(c) => {
                    let p = py.detach(|| c.sample_pairs(samples, &mut seeded(pairs_seed))).or_raise()?;
                    (p.x, p.y, c.weights().len().saturating_sub(1).max(1))
                }
                TrainData::Pairs(x, y) => (x, y, 1),
                TrainData::Gmm(_) => unreachable!("rejected above"),
            };
            let r = dim.unwrap_or(default_dim);
            hyper.set_item("dim", r)?;
            let fit = Clip::new(r).tau(tau).batch(batch).solver(solver).seed(seed);
            let fitted = interruptible(py, |observer| fit.fit_with((&x, &y), observer))?;
            let y = Some(array2(py, fitted.map_y.components()).unbind());
            train_result(py, array2(py, fitted.map_x.components()).unbind(), y, fitted.run, hyper)
        }
        (other, _) => Err(PyValueError::new_err(format!("train: unknown method '{other}' (infonce or clip)"))),
    }
}
