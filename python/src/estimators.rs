//! The closed-form estimators (PCA, LDA, CCA on pairs, k-means), clustering metrics and
//! subspace angles.

use gmm_core::{Fit, LinearMap};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array1, array2, label_array, labels, matrix, row_space, seed_of};
use crate::errors::OrRaise;

/// A fitted linear map as a dict: `components` (rows), `mean`, and the named extras.
fn map_dict<'py>(py: Python<'py>, map: &LinearMap) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("components", array2(py, map.components()))?;
    d.set_item("mean", array1(py, map.mean().iter().copied().collect()))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, n_components))]
pub(crate) fn pca_fit<'py>(py: Python<'py>, x: &Bound<'_, PyAny>, n_components: usize) -> PyResult<Bound<'py, PyDict>> {
    let x = matrix(x, "X")?;
    let fit = py.detach(|| baselines::Pca::new(n_components).fit(&x)).or_raise()?;
    let d = map_dict(py, &fit.map)?;
    d.set_item("explained_variance", array1(py, fit.explained_variance))?;
    d.set_item("explained_variance_ratio", array1(py, fit.explained_variance_ratio))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, y, n_components = None))]
pub(crate) fn lda_fit<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    n_components: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, y) = (matrix(x, "X")?, labels(y, "y")?);
    let mut lda = baselines::Lda::new();
    if let Some(r) = n_components {
        lda = lda.n_components(r);
    }
    let fit = py.detach(|| lda.fit((&x, &y))).or_raise()?;
    let d = map_dict(py, &fit.map)?;
    d.set_item("eigenvalues", array1(py, fit.eigenvalues))?;
    d.set_item("explained_variance_ratio", array1(py, fit.explained_variance_ratio))?;
    d.set_item("class_means", array2(py, &fit.class_means))?;
    d.set_item("priors", array1(py, fit.priors))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, x_plus, n_components, ridge = 0.0))]
pub(crate) fn cca_pairs_fit<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    n_components: usize,
    ridge: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, x_plus) = (matrix(x, "X")?, matrix(x_plus, "X_plus")?);
    let fit = py.detach(|| baselines::CcaPairs::new(n_components).ridge(ridge).fit((&x, &x_plus))).or_raise()?;
    let d = map_dict(py, &fit.map)?;
    d.set_item("eigenvalues", array1(py, fit.eigenvalues))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, n_clusters, n_init = 10, max_iter = 300, tol = 1e-4, seed = None))]
pub(crate) fn kmeans_fit<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    n_clusters: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: Option<&Bound<'_, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let seed = seed_of(py, seed, "random_state")?;
    let x = matrix(x, "X")?;
    let km = baselines::KMeans::new(n_clusters).n_init(n_init).max_iter(max_iter).tol(tol).seed(seed);
    let fit = py.detach(|| km.fit(&x)).or_raise()?;
    let d = PyDict::new(py);
    d.set_item("labels", label_array(py, &fit.labels))?;
    d.set_item("cluster_centers", array2(py, &fit.cluster_centers))?;
    d.set_item("inertia", fit.inertia)?;
    d.set_item("n_iter", fit.n_iter)?;
    Ok(d)
}

/// Adjusted Rand index of two labelings (1: identical partitions; about 0: chance).
///
/// Parameters
/// ----------
/// truth, pred : array-like of int, shape (n,)
///     Two labelings of the same samples (non-negative integers).
///
/// Returns
/// -------
/// float
#[pyfunction]
pub(crate) fn ari(truth: &Bound<'_, PyAny>, pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    baselines::adjusted_rand_index(&labels(truth, "truth")?, &labels(pred, "pred")?).or_raise()
}

/// Normalized mutual information of two labelings (arithmetic normalisation, as scikit-learn's
/// default).
///
/// Parameters
/// ----------
/// truth, pred : array-like of int, shape (n,)
///     Two labelings of the same samples (non-negative integers).
///
/// Returns
/// -------
/// float
#[pyfunction]
pub(crate) fn nmi(truth: &Bound<'_, PyAny>, pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    baselines::normalized_mutual_info(&labels(truth, "truth")?, &labels(pred, "pred")?).or_raise()
}

/// Accuracy of the best one-to-one matching of predicted clusters to true classes (Hungarian).
///
/// Parameters
/// ----------
/// truth, pred : array-like of int, shape (n,)
///     Two labelings of the same samples (non-negative integers).
///
/// Returns
/// -------
/// float
#[pyfunction]
pub(crate) fn clustering_accuracy(truth: &Bound<'_, PyAny>, pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    baselines::clustering_accuracy(&labels(truth, "truth")?, &labels(pred, "pred")?).or_raise()
}

/// Principal angles between the row spaces of ``a`` and ``b``.
///
/// Parameters
/// ----------
/// a : array-like, shape (p, d)
/// b : array-like, shape (q, d)
///     Rows spanning the two subspaces (any basis).
///
/// Returns
/// -------
/// numpy.ndarray, shape (min(rank a, rank b),)
///     Radians, ascending.
#[pyfunction]
pub(crate) fn principal_angles<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (a, b) = (row_space(&matrix(a, "a")?)?, row_space(&matrix(b, "b")?)?);
    Ok(array1(py, a.principal_angles(&b).or_raise()?))
}

/// ``sin theta_max`` between the row spaces of ``a`` and ``b``.
///
/// For unequal dimensions it measures containment: how far the smaller subspace is from lying in
/// the larger one.
///
/// Parameters
/// ----------
/// a : array-like, shape (p, d)
/// b : array-like, shape (q, d)
///     Rows spanning the two subspaces (any basis).
///
/// Returns
/// -------
/// float
///     In ``[0, 1]``; 0 when they coincide (or one contains the other).
#[pyfunction]
pub(crate) fn sin_theta_max(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (a, b) = (row_space(&matrix(a, "a")?)?, row_space(&matrix(b, "b")?)?);
    a.sin_theta_max(&b).or_raise()
}
