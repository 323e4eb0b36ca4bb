//! The models: `Gmm` and `ClipGmm`.

use gmm_core::{ClipGenerator, ClipGmm, Gmm, MixtureGenerator, Model, Side, seeded};
use numpy::{PyArray1, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array1, array2, from_json, label_array, matrix, pairs_dict, rows_of, seed_of, to_json, vector};
use crate::errors::{OrRaise, budget};

/// A shared-covariance Gaussian mixture: ``x = mu_z + Sigma^{1/2} g``, ``z ~ weights``.
///
/// Parameters
/// ----------
/// weights : array-like, shape (k,)
///     Component weights, positive, summing to 1.
/// means : array-like, shape (k, d)
///     One mean per row.
/// covariance : array-like, shape (d, d)
///     The shared covariance ``Sigma``, symmetric positive definite.
#[pyclass(name = "Gmm", module = "ssl_gmm", frozen)]
#[derive(Clone)]
pub(crate) struct PyGmm {
    pub(crate) inner: Gmm,
}

#[pymethods]
impl PyGmm {
    #[new]
    fn new(weights: &Bound<'_, PyAny>, means: &Bound<'_, PyAny>, covariance: &Bound<'_, PyAny>) -> PyResult<Self> {
        let w = vector(weights, "weights")?;
        let inner = Gmm::new(&w, matrix(means, "means")?, matrix(covariance, "covariance")?).or_raise()?;
        Ok(Self { inner })
    }

    /// A built-in model by name: a `Gmm`, or a `ClipGmm` for the CLIP presets.
    ///
    /// Parameters
    /// ----------
    /// name : str
    ///     e.g. ``"pca-trap"``, ``"anisotropic"``, ``"clip"`` (``ssl-gmm presets`` lists them).
    ///
    /// Returns
    /// -------
    /// Gmm or ClipGmm
    #[staticmethod]
    fn preset(py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match gmm_core::preset(name).or_raise()? {
            Model::Gmm(inner) => Ok(Py::new(py, Self { inner })?.into_any()),
            Model::Clip(inner) => Ok(Py::new(py, PyClipGmm { inner: *inner })?.into_any()),
        }
    }

    /// A random mixture (the generator of the claims' cases, docs/theory.md section 4).
    ///
    /// Means ``N(0, separation^2 I)``, centred (or shifted so that ``||Sigma^{-1/2} mu_bar|| =
    /// mean_offset``); equal weights unless ``unbalanced``; ``Sigma_0`` with eigenvalues log-spaced
    /// from 1 to ``condition`` in a random basis; with ``noise_direction = c`` a dominant noise
    /// direction orthogonal to the means, of variance ``c lambda_max(Sigma_0 + S_B)`` (``c >= 1``:
    /// PCA's counterexample).
    ///
    /// Parameters
    /// ----------
    /// k : int
    ///     Components, at least 2.
    /// d : int
    ///     Dimension, at least ``k - 1`` (``k`` with a noise direction).
    /// separation : float
    ///     Standard deviation of the means' entries.
    /// condition : float
    ///     Condition number of ``Sigma_0``, at least 1.
    /// noise_direction : float or None
    ///     The noise direction's variance factor ``c`` (None: no noise direction).
    /// unbalanced : bool
    ///     Random weights ``U[0.5, 1.5]`` normalised instead of equal ones.
    /// mean_offset : float
    ///     ``||Sigma^{-1/2} mu_bar||`` (0: centred, assumption A0).
    /// seed : None, int or numpy.random.Generator
    ///     None draws fresh entropy.
    ///
    /// Returns
    /// -------
    /// Gmm
    #[staticmethod]
    #[pyo3(signature = (k, d, separation = 1.0, condition = 1.0, noise_direction = None, unbalanced = false,
        mean_offset = 0.0, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn generate(
        py: Python<'_>,
        k: usize,
        d: usize,
        separation: f64,
        condition: f64,
        noise_direction: Option<f64>,
        unbalanced: bool,
        mean_offset: f64,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("Gmm.generate(d={d})"), &[d, d, 16])?;
        let generator = MixtureGenerator {
            k,
            d,
            separation,
            condition,
            noise_factor: noise_direction,
            balanced: !unbalanced,
            mean_offset,
        };
        Ok(Self { inner: py.detach(|| generator.generate(&mut seeded(seed))).or_raise()? })
    }

    /// A mixture from its JSON ``{"weights", "means", "covariance"}`` (as ``to_json`` writes it).
    ///
    /// Parameters
    /// ----------
    /// text : str
    ///     The JSON text.
    ///
    /// Returns
    /// -------
    /// Gmm
    ///
    /// Raises
    /// ------
    /// ValueError
    ///     Malformed JSON or invalid parameters, naming the field.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self { inner: from_json(text, "mixture")? })
    }

    /// The parameters as JSON; floats round-trip exactly (``from_json`` reads it back).
    fn to_json(&self) -> PyResult<String> {
        to_json(&self.inner)
    }

    #[getter]
    fn k(&self) -> usize {
        self.inner.k()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        array1(py, self.inner.weights().iter().copied().collect())
    }

    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        array2(py, self.inner.means())
    }

    #[getter]
    fn covariance<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        array2(py, self.inner.covariance())
    }

    /// The Fisher subspace ``F = range(Sigma^{-1} S_B)``, ``S_B = sum_k w_k (mu_k - mu)(mu_k - mu)^T``,
    /// as orthonormal rows (``dim F x d``; ``dim F = rank S_B <= k - 1``).
    fn fisher_subspace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(array2(py, &rows_of(&self.inner.fisher_subspace().or_raise()?)))
    }

    /// Population PCA: the top-``r`` eigenvectors of the total covariance ``Sigma + S_B``.
    ///
    /// Parameters
    /// ----------
    /// r : int
    ///     Directions, ``1 <= r <= d``.
    ///
    /// Returns
    /// -------
    /// numpy.ndarray, shape (r, d)
    ///     Orthonormal rows.
    fn pca_subspace<'py>(&self, py: Python<'py>, r: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(array2(py, &rows_of(&self.inner.pca_subspace(r).or_raise()?)))
    }

    /// The Bayes posterior ``p(z = k | x)`` of each row of ``x``.
    ///
    /// Parameters
    /// ----------
    /// x : array-like, shape (n, d)
    ///     Samples, one per row.
    ///
    /// Returns
    /// -------
    /// numpy.ndarray, shape (n, k)
    ///     Rows summing to 1.
    fn posterior<'py>(&self, py: Python<'py>, x: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = matrix(x, "x")?;
        let p = py.detach(|| self.inner.posterior(&x)).or_raise()?;
        Ok(array2(py, &p))
    }

    /// ``n`` draws ``x = mu_z + Sigma^{1/2} g``, ``z ~ weights``.
    ///
    /// Parameters
    /// ----------
    /// n : int
    ///     Samples.
    /// seed : None, int or numpy.random.Generator
    ///     None draws fresh entropy.
    ///
    /// Returns
    /// -------
    /// dict
    ///     ``{"x": (n, d) array, "z": (n,) int64 labels}``.
    #[pyo3(signature = (n, seed = None))]
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("sample({n})"), &[n, self.inner.dim() + 1, 2])?;
        let s = py.detach(|| self.inner.sample(n, &mut seeded(seed)));
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &s.x))?;
        d.set_item("z", label_array(py, &s.z))?;
        Ok(d)
    }

    /// ``n`` augmentation pairs with coupling ``delta``.
    ///
    /// The positive keeps the anchor's component with probability ``delta``, else draws an
    /// independent one; both views are fresh draws of their components.
    ///
    /// Parameters
    /// ----------
    /// n : int
    ///     Pairs.
    /// delta : float
    ///     Coupling in ``[0, 1]``.
    /// seed : None, int or numpy.random.Generator
    ///     None draws fresh entropy.
    ///
    /// Returns
    /// -------
    /// dict
    ///     ``{"x", "x_plus": (n, d) arrays, "z", "z_plus": (n,) labels}``.
    #[pyo3(signature = (n, delta, seed = None))]
    fn sample_pairs<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        delta: f64,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("sample_pairs({n})"), &[n, 2 * self.inner.dim() + 2, 2])?;
        let p = py.detach(|| self.inner.sample_pairs(n, delta, &mut seeded(seed))).or_raise()?;
        pairs_dict(py, &p)
    }

    /// Pickles as its JSON (`from_json(to_json())`, exact: floats round-trip).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().getattr("from_json")?, (slf.get().to_json()?,)))
    }

    /// Equal parameters (every entry exactly).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Gmm(k={}, dim={})", self.inner.k(), self.inner.dim())
    }
}

/// A two-modality CLIP-GMM: ``x`` and ``y`` share the component ``z`` (``ClipGmm.preset``,
/// ``ClipGmm.generate`` or ``ClipGmm.from_json`` make one).
#[pyclass(name = "ClipGmm", module = "ssl_gmm", frozen)]
#[derive(Clone)]
pub(crate) struct PyClipGmm {
    pub(crate) inner: ClipGmm,
}

pub(crate) fn side(name: &str) -> PyResult<Side> {
    match name {
        "x" => Ok(Side::X),
        "y" => Ok(Side::Y),
        other => Err(PyValueError::new_err(format!("side must be 'x' or 'y', got '{other}'"))),
    }
}

#[pymethods]
impl PyClipGmm {
    /// A built-in two-modality model by name.
    ///
    /// Parameters
    /// ----------
    /// name : str
    ///     e.g. ``"clip"``.
    ///
    /// Returns
    /// -------
    /// ClipGmm
    #[staticmethod]
    fn preset(name: &str) -> PyResult<Self> {
        match gmm_core::preset(name).or_raise()? {
            Model::Clip(inner) => Ok(Self { inner: *inner }),
            Model::Gmm(_) => Err(PyValueError::new_err(format!(
                "preset '{name}' is a one-modality mixture: use Gmm.preset (CLIP presets: clip)"
            ))),
        }
    }

    /// A random CLIP-GMM (the generator of claim C10's cases).
    ///
    /// Parameters
    /// ----------
    /// k : int
    ///     Shared components, at least 2.
    /// k_private : int
    ///     Private components per modality, at least 1.
    /// d_x, d_y : int
    ///     The modalities' dimensions, each at least ``k - 1 + k_private - 1``.
    /// separation : float
    ///     Standard deviation of the shared means' entries.
    /// private_separation : float
    ///     Standard deviation of the private means' entries.
    /// condition : float
    ///     Condition number of both covariances (random bases).
    /// orthogonal : bool
    ///     Private means satisfying C10's Sigma-orthogonality condition.
    /// seed : None, int or numpy.random.Generator
    ///     None draws fresh entropy.
    ///
    /// Returns
    /// -------
    /// ClipGmm
    #[staticmethod]
    #[pyo3(signature = (k, k_private, d_x, d_y, separation = 1.0, private_separation = 1.0, condition = 10.0,
        orthogonal = true, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn generate(
        py: Python<'_>,
        k: usize,
        k_private: usize,
        d_x: usize,
        d_y: usize,
        separation: f64,
        private_separation: f64,
        condition: f64,
        orthogonal: bool,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seed = seed_of(py, seed, "seed")?;
        let d = d_x.max(d_y);
        budget(&format!("ClipGmm.generate(d_x={d_x}, d_y={d_y})"), &[d, d, 32])?;
        let generator = ClipGenerator { k, k_private, d_x, d_y, separation, private_separation, condition, orthogonal };
        Ok(Self { inner: py.detach(|| generator.generate(&mut seeded(seed))).or_raise()? })
    }

    /// A CLIP-GMM from its JSON ``{"weights", "x", "y"}`` (as ``to_json`` writes it).
    ///
    /// Parameters
    /// ----------
    /// text : str
    ///     The JSON text.
    ///
    /// Returns
    /// -------
    /// ClipGmm
    ///
    /// Raises
    /// ------
    /// ValueError
    ///     Malformed JSON or invalid parameters, naming the field.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self { inner: from_json(text, "CLIP-GMM")? })
    }

    /// The parameters as JSON; floats round-trip exactly (``from_json`` reads it back).
    fn to_json(&self) -> PyResult<String> {
        to_json(&self.inner)
    }

    #[getter]
    fn k(&self) -> usize {
        self.inner.weights().len()
    }

    #[getter]
    fn dims(&self) -> (usize, usize) {
        (self.inner.modality(Side::X).dim(), self.inner.modality(Side::Y).dim())
    }

    /// The shared Fisher subspace of one modality.
    ///
    /// Parameters
    /// ----------
    /// side_name : str
    ///     ``"x"`` or ``"y"``.
    ///
    /// Returns
    /// -------
    /// numpy.ndarray, shape (k - 1, d_side)
    ///     Orthonormal rows.
    fn fisher_subspace<'py>(&self, py: Python<'py>, side_name: &str) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let g = self.inner.shared_gmm(side(side_name)?).or_raise()?;
        Ok(array2(py, &rows_of(&g.fisher_subspace().or_raise()?)))
    }

    /// ``n`` CLIP pairs sharing their component ``z``.
    ///
    /// Parameters
    /// ----------
    /// n : int
    ///     Pairs.
    /// seed : None, int or numpy.random.Generator
    ///     None draws fresh entropy.
    ///
    /// Returns
    /// -------
    /// dict
    ///     ``{"x": (n, d_x), "y": (n, d_y) arrays, "z": (n,) labels}``.
    #[pyo3(signature = (n, seed = None))]
    fn sample_pairs<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        let (dx, dy) = self.dims();
        budget(&format!("sample_pairs({n})"), &[n, dx + dy + 3, 2])?;
        let p = py.detach(|| self.inner.sample_pairs(n, &mut seeded(seed))).or_raise()?;
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &p.x))?;
        d.set_item("y", array2(py, &p.y))?;
        d.set_item("z", label_array(py, &p.z))?;
        Ok(d)
    }

    /// Pickles as its JSON (`from_json(to_json())`, exact: floats round-trip).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().getattr("from_json")?, (slf.get().to_json()?,)))
    }

    /// Equal parameters (every entry exactly).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        let (dx, dy) = self.dims();
        format!("ClipGmm(k={}, dims=({dx}, {dy}))", self.k())
    }
}
