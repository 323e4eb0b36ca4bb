//! The losses and their gradients on NumPy batches: InfoNCE, SimSiam, CLIP and population
//! InfoNCE, in a per-thread workspace.

use gmm_core::seeded;
use nalgebra::DMatrix;
use numpy::PyArray2;
use pyo3::prelude::*;
use ssl_losses::{Batch, LossError, Objective};

use crate::convert::{array2, copy_pair, matrix, parse, seed_of};
use crate::errors::{OrRaise, budget};
use crate::models::PyGmm;

/// The per-thread workspace of the loss functions: the last loss built (with its buffers, sized
/// by the last batch) and the last batch's copies, so that repeated calls with one setting and
/// one size allocate nothing new. It holds no state a result depends on.
struct Workspace {
    key: String,
    objective: Option<Box<dyn Objective + Send>>,
    left: DMatrix<f64>,
    right: DMatrix<f64>,
}

thread_local! {
    static WORKSPACE: std::cell::RefCell<Workspace> = std::cell::RefCell::new(Workspace {
        key: String::new(),
        objective: None,
        left: DMatrix::zeros(0, 0),
        right: DMatrix::zeros(0, 0),
    });
}

/// Loss and gradients at `params` on the batch `(left, right)` of the objective described by
/// `key` (built by `make` unless it is the last one used on this thread), without the GIL.
pub(crate) fn value_grad(
    py: Python<'_>,
    key: String,
    make: impl FnOnce() -> PyResult<Box<dyn Objective + Send>>,
    params: &[DMatrix<f64>],
    (left, right): (&Bound<'_, PyAny>, &Bound<'_, PyAny>),
    names: (&str, &str),
) -> PyResult<(f64, Vec<DMatrix<f64>>)> {
    WORKSPACE.with_borrow_mut(|ws| {
        if ws.objective.is_none() || ws.key != key {
            ws.objective = Some(make()?);
            ws.key = key;
        }
        copy_pair((left, right), names, (&mut ws.left, &mut ws.right))?;
        let Workspace { objective: Some(objective), left, right, .. } = ws else { unreachable!("set above") };
        py.detach(|| {
            let mut grads: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
            let loss = objective.value_grad(params, Batch::new(left, right)?, &mut grads)?;
            Ok::<_, LossError>((loss, grads))
        })
        .or_raise()
    })
}

/// InfoNCE loss and its exact gradient ``dL/dA`` on a batch of pairs.
///
/// One-way dot form: ``L = (1/n) sum_i [-S_ii + log sum_j exp S_ij]`` with
/// ``S = (X A^T)(X+ A^T)^T / tau``: row ``i`` of ``x_plus`` is the positive of row ``i`` of
/// ``x``, the other rows its negatives.
///
/// Parameters
/// ----------
/// a : array-like, shape (r, d)
///     The linear encoder (rows are directions).
/// x, x_plus : array-like, shape (n, d)
///     Anchors and their positives.
/// tau : float
///     Temperature, positive.
/// form : str
///     ``"one-way"``, ``"symmetric"`` (mean of the row and column cross-entropies) or
///     ``"simclr"`` (NT-Xent over all ``2n`` embeddings).
/// score : str
///     ``"dot"`` or ``"cosine"``.
///
/// Returns
/// -------
/// loss : float
/// grad : numpy.ndarray, shape (r, d)
#[pyfunction]
#[pyo3(signature = (a, x, x_plus, tau = 1.0, form = "one-way", score = "dot"))]
pub(crate) fn infonce<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    tau: f64,
    form: &str,
    score: &str,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
    let (form, score): (ssl_losses::Form, ssl_losses::Score) = (parse(form)?, parse(score)?);
    let make = || Ok(Box::new(ssl_losses::InfoNceLoss::<f64>::new(tau, form, score).or_raise()?) as Box<_>);
    let key = format!("infonce {tau:e} {form:?} {score:?}");
    let params = [matrix(a, "a")?];
    let (value, grads) = value_grad(py, key, make, &params, (x, x_plus), ("x", "x_plus"))?;
    Ok((value, array2(py, &grads[0])))
}

/// The spectral contrastive loss (HaoChen et al. 2021) and its exact gradient ``dL/dA``.
///
/// With ``S = (X A^T)(X+ A^T)^T``: ``L = -(2/n) sum_i S_ii + (1/(n(n-1))) sum_{i != j} S_ij^2``,
/// an unbiased estimate of ``-2 tr(A K A^T) + ||A M A^T||_F^2`` (``K = E[x+ x^T]``,
/// ``M = E[x x^T]``), whose minimiser spans the Fisher subspace for centred pairs.
///
/// Parameters
/// ----------
/// a : array-like, shape (r, d)
///     The linear encoder.
/// x, x_plus : array-like, shape (n, d)
///     Anchors and their positives, ``n >= 2``.
///
/// Returns
/// -------
/// loss : float
/// grad : numpy.ndarray, shape (r, d)
#[pyfunction]
pub(crate) fn spectral_contrastive<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
    let make = || Ok(Box::new(ssl_losses::SpectralContrastiveLoss::<f64>::new()) as Box<_>);
    let params = [matrix(a, "a")?];
    let (value, grads) = value_grad(py, "spectral".into(), make, &params, (x, x_plus), ("x", "x_plus"))?;
    Ok((value, array2(py, &grads[0])))
}

/// A loss and the gradients of its two parameter blocks.
type TwoGrads<'py> = (f64, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);

/// SimSiam loss and its stop-gradient gradients in the encoder and the predictor.
///
/// ``L = (1/n) sum_i ||W A x_i - sg(A x+_i)||^2`` (``form="mse"``) or the negative cosine, the
/// target ``A x+`` under stop-gradient (a constant for differentiation).
///
/// Parameters
/// ----------
/// a : array-like, shape (r, d)
///     The encoder.
/// w : array-like, shape (r, r)
///     The predictor.
/// x, x_plus : array-like, shape (n, d)
///     The pairs.
/// form : str
///     ``"mse"`` or ``"neg-cosine"``.
/// directions : str
///     ``"one-way"`` or ``"symmetric"`` (the mean of both directions).
///
/// Returns
/// -------
/// loss : float
/// grad_a : numpy.ndarray, shape (r, d)
/// grad_w : numpy.ndarray, shape (r, r)
#[pyfunction]
#[pyo3(signature = (a, w, x, x_plus, form = "mse", directions = "symmetric"))]
pub(crate) fn simsiam<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    form: &str,
    directions: &str,
) -> PyResult<TwoGrads<'py>> {
    let (form, dirs): (ssl_losses::SimSiamForm, ssl_losses::Directions) = (parse(form)?, parse(directions)?);
    let make = || Ok(Box::new(ssl_losses::SimSiamLoss::<f64>::new(form, dirs)) as Box<_>);
    let key = format!("simsiam {form:?} {dirs:?}");
    let params = [matrix(a, "a")?, matrix(w, "w")?];
    let (value, grads) = value_grad(py, key, make, &params, (x, x_plus), ("x", "x_plus"))?;
    Ok((value, array2(py, &grads[0]), array2(py, &grads[1])))
}

/// CLIP loss, symmetric InfoNCE between modalities, and its gradients in both maps.
///
/// ``S = (X A^T)(Y B^T)^T / tau``; the loss is the mean of the row and the column
/// cross-entropies.
///
/// Parameters
/// ----------
/// a : array-like, shape (r, d_x)
///     The map of modality x.
/// b : array-like, shape (r, d_y)
///     The map of modality y.
/// x : array-like, shape (n, d_x)
/// y : array-like, shape (n, d_y)
///     Paired rows.
/// tau : float
///     Temperature, positive.
/// score : str
///     ``"dot"`` or ``"cosine"``.
///
/// Returns
/// -------
/// loss : float
/// grad_a : numpy.ndarray, shape (r, d_x)
/// grad_b : numpy.ndarray, shape (r, d_y)
#[pyfunction]
#[pyo3(signature = (a, b, x, y, tau = 1.0, score = "dot"))]
pub(crate) fn clip<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    tau: f64,
    score: &str,
) -> PyResult<TwoGrads<'py>> {
    let score: ssl_losses::Score = parse(score)?;
    let make = || Ok(Box::new(ssl_losses::ClipLoss::<f64>::new(tau, score).or_raise()?) as Box<_>);
    let key = format!("clip {tau:e} {score:?}");
    let params = [matrix(a, "a")?, matrix(b, "b")?];
    let (value, grads) = value_grad(py, key, make, &params, (x, y), ("x", "y"))?;
    Ok((value, array2(py, &grads[0]), array2(py, &grads[1])))
}

/// The population InfoNCE loss and gradient at ``a``.
///
/// The inner expectation (over positives and negatives) in closed form, the outer one over
/// ``n_outer`` anchors drawn from ``gmm``.
///
/// Parameters
/// ----------
/// gmm : Gmm
///     The mixture.
/// a : array-like, shape (r, d)
///     The map.
/// delta : float
///     Coupling of the pairs.
/// tau : float
///     Temperature.
/// n_outer : int
///     Anchors of the outer expectation.
/// seed : None, int or numpy.random.Generator
///     None draws fresh entropy.
///
/// Returns
/// -------
/// loss : float
/// grad : numpy.ndarray, shape (r, d)
#[pyfunction]
#[pyo3(signature = (gmm, a, delta = 1.0, tau = 1.0, n_outer = 4096, seed = None))]
pub(crate) fn population_infonce<'py>(
    py: Python<'py>,
    gmm: &PyGmm,
    a: &Bound<'_, PyAny>,
    delta: f64,
    tau: f64,
    n_outer: usize,
    seed: Option<&Bound<'_, PyAny>>,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
    let seed = seed_of(py, seed, "seed")?;
    let a = matrix(a, "a")?;
    gmm_core::check_at_least(n_outer, 1, "population_infonce n_outer").or_raise()?;
    budget(&format!("population_infonce(n_outer={n_outer})"), &[n_outer, gmm.inner.dim(), 2])?;
    let (value, grad) = py
        .detach(|| {
            let population = ssl_losses::PopulationInfoNceLoss::new(&gmm.inner, delta, tau)?;
            let anchors = gmm.inner.sample(n_outer, &mut seeded(seed)).x;
            population.value_grad_at(&a, &anchors)
        })
        .or_raise()?;
    Ok((value, array2(py, &grad)))
}
