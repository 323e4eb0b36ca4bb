//! `Augmentation`: the augmentation models of the verdict harness as a Python object (a base
//! pair, then noise or masks on either view), for `verdict` and for drawing view pairs.

use gmm_core::{Augmentation, NoiseShape, ViewTransform, seeded};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{matrix, pairs_dict, seed_of, to_json};
use crate::errors::{OrRaise, budget};
use crate::models::PyGmm;

/// How the two views of a pair are made: a base pair (coupled draws, or two copies of one
/// sample), then transforms on the anchor (``x``) and the positive (``x_plus``) view in order.
/// Immutable: every method returns a new augmentation.
///
/// Examples
/// --------
/// ``Augmentation.coupled(1.0)`` (the paper's model), ``Augmentation.identical().noise(variance=0.5)``
/// (additive isotropic noise on ``x_plus``), ``Augmentation.identical().noise(like_sigma=1.0)``,
/// ``Augmentation.identical().mask(0.5)``, ``Augmentation.identical().noise(variance=1.0, side="both")``.
#[pyclass(name = "Augmentation", module = "ssl_gmm", frozen)]
#[derive(Clone)]
pub(crate) struct PyAugmentation {
    pub(crate) inner: Augmentation,
}

fn then(inner: &Augmentation, t: ViewTransform, side: &str) -> PyResult<PyAugmentation> {
    let a = inner.clone();
    let inner = match side {
        "right" => a.then_right(t),
        "left" => a.then_left(t),
        "both" => a.then_both(t),
        other => return Err(PyValueError::new_err(format!("side must be 'right', 'left' or 'both', got '{other}'"))),
    }
    .or_raise()?;
    Ok(PyAugmentation { inner })
}

#[pymethods]
impl PyAugmentation {
    /// Coupled draws: ``x_plus`` from the same component as ``x`` with probability ``delta``.
    ///
    /// Parameters
    /// ----------
    /// delta : float
    ///     The coupling in ``[0, 1]``.
    ///
    /// Returns
    /// -------
    /// Augmentation
    #[staticmethod]
    #[pyo3(signature = (delta = 1.0))]
    fn coupled(delta: f64) -> PyResult<Self> {
        Ok(Self { inner: Augmentation::coupled(delta).or_raise()? })
    }

    /// Two copies of one sample (``x_plus = x``), to be transformed.
    ///
    /// Returns
    /// -------
    /// Augmentation
    #[staticmethod]
    fn identical() -> Self {
        Self { inner: Augmentation::identical() }
    }

    /// Adds Gaussian noise ``N(0, Sigma_aug)`` to a view; exactly one of the shapes.
    ///
    /// Parameters
    /// ----------
    /// variance : float or None
    ///     ``Sigma_aug = variance I``.
    /// like_sigma : float or None
    ///     ``Sigma_aug = like_sigma Sigma`` (the mixture's within-component covariance).
    /// covariance : array-like or None
    ///     A given ``(d, d)`` symmetric positive semi-definite matrix.
    /// side : str
    ///     ``"right"`` (``x_plus``, the default), ``"left"`` (``x``) or ``"both"`` (independent draws).
    ///
    /// Returns
    /// -------
    /// Augmentation
    #[pyo3(signature = (variance = None, like_sigma = None, covariance = None, side = "right"))]
    fn noise(
        &self,
        variance: Option<f64>,
        like_sigma: Option<f64>,
        covariance: Option<&Bound<'_, PyAny>>,
        side: &str,
    ) -> PyResult<Self> {
        let shape = match (variance, like_sigma, covariance.filter(|c| !c.is_none())) {
            (Some(v), None, None) => NoiseShape::Isotropic(v),
            (None, Some(c), None) => NoiseShape::LikeCovariance(c),
            (None, None, Some(m)) => NoiseShape::Given(matrix(m, "covariance")?),
            _ => return Err(PyValueError::new_err("noise: give exactly one of variance, like_sigma and covariance")),
        };
        then(&self.inner, ViewTransform::Noise(shape), side)
    }

    /// Masks a view: each coordinate kept with probability ``keep``, else set to 0.
    ///
    /// Parameters
    /// ----------
    /// keep : float
    ///     In ``(0, 1]``.
    /// side : str
    ///     ``"right"`` (the default), ``"left"`` or ``"both"``.
    ///
    /// Returns
    /// -------
    /// Augmentation
    #[pyo3(signature = (keep = 0.5, side = "right"))]
    fn mask(&self, keep: f64, side: &str) -> PyResult<Self> {
        then(&self.inner, ViewTransform::Mask { keep }, side)
    }

    /// ``n`` view pairs from ``gmm``.
    ///
    /// Parameters
    /// ----------
    /// gmm : Gmm
    ///     The mixture.
    /// n : int
    ///     Pairs.
    /// seed : None, int or numpy.random.Generator
    ///     None draws fresh entropy.
    ///
    /// Returns
    /// -------
    /// dict
    ///     ``{"x", "x_plus": (n, d) arrays, "z", "z_plus": (n,) labels}`` (the base pair's components).
    #[pyo3(signature = (gmm, n, seed = None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        gmm: PyRef<'_, PyGmm>,
        n: usize,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("Augmentation.sample({n})"), &[n, 2 * gmm.inner.dim() + 2, 2])?;
        let g = gmm.inner.clone();
        let p = py.detach(|| self.inner.sample(&g, n, &mut seeded(seed))).or_raise()?;
        pairs_dict(py, &p)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("Augmentation({})", to_json(&self.inner)?))
    }
}
